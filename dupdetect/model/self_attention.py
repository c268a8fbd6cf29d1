"""Intra-text self-attention after the encoder (model.self_attention)."""

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


class SelfAttention(nn.Module):
    """x_i + Σ_j softmax_j(q(x_i) · k(x_j) / √D) v(x_j), j over the real tokens of x_i's text.

    (B, L, D) inputs, (B, L) mask -> (B, L, D). Each token also sees its own text as a whole,
    beyond what the BiLSTM carries along the sequence, as the intra-sentence attention of
    Parikh et al. (2016) does; one head, added to its input so the width stays D and every
    later stage is unchanged. Each text attends only within itself, so the pair's symmetry is
    untouched. Rows at padding are not zeroed: no later stage reads them (keys are masked,
    the LSTMs never run from padding into text, pooling is masked).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv = QueryKeyValue(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x)  # (B, L, D) each
        e = (q @ k.transpose(1, 2)) * self.qkv.scale  # (B, L, L)
        return x + masked_softmax(e, mask.unsqueeze(1)) @ v  # (B, L, D)
