"""Comparison of each token with its aligned counterpart (ESIM eq. 14-16)."""

from __future__ import annotations

import torch
from torch import nn


class Comparison(nn.Module):
    """[x; x̃; x − x̃; x ⊙ x̃] -> ReLU(W · dropout(·)): (B, L, D) twice -> (B, L, H)."""

    def __init__(self, dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Linear(4 * dim, out_dim)

    def forward(self, x: torch.Tensor, x_tilde: torch.Tensor) -> torch.Tensor:
        m = torch.cat([x, x_tilde, x - x_tilde, x * x_tilde], dim=-1)  # (B, L, 4D)
        return torch.relu(self.projection(self.dropout(m)))  # (B, L, H)
