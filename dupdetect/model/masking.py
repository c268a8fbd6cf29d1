"""All masking lives here. A mask is a bool tensor, True for real tokens, False for padding.

Masked positions are filled with ``torch.finfo(dtype).min`` (never a hand-picked constant),
so that after softmax or max they contribute exactly nothing.
"""

from __future__ import annotations

import torch


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over `dim` ignoring positions where `mask` is False (mask broadcasts)."""
    return torch.softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=dim)


def zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, L, D) with 0 wherever mask (B, L) is False."""
    return x.masked_fill(~mask.unsqueeze(-1), 0.0)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: x (B, L, D), mask (B, L) -> (B, D); 0 for a row with none."""
    total = zero_padding(x, mask).sum(1)  # (B, D)
    return total / mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over real tokens: x (B, L, D), mask (B, L) -> (B, D); 0 for a row with none."""
    m = mask.unsqueeze(-1)  # (B, L, 1)
    best = x.masked_fill(~m, torch.finfo(x.dtype).min).max(1).values  # (B, D)
    return best.masked_fill(~m.any(1), 0.0)


def reverse_within_length(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Reverse each row's real tokens in place, keeping right-padding where it is.

    x (B, L, D), mask (B, L) with every row's True values first. Applying it twice gives x
    back. This lets a forward-running LSTM act as the backward direction of a BiLSTM without
    ever reading padding, which ``nn.LSTM(bidirectional=True)`` does on padded batches.
    """
    length = mask.sum(1, keepdim=True)  # (B, 1)
    pos = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, L)
    index = torch.where(pos < length, length - 1 - pos, pos)  # (B, L)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))  # (B, L, D)
