"""Lexical-overlap features computed from token ids (DIIN, RE2; MT metrics for paraphrase).

Cheap, strong signals for duplicate detection that attention has to rediscover otherwise.
[PAD] and [UNK] never count as a match: two unknown words are not known to be equal.
"""

from __future__ import annotations

import torch

from dupdetect.model.masking import masked_mean
from dupdetect.tokenizer import UNK_ID

N_OVERLAP_FEATURES = 5


def token_matches(a_ids: torch.Tensor, b_ids: torch.Tensor) -> torch.Tensor:
    """(B, La), (B, Lb) -> (B, La, Lb) bool: a_ids[b, i] == b_ids[b, j], a known token.

    Built once per batch and read both ways: row i says whether a's token i occurs in b,
    column j whether b's token j occurs in a."""
    known = (b_ids > UNK_ID).unsqueeze(1)  # (B, 1, Lb)
    return (a_ids.unsqueeze(2) == b_ids.unsqueeze(1)) & known  # (B, La, Lb)


def synonym_matches(
    a_ids: torch.Tensor, b_ids: torch.Tensor, keys: torch.Tensor, vocab_size: int
) -> torch.Tensor:
    """(B, La), (B, Lb) -> (B, La, Lb) bool: a_ids[b, i] and b_ids[b, j] are WordNet synonyms.

    `keys` (P,) int64 holds i * vocab_size + j for every synonym pair (i, j) of the
    vocabulary, both orders (dupdetect/wordnet.py), so the matrix is symmetric in a and b."""
    pairs = a_ids.unsqueeze(2) * vocab_size + b_ids.unsqueeze(1)  # (B, La, Lb)
    return torch.isin(pairs, keys)  # (B, La, Lb)


def exact_match(same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, La, Lb) token matches -> (B, La, 1), (B, Lb, 1) float: 1 where a token of one
    text occurs in the other (or, given synonym_matches, has a synonym there)."""
    return same.any(2).unsqueeze(-1).float(), same.any(1).unsqueeze(-1).float()


def _share(found: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, L) bool found in the other text, (B, L) real-token mask -> (B,) share; 0 if none."""
    return masked_mean(found.unsqueeze(-1).float(), mask).squeeze(-1)  # (B,)


def overlap_features(
    same: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor
) -> torch.Tensor:
    """(B, La, Lb) token matches and the two texts' (B, La), (B, Lb) real-token masks ->
    (B, 5) features, unchanged when a and b swap: [min, max] of the two texts' unigram shares
    (tokens, not types, found in the other text), the same for bigrams, and the length ratio
    shorter / longer (BLEU-style precision and recall without an order between the texts)."""
    bigram = same[:, :-1, :-1] & same[:, 1:, 1:]  # (B, La-1, Lb-1): two tokens in a row
    uni_a, uni_b = _share(same.any(2), a_mask), _share(same.any(1), b_mask)  # (B,) each
    bi_a, bi_b = _share(bigram.any(2), a_mask[:, 1:]), _share(bigram.any(1), b_mask[:, 1:])
    len_a, len_b = a_mask.sum(1).float(), b_mask.sum(1).float()  # (B,) each
    ratio = torch.minimum(len_a, len_b) / torch.maximum(len_a, len_b).clamp(min=1)  # (B,)
    return torch.stack(
        [
            torch.minimum(uni_a, uni_b), torch.maximum(uni_a, uni_b),
            torch.minimum(bi_a, bi_b), torch.maximum(bi_a, bi_b), ratio,
        ],
        dim=-1,
    )  # (B, 5)  # fmt: skip
