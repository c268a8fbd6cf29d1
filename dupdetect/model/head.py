"""Classification head that is symmetric in its two inputs by construction."""

from __future__ import annotations

import torch
from torch import nn


class SymmetricHead(nn.Module):
    """(B, D) twice -> (B,) logit of P(duplicate).

    Features [v_a + v_b; |v_a − v_b|; v_a ⊙ v_b] are unchanged when a and b swap (each is
    commutative in floating point too), so head(v_a, v_b) == head(v_b, v_a) exactly.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(3 * dim, hidden),
            nn.Tanh(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, v_a: torch.Tensor, v_b: torch.Tensor) -> torch.Tensor:
        features = torch.cat([v_a + v_b, (v_a - v_b).abs(), v_a * v_b], dim=-1)  # (B, 3D)
        return self.mlp(features).squeeze(-1)  # (B,)
