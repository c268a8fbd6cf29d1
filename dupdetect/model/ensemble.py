"""Several matchers trained from different seeds, scored as one (model.members > 1).

Averaging the probabilities of independently trained networks is the oldest dependable gain
on small data (Hansen and Salamon 1990; ESIM's own best result is an ensemble). Each member
is an ordinary ESIM trained alone (dupdetect/train.py); the ensemble's output is the logit
of the members' mean probability, so it stands in for one ESIM wherever logits (B,) are
expected, and stays symmetric because each member is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dupdetect.config import ModelConfig
from dupdetect.model.matcher import ESIM


def mean_probability_logit(logits: torch.Tensor) -> torch.Tensor:
    """(K, B) member logits -> (B,) logit of the mean of their sigmoids.

    log p̄ - log(1 - p̄) with p̄ = mean_k σ(z_k), computed as a difference of log-sum-exps of
    log σ(z) and log σ(-z) (the 1/K cancels), so saturated members neither overflow nor
    round the mean to exactly 0 or 1.
    """
    log_p = torch.logsumexp(F.logsigmoid(logits), dim=0)  # (B,)
    log_not_p = torch.logsumexp(F.logsigmoid(-logits), dim=0)  # (B,)
    return log_p - log_not_p  # (B,)


class Ensemble(nn.Module):
    """`cfg.members` ESIMs of the same sizes; logits (B,) of their mean probability."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.members < 2:
            raise ValueError(f"an ensemble needs model.members >= 2, got {cfg.members}")
        self.config = cfg
        self.members = nn.ModuleList(ESIM(cfg) for _ in range(cfg.members))

    def forward(self, a_ids: torch.Tensor, b_ids: torch.Tensor) -> torch.Tensor:
        """a_ids (B, La), b_ids (B, Lb) -> logits (B,), as ESIM.forward."""
        logits = torch.stack([member(a_ids, b_ids) for member in self.members])  # (K, B)
        return mean_probability_logit(logits)  # (B,)


Matcher = ESIM | Ensemble


def build_model(cfg: ModelConfig) -> Matcher:
    """The model `cfg` describes: one ESIM, or an Ensemble when cfg.members > 1."""
    return Ensemble(cfg) if cfg.members > 1 else ESIM(cfg)
