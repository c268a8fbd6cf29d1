"""Token embedding: ids -> vectors, with the padding row fixed at zero."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.dropout import Dropout


class Embedding(nn.Module):
    """(B, L) token ids, 0 = [PAD] -> (B, L, E) vectors with dropout."""

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.dropout = Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.table(ids))  # (B, L, E)
