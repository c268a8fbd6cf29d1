"""Comparison of each token with its aligned counterpart (ESIM eq. 14-16)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from dupdetect.model.dropout import Dropout


class Comparison(nn.Module):
    """[x; x̃; x − x̃; x ⊙ x̃] -> ReLU(W · dropout(·)): (B, L, D) twice -> (B, L, H).

    Without dropout (eval mode) the 4D-wide features are never built: with W = [W₁ W₂ W₃ W₄]
    (one block per feature), W·[x; x̃; x − x̃; x ⊙ x̃] = (W₁ + W₃)·x + (W₂ − W₃)·x̃ + W₄·(x ⊙ x̃),
    a quarter fewer multiply-adds in the largest matrix product of the model.

    `dropout_on` says where training drops units. "features" (ESIM's way) masks each of the
    four features on its own, so training must build the 4D-wide form. The other two train
    on the folded form too (faster; measured in docs/results.md). "inputs" masks x and x̃
    before the features are formed (x − x̃ and x ⊙ x̃ then share their masks, and x ⊙ x̃ is
    zeroed with probability 1 − (1 − p)²). "folded" masks each of [x; x̃; x ⊙ x̃] on its
    own: ESIM's dropout except that x − x̃ is the difference of the masked x and x̃ rather
    than having a mask of its own. Eval is the same function in all three.
    """

    def __init__(
        self,
        dim: int,
        out_dim: int,
        dropout: float = 0.0,
        dropout_on: Literal["features", "inputs", "folded"] = "features",
    ) -> None:
        super().__init__()
        self.dropout = Dropout(dropout)
        self.dropout_on = dropout_on
        self.projection = nn.Linear(4 * dim, out_dim)

    def forward(self, x: torch.Tensor, x_tilde: torch.Tensor) -> torch.Tensor:
        drop = self.training and self.dropout.p > 0
        if drop and self.dropout_on == "features":
            m = torch.cat([x, x_tilde, x - x_tilde, x * x_tilde], dim=-1)  # (B, L, 4D)
            return torch.relu(self.projection(self.dropout(m)))  # (B, L, H)
        if drop and self.dropout_on == "inputs":
            x, x_tilde = self.dropout(x), self.dropout(x_tilde)  # independent masks
        m = torch.cat([x, x_tilde, x * x_tilde], dim=-1)  # (B, L, 3D)
        if drop and self.dropout_on == "folded":
            m = self.dropout(m)  # a mask for each of the three features
        return torch.relu(nn.functional.linear(m, self.folded_weight(), self.projection.bias))

    def folded_weight(self) -> torch.Tensor:
        """[W₁ + W₃, W₂ − W₃, W₄]: (H, 3D), the weight of [x; x̃; x ⊙ x̃]."""
        w1, w2, w3, w4 = self.projection.weight.chunk(4, dim=1)  # (H, D) each
        return torch.cat([w1 + w3, w2 - w3, w4], dim=1)  # (H, 3D)
