"""Cross-attention alignment (ESIM's local inference, Chen et al. 2017, eq. 11-13)."""

from __future__ import annotations

import torch
from torch import nn

from dupdetect.model.masking import masked_softmax


class CrossAttention(nn.Module):
    """Re-express each token of one text as the attention-weighted sum of the other's.

    e_ij = a_i · b_j; ã_i = Σ_j softmax_j(e_ij) b_j and b̃_j = Σ_i softmax_i(e_ij) a_i,
    with padding masked out of both softmaxes. Parameter-free.
    """

    def forward(
        self, a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        e = a @ b.transpose(1, 2)  # (B, La, Lb)
        a_tilde = masked_softmax(e, b_mask.unsqueeze(1)) @ b  # (B, La, 2H)
        b_tilde = masked_softmax(e.transpose(1, 2), a_mask.unsqueeze(1)) @ a  # (B, Lb, 2H)
        return a_tilde, b_tilde
