"""Word dropout towards unseen words, for small training sets (train.rare_word_dropout).

A recipe whose vocabulary is every training word never meets an unseen word in training,
yet dev and test texts are full of them (on MRPC 5% of the dev tokens; in half of the dev
pairs the same unseen word is in both texts). Following Kiperwasser & Goldberg (2016), a
word seen c times in the training texts is replaced, while training, by what an unseen word
becomes at inference with probability alpha / (alpha + c): its hash bucket with
tokenizer.oov_buckets (so the two texts' copies still match each other), else [UNK]. Rare
words are dropped often, frequent ones almost never.

One draw per (pair, word): every occurrence of a word in both texts of a pair is replaced
or kept together, as an unseen word is unseen in both texts at once.
"""

from __future__ import annotations

import numpy as np
import torch
from tokenizers import Tokenizer

from dupdetect.batching import EncodedPairs
from dupdetect.tokenizer import PAD_ID, UNK_ID, oov_bucket


class RareWordDropout:
    """Maps a training batch's ids (B, L) to ids with rare words replaced, reproducibly
    from `seed` (its own generator: the global random state is left as it was)."""

    def __init__(
        self, data: EncodedPairs, tok: Tokenizer, oov_buckets: int, alpha: float, seed: int
    ) -> None:
        vocab = tok.get_vocab_size()  # the words; bucket ids follow them
        ids = np.fromiter((i for text in (*data.a, *data.b) for i in text), np.int64)
        counts = np.bincount(ids, minlength=vocab)[:vocab]  # (V,)
        p = np.zeros(vocab + oov_buckets)  # buckets are unseen words already: kept
        p[:vocab] = np.where(counts > 0, alpha / (alpha + np.maximum(counts, 1)), 0.0)
        p[[PAD_ID, UNK_ID]] = 0.0
        replacement = np.arange(vocab + oov_buckets)  # a bucket id stays itself
        replacement[:vocab] = (
            [oov_bucket(tok.id_to_token(i), vocab, oov_buckets) for i in range(vocab)]
            if oov_buckets
            else UNK_ID
        )
        self.p = torch.from_numpy(p).float()  # (V + buckets,) drop probability per id
        self.replacement = torch.from_numpy(replacement)  # (V + buckets,) id when dropped
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a_ids (B, La), b_ids (B, Lb) on the CPU -> the same shapes, some ids replaced.
        One uniform draw per pair and vocabulary id, B x (V + buckets) floats a step (MRPC's
        recipe: 32 x 14,485), which both texts read."""
        u = torch.rand(a.shape[0], len(self.p), generator=self.generator)  # (B, V) per pair, word
        return self._drop(a, u), self._drop(b, u)

    def _drop(self, ids: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        dropped = u.gather(1, ids) < self.p[ids]  # (B, L)
        return torch.where(dropped, self.replacement[ids], ids)  # (B, L)
