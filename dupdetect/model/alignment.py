"""Cross-attention alignment (ESIM's local inference, Chen et al. 2017, eq. 11-13)."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.masking import masked_softmax


class ScoreValueMaps(nn.Module):
    """The learned maps of "projected" attention: x -> x + Δx, one for scores, one for values.

    Each Δ is D x D, no bias, and starts at zero, so an untrained "projected" alignment is
    exactly ESIM's dot attention, and weight decay pulls it back there rather than towards
    flat scores. Query and key share the score map: in a score symmetrised for the pair's
    sake, two maps that start equal get equal gradients and stay equal, so a second one would
    only double the weights. The score is thus a learned metric, e_ij = (S a_i) · (S b_j).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score_delta = nn.Linear(dim, dim, bias=False)
        self.value_delta = nn.Linear(dim, dim, bias=False)
        nn.init.zeros_(self.score_delta.weight)
        nn.init.zeros_(self.value_delta.weight)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.score_delta(x)  # (B, L, D)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.value_delta(x)  # (B, L, D)


class CrossAttention(nn.Module):
    """Re-express each token of one text as the attention-weighted sum of the other's.

    "dot" (ESIM, parameter-free): e_ij = a_i · b_j; ã_i = Σ_j softmax_j(e_ij) b_j and
    b̃_j = Σ_i softmax_i(e_ij) a_i, with padding masked out of both softmaxes.

    "projected" (model.attention): learned maps S and V (`ScoreValueMaps`),
    e_ij = (S a_i) · (S b_j), ã_i = Σ_j softmax_j(e_ij) V b_j, b̃_j = Σ_i softmax_i(e_ij) V a_i.
    Both texts go through the same maps, so swapping them transposes e exactly and
    score(a, b) == score(b, a) still holds bit for bit.
    """

    def __init__(self, dim: int = 0, projected: bool = False) -> None:
        super().__init__()
        self.maps = ScoreValueMaps(dim) if projected else None

    def forward(
        self, a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sa, sb = a, b
        if self.maps is not None:
            sa, sb = self.maps.score(a), self.maps.score(b)  # (B, La, D), (B, Lb, D)
            a, b = self.maps.value(a), self.maps.value(b)  # values replace a and b
        e = sa @ sb.transpose(1, 2)  # (B, La, Lb)
        a_tilde = masked_softmax(e, b_mask.unsqueeze(1)) @ b  # (B, La, D)
        b_tilde = masked_softmax(e.transpose(1, 2), a_mask.unsqueeze(1)) @ a  # (B, Lb, D)
        return a_tilde, b_tilde
