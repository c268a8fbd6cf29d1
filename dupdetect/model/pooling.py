"""Masked mean and max pooling over the tokens of a text."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.masking import masked_max, masked_mean


class MeanMaxPool(nn.Module):
    """(B, L, D), (B, L) mask -> (B, 2D): [mean; max] over real tokens only."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([masked_mean(x, mask), masked_max(x, mask)], dim=-1)  # (B, 2D)
