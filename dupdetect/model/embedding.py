"""Token embedding: ids -> vectors, with the padding row fixed at zero."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.dropout import Dropout


class Embedding(nn.Module):
    """(B, L) token ids, 0 = [PAD] -> (B, L, E) vectors with dropout.

    With `words`, an id packs a character and the word it is part of, char + V * word
    (dupdetect/tokenizer.py), and the vector is the sum of the two rows of the one table
    (word 0 is [PAD]'s zero row: no word)."""

    def __init__(
        self, vocab_size: int, dim: int, dropout: float = 0.0, words: bool = False
    ) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.vocab_size, self.words = vocab_size, words

    def tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) ids -> (B, L) the token (character) ids alone, for masks and matching."""
        return ids % self.vocab_size if self.words else ids

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.table(self.tokens(ids))  # (B, L, E)
        if self.words:
            x = x + self.table(ids // self.vocab_size)  # (B, L, E)
        return self.dropout(x)  # (B, L, E)
