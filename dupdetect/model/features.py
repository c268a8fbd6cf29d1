"""Exact-match features: does this token occur in the other text? (DIIN, RE2)

A cheap, strong signal for duplicate detection that attention has to rediscover otherwise.
[PAD] and [UNK] never count as a match: two unknown words are not known to be equal.
"""

from __future__ import annotations

import torch

from dupdetect.tokenizer import UNK_ID


def exact_match(ids: torch.Tensor, other_ids: torch.Tensor) -> torch.Tensor:
    """(B, L), (B, L') token ids -> (B, L, 1) float: 1 where ids[b, i] occurs in other_ids[b]."""
    known = (other_ids > UNK_ID).unsqueeze(1)  # (B, 1, L')
    same = ids.unsqueeze(2) == other_ids.unsqueeze(1)  # (B, L, L')
    return (same & known).any(2).unsqueeze(-1).float()  # (B, L, 1)
