"""Lexical-overlap features computed from token ids (DIIN, RE2; MT metrics for paraphrase).

Cheap, strong signals for duplicate detection that attention has to rediscover otherwise.
[PAD] and [UNK] never count as a match: two unknown words are not known to be equal.
"""

from __future__ import annotations

import torch

from dupdetect.model.masking import masked_mean
from dupdetect.tokenizer import PAD_ID, UNK_ID

N_OVERLAP_FEATURES = 5


def _matches(ids: torch.Tensor, other_ids: torch.Tensor) -> torch.Tensor:
    """(B, L), (B, L') -> (B, L, L') bool: ids[b, i] == other_ids[b, j], a known token."""
    known = (other_ids > UNK_ID).unsqueeze(1)  # (B, 1, L')
    return (ids.unsqueeze(2) == other_ids.unsqueeze(1)) & known  # (B, L, L')


def exact_match(ids: torch.Tensor, other_ids: torch.Tensor) -> torch.Tensor:
    """(B, L), (B, L') token ids -> (B, L, 1) float: 1 where ids[b, i] occurs in other_ids[b]."""
    return _matches(ids, other_ids).any(2).unsqueeze(-1).float()  # (B, L, 1)


def _shares(ids: torch.Tensor, other_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Share of the text's unigrams and bigrams (tokens, not types) found in the other text.
    (B, L), (B, L') right-padded -> (B,), (B,); 0 for a text with no bigram."""
    same = _matches(ids, other_ids)  # (B, L, L')
    real = ids != PAD_ID  # (B, L)
    unigram = masked_mean(same.any(2).unsqueeze(-1).float(), real)  # (B, 1)
    bigram_same = same[:, :-1, :-1] & same[:, 1:, 1:]  # (B, L-1, L'-1): both tokens in a row
    bigram = masked_mean(bigram_same.any(2).unsqueeze(-1).float(), real[:, 1:])  # (B, 1)
    return unigram.squeeze(-1), bigram.squeeze(-1)  # (B,) each


def overlap_features(a_ids: torch.Tensor, b_ids: torch.Tensor) -> torch.Tensor:
    """(B, L), (B, L) right-padded ids -> (B, 5) features, unchanged when a and b swap:
    [min, max] of the two texts' unigram shares, the same for bigrams, and the length ratio
    shorter / longer (BLEU-style precision and recall without an order between the texts)."""
    uni_a, bi_a = _shares(a_ids, b_ids)  # (B,) each
    uni_b, bi_b = _shares(b_ids, a_ids)  # (B,) each
    len_a, len_b = (a_ids != PAD_ID).sum(1).float(), (b_ids != PAD_ID).sum(1).float()  # (B,) each
    ratio = torch.minimum(len_a, len_b) / torch.maximum(len_a, len_b).clamp(min=1)  # (B,)
    return torch.stack(
        [
            torch.minimum(uni_a, uni_b), torch.maximum(uni_a, uni_b),
            torch.minimum(bi_a, bi_b), torch.maximum(bi_a, bi_b), ratio,
        ],
        dim=-1,
    )  # (B, 5)  # fmt: skip
