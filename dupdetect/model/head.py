"""Classification head that is symmetric in its two inputs by construction."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.dropout import Dropout


class SymmetricHead(nn.Module):
    """(B, D) twice, optionally (B, F) pair features -> (B,) logit of P(duplicate).

    Features [v_a + v_b; |v_a − v_b|; v_a ⊙ v_b] are unchanged when a and b swap (each is
    commutative in floating point too), so head(v_a, v_b) == head(v_b, v_a) exactly; the
    pair features must be symmetric themselves. Dropout acts on the learned vectors only:
    a handful of hand-made features would be dropped as noise.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, n_pair: int = 0) -> None:
        super().__init__()
        self.dropout = Dropout(dropout)
        self.hidden = nn.Linear(3 * dim + n_pair, hidden)
        self.out = nn.Sequential(nn.Tanh(), Dropout(dropout), nn.Linear(hidden, 1))

    def forward(
        self, v_a: torch.Tensor, v_b: torch.Tensor, pair: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self.dropout(torch.cat([v_a + v_b, (v_a - v_b).abs(), v_a * v_b], dim=-1))  # (B, 3D)
        if pair is not None:
            x = torch.cat([x, pair], dim=-1)  # (B, 3D + F)
        return self.out(self.hidden(x)).squeeze(-1)  # (B,)
