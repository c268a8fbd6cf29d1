"""The ESIM Siamese matcher, wired from one small module per stage.

Shape legend: B batch (pairs), L padded text length, E embedding size, H hidden size.
Both texts of a pair go through the same (shared) encoder and composition LSTMs; they are
stacked into one (2B, L) batch so that each LSTM runs once per batch instead of twice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dupdetect.config import ModelConfig
from dupdetect.model.alignment import CrossAttention
from dupdetect.model.comparison import Comparison
from dupdetect.model.composition import FeedForwardComposition
from dupdetect.model.embedding import Embedding
from dupdetect.model.encoder import BiLSTM
from dupdetect.model.features import (
    N_OVERLAP_FEATURES,
    exact_match,
    overlap_features,
    synonym_matches,
    token_matches,
)
from dupdetect.model.head import SymmetricHead
from dupdetect.model.pooling import MeanMaxPool
from dupdetect.model.self_attention import SelfAttention

PAD_ID = 0


def stack_pair(a_ids: torch.Tensor, b_ids: torch.Tensor) -> torch.Tensor:
    """(B, La), (B, Lb) right-padded ids -> (2B, L) with L = max(La, Lb): a rows, then b."""
    length = max(a_ids.shape[1], b_ids.shape[1])
    a_ids = F.pad(a_ids, (0, length - a_ids.shape[1]), value=PAD_ID)  # (B, L)
    b_ids = F.pad(b_ids, (0, length - b_ids.shape[1]), value=PAD_ID)  # (B, L)
    return torch.cat([a_ids, b_ids])  # (2B, L)


class ESIM(nn.Module):
    """Token ids of two texts -> logit of P(duplicate); score(a, b) == score(b, a)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size < 2:
            raise ValueError(
                f"model.vocab_size must be set from the tokenizer, got {cfg.vocab_size}"
            )
        self.config = cfg
        e, h = cfg.embedding_dim, cfg.hidden_size
        self.embedding = Embedding(cfg.vocab_size, e, cfg.embedding_dropout, cfg.words)
        self.encoder = BiLSTM(e + int(cfg.exact_match) + int(cfg.synonym_match), h)
        if cfg.synonym_match:  # (P,) int64 i * vocab_size + j, sorted; filled when training
            self.register_buffer("synonym_keys", torch.zeros(cfg.synonym_pairs, dtype=torch.long))
        self.self_attention = SelfAttention(2 * h) if cfg.self_attention else None
        self.alignment = CrossAttention(2 * h, projected=cfg.attention == "projected")
        self.comparison = Comparison(2 * h, h, cfg.dropout, cfg.comparison_dropout)
        composition = BiLSTM if cfg.composition == "lstm" else FeedForwardComposition
        self.composition = composition(h, h)
        self.pooling = MeanMaxPool()
        n_pair = N_OVERLAP_FEATURES if cfg.overlap_features else 0
        self.head = SymmetricHead(4 * h, cfg.head_hidden, cfg.dropout, n_pair)

    def forward(self, a_ids: torch.Tensor, b_ids: torch.Tensor) -> torch.Tensor:
        """a_ids (B, La), b_ids (B, Lb), int64, 0 = padding on the right -> logits (B,)."""
        ids = stack_pair(a_ids, b_ids)  # (2B, L)
        tokens = self.embedding.tokens(ids)  # (2B, L) without packed words (tokenizer.words)
        mask = tokens != PAD_ID  # (2B, L)
        a_mask, b_mask = mask.chunk(2)  # (B, L) each
        lexical = self.config.exact_match or self.config.overlap_features
        same = token_matches(*tokens.chunk(2)) if lexical else None  # (B, L, L)
        x = self.embedding(ids)  # (2B, L, E)
        if self.config.exact_match:
            x = torch.cat([x, torch.cat(exact_match(same))], dim=-1)  # (2B, L, E + 1)
        if self.config.synonym_match:
            near = synonym_matches(*tokens.chunk(2), self.synonym_keys, self.config.vocab_size)
            x = torch.cat([x, torch.cat(exact_match(near))], dim=-1)  # (2B, L, E + 1 or 2)
        x = self.encoder(x, mask)  # (2B, L, 2H)
        if self.self_attention is not None:
            x = self.self_attention(x, mask)  # (2B, L, 2H)
        a, b = x.chunk(2)  # (B, L, 2H) each
        a_tilde, b_tilde = self.alignment(a, b, a_mask, b_mask)  # (B, L, 2H) each
        m = self.comparison(x, torch.cat([a_tilde, b_tilde]))  # (2B, L, H)
        v = self.pooling(self.composition(m, mask), mask)  # (2B, 4H)
        v_a, v_b = v.chunk(2)  # (B, 4H) each
        pair = overlap_features(same, a_mask, b_mask) if self.config.overlap_features else None
        return self.head(v_a, v_b, pair)  # (B,); pair (B, 5) or None
