"""Cross-attention alignment (ESIM's local inference, Chen et al. 2017, eq. 11-13)."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.masking import masked_softmax


class QueryKeyValue(nn.Module):
    """Learned query, key and value maps of one attention head, D -> D each."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.scale = dim**-0.5  # 1/√D keeps the scores' spread independent of D

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.query(x), self.key(x), self.value(x)  # (B, L, D) each


class CrossAttention(nn.Module):
    """Re-express each token of one text as the attention-weighted sum of the other's.

    "dot" (ESIM, parameter-free): e_ij = a_i · b_j; ã_i = Σ_j softmax_j(e_ij) b_j and
    b̃_j = Σ_i softmax_i(e_ij) a_i, with padding masked out of both softmaxes.

    "projected" (model.attention): learned maps q, k, v (`QueryKeyValue`),
    e_ij = (q(a_i) · k(b_j) + k(a_i) · q(b_j)) / (2√D), ã_i = Σ_j softmax_j(e_ij) v(b_j),
    b̃_j = Σ_i softmax_i(e_ij) v(a_i). The score is symmetrised because q(a_i) · k(b_j) alone
    changes when the texts swap places; this way swapping them transposes e exactly, and
    score(a, b) == score(b, a) still holds bit for bit.
    """

    def __init__(self, dim: int = 0, projected: bool = False) -> None:
        super().__init__()
        self.qkv = QueryKeyValue(dim) if projected else None

    def forward(
        self, a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.qkv is None:
            e = a @ b.transpose(1, 2)  # (B, La, Lb)
        else:
            (qa, ka, a), (qb, kb, b) = self.qkv(a), self.qkv(b)  # values replace a and b
            e = qa @ kb.transpose(1, 2) + ka @ qb.transpose(1, 2)  # (B, La, Lb)
            e = e * (self.qkv.scale / 2)
        a_tilde = masked_softmax(e, b_mask.unsqueeze(1)) @ b  # (B, La, D)
        b_tilde = masked_softmax(e.transpose(1, 2), a_mask.unsqueeze(1)) @ a  # (B, Lb, D)
        return a_tilde, b_tilde
