"""Fast CPU inference for a trained ESIM: the same scores with less work per pair.

The model in dupdetect/model is what training differentiates. `FastScorer` re-runs its maths
for inference only, rewritten so that less is computed; in fp32 nothing changes but the
order of float operations (scores agree with the model within 1e-5):

1. Encoder input gates by table lookup. Each encoder LSTM starts every step with
   W_ih · emb(t) + b, a (4H × E) product that depends on the token id alone. It is computed
   once per vocabulary entry when the scorer is built, (2, V, 4H) for the two directions,
   and gathered per token: a fifth of the model's multiply-adds gone.
2. Comparison folded: W·[x; x̃; x − x̃; x ⊙ x̃] = (W₁ + W₃)·x + (W₂ − W₃)·x̃ + W₄·(x ⊙ x̃),
   three blocks of weights instead of four.
3. No padding in the recurrences. Texts are sorted by their own length (not their pair's)
   and the LSTM step loop narrows to the texts still running, as packed sequences do, but
   without their CPU cost; both directions of a BiLSTM advance in one batched matmul.

With ``int8=True`` the matrix products of the LSTMs and the comparison run on int8 (VNNI)
through ``torch._int_mm``: weights quantised per output column, activations per row at run
time; LSTM states lie in (-1, 1) and use the fixed scale 1/127. Approximate: the scores move
a little and the accuracy cost is measured (docs/results.md), never assumed.

Layout in the recurrences: D = 2 directions, L steps, N texts sorted by length (longest
first), G = 4H gates ordered i, f, o, g (PyTorch's i, f, g, o with g moved last, so one
sigmoid covers the first 3H).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from dupdetect.batching import EncodedPairs, collate, inference_batches
from dupdetect.model import ESIM
from dupdetect.model.features import exact_match
from dupdetect.model.masking import masked_softmax
from dupdetect.model.matcher import PAD_ID, stack_pair

TORCH_TO_IFOG = [0, 1, 3, 2]  # PyTorch gate blocks i, f, g, o -> i, f, o, g


def _ifog(w: torch.Tensor) -> torch.Tensor:
    """(4H, ...) in PyTorch gate order -> the same blocks as i, f, o, g."""
    return w.unflatten(0, (4, -1))[TORCH_TO_IFOG].flatten(0, 1)


class Int8Weight:
    """A (K, M) weight as int8 with one scale per output column, for x (n, K) @ w."""

    def __init__(self, w: torch.Tensor) -> None:
        self.scale = w.abs().amax(0).clamp(min=1e-12) / 127.0  # (M,)
        self.q = torch.round(w / self.scale).to(torch.int8)  # (K, M)

    def matmul(self, x: torch.Tensor, x_scale: torch.Tensor | float | None = None) -> torch.Tensor:
        """x (n, K) float -> x @ w (n, M) float. `x_scale` None: per row, max |x| / 127."""
        if x_scale is None:
            x_scale = x.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127.0  # (n, 1)
        xq = torch.round(x / x_scale).to(torch.int8)  # (n, K)
        return torch._int_mm(xq, self.q) * (x_scale * self.scale)  # (n, M)


class Recurrence:
    """The h_{t-1} -> gates part of an LSTM step for D directions at once."""

    def __init__(self, w_hh: torch.Tensor, int8: bool) -> None:
        """w_hh (D, 4H, H), gates in i, f, o, g order."""
        self.w_t = w_hh.transpose(1, 2).contiguous()  # (D, H, 4H)
        self.q = [Int8Weight(w) for w in self.w_t] if int8 else None

    def add(self, gates_x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """gates_x (D, n, 4H) + h (D, n, H) @ W_hh^T -> (D, n, 4H)."""
        if self.q is None:
            return torch.baddbmm(gates_x, h, self.w_t)
        # |h| < 1 (o · tanh c), so a fixed scale of 1/127 loses nothing at the top.
        return gates_x + torch.stack(
            [q.matmul(h_d, 1 / 127) for q, h_d in zip(self.q, h, strict=True)]
        )


def run_lstm(gates_x: torch.Tensor, rec: Recurrence, active: list[int]) -> torch.Tensor:
    """gates_x (D, L, N, 4H) input gates per step (biases included), texts sorted longest
    first; active[t] = texts longer than t -> h (D, L, N, H), 0 after each text's end."""
    d, steps, n, g = gates_x.shape
    hidden = g // 4
    h = gates_x.new_zeros(d, n, hidden)  # (D, N, H)
    c = gates_x.new_zeros(d, n, hidden)  # (D, N, H)
    out = gates_x.new_zeros(d, steps, n, hidden)  # (D, L, N, H)
    for t, rows in enumerate(active):
        h, c = h[:, :rows], c[:, :rows]  # (D, n_t, H): finished texts drop out
        gates = rec.add(gates_x[:, t, :rows], h)  # (D, n_t, 4H)
        ifo = torch.sigmoid(gates[..., : 3 * hidden])  # (D, n_t, 3H)
        i, f, o = ifo.chunk(3, dim=-1)  # (D, n_t, H) each
        c = torch.addcmul(f * c, i, torch.tanh(gates[..., 3 * hidden :]))
        h = o * torch.tanh(c)
        out[:, t, :rows] = h
    return out


class Layout:
    """Where each text's tokens go in the time-major, length-sorted recurrence.

    For (N, L) texts (right-padded, mask True at real tokens): `index` (D, L, N) holds the
    flat position (row * L + column) read at step t by direction d: column t forwards, and
    column len - 1 - t backwards (reversed within the text's own length), rows sorted longest
    first. Padding reads its own position, which is never used for real tokens.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        n, steps = mask.shape
        lengths = mask.sum(1)  # (N,)
        order = torch.argsort(lengths, descending=True, stable=True)  # (N,)
        sorted_len = lengths[order]  # (N,)
        t = torch.arange(steps).unsqueeze(1)  # (L, 1)
        backward = torch.where(t < sorted_len, sorted_len - 1 - t, t)  # (L, N)
        rows = order * steps  # (N,)
        self.index = torch.stack([rows + t, rows + backward])  # (D, L, N)
        self.active = (sorted_len.unsqueeze(0) > t).sum(1).tolist()  # (L,) texts running
        self.shape = (n, steps)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, ...) per token -> (D, L, N, ...) in recurrence order."""
        return x.flatten(0, 1)[self.index]

    def scatter(self, h: torch.Tensor) -> torch.Tensor:
        """(D, L, N, H) recurrence output -> (N, L, 2H): [forward; backward], 0 at padding."""
        d, _, _, hidden = h.shape
        out = h.new_zeros(self.shape[0] * self.shape[1], d, hidden)  # (N·L, D, H)
        for k in range(d):
            out[self.index[k].flatten(), k] = h[k].flatten(0, 1)
        return out.view(*self.shape, d * hidden)  # (N, L, 2H)


class FastScorer:
    """Scores encoded pairs like `dupdetect.evaluate.predict_proba`, with less work (CPU).

    Built from a copy of a trained ESIM, so later changes to the model are not seen.
    Not differentiable.
    """

    def __init__(self, model: ESIM, int8: bool = False) -> None:
        model = copy.deepcopy(model).cpu().eval()
        self.pooling, self.head = model.pooling, model.head
        self.int8 = int8
        self.exact_match = model.config.exact_match
        emb = model.embedding.table.weight.detach()  # (V, E)
        e = emb.shape[1]
        with torch.no_grad():
            enc = [model.encoder.forward_lstm, model.encoder.backward_lstm]
            # (2, V, 4H): W_ih · emb(v) + b_ih + b_hh for every vocabulary entry v.
            self.gate_table = torch.stack(
                [
                    emb @ _ifog(m.weight_ih_l0[:, :e]).T + _ifog(m.bias_ih_l0 + m.bias_hh_l0)
                    for m in enc
                ]
            )
            self.em_column = (
                torch.stack([_ifog(m.weight_ih_l0[:, e]) for m in enc])
                if self.exact_match
                else None
            )  # (2, 4H): the exact-match input's weights
            self.enc_rec = Recurrence(torch.stack([_ifog(m.weight_hh_l0) for m in enc]), int8)
            w = model.comparison.projection.weight  # (H, 4·2H): blocks x, x̃, x − x̃, x ⊙ x̃
            w1, w2, w3, w4 = w.chunk(4, dim=1)
            self.cmp_w = torch.cat([w1 + w3, w2 - w3, w4], dim=1).T.contiguous()  # (6H, H)
            self.cmp_b = model.comparison.projection.bias.detach().clone()  # (H,)
            comp = [model.composition.forward_lstm, model.composition.backward_lstm]
            self.comp_w = torch.stack([_ifog(m.weight_ih_l0).T for m in comp])  # (2, H, 4H)
            self.comp_b = torch.stack([_ifog(m.bias_ih_l0 + m.bias_hh_l0) for m in comp]).unsqueeze(
                1
            )  # (2, 1, 4H)
            self.comp_rec = Recurrence(torch.stack([_ifog(m.weight_hh_l0) for m in comp]), int8)
        self.cmp_q = Int8Weight(self.cmp_w) if int8 else None
        self.comp_q = [Int8Weight(w) for w in self.comp_w] if int8 else None

    def _linear(self, x: torch.Tensor, w: torch.Tensor, q: Int8Weight | None) -> torch.Tensor:
        """x (n, K) @ w (K, M), in int8 when the scorer is."""
        return x @ w if q is None else q.matmul(x)

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor, layout: Layout) -> torch.Tensor:
        """(2B, L) ids -> encoder states (2B, L, 2H)."""
        v = self.gate_table.shape[1]
        offset = torch.tensor([0, v]).view(2, 1, 1)  # direction d reads rows d·V ..
        gates = self.gate_table.flatten(0, 1)[layout.gather(ids) + offset]  # (2, L, N, 4H)
        if self.em_column is not None:
            other = torch.cat(ids.chunk(2)[::-1])  # (2B, L): b rows, then a
            em = layout.gather(exact_match(ids, other))  # (2, L, N, 1)
            gates = gates + em * self.em_column.view(2, 1, 1, -1)
        return layout.scatter(run_lstm(gates, self.enc_rec, layout.active))  # (2B, L, 2H)

    def _compose(self, m: torch.Tensor, layout: Layout) -> torch.Tensor:
        """Comparison vectors (2B, L, H) -> composition states (2B, L, 2H)."""
        x = layout.gather(m)  # (2, L, N, H)
        d, steps, n, hidden = x.shape
        flat = x.view(d, steps * n, hidden)  # (2, L·N, H)
        if self.comp_q is None:
            gates = torch.baddbmm(self.comp_b, flat, self.comp_w)  # (2, L·N, 4H)
        else:
            gates = (
                torch.stack([q.matmul(f) for q, f in zip(self.comp_q, flat, strict=True)])
                + self.comp_b
            )
        gates = gates.view(d, steps, n, -1)  # (2, L, N, 4H)
        return layout.scatter(run_lstm(gates, self.comp_rec, layout.active))  # (2B, L, 2H)

    @torch.inference_mode()
    def logits(self, a_ids: torch.Tensor, b_ids: torch.Tensor) -> torch.Tensor:
        """a_ids (B, La), b_ids (B, Lb), right-padded int64 -> logits (B,), as ESIM.forward."""
        ids = stack_pair(a_ids, b_ids)  # (2B, L)
        mask = ids != PAD_ID  # (2B, L)
        layout = Layout(mask)
        x = self._encode(ids, mask, layout)  # (2B, L, 2H)
        a, b = x.chunk(2)  # (B, L, 2H) each
        a_mask, b_mask = mask.chunk(2)  # (B, L) each
        e = a @ b.transpose(1, 2)  # (B, L, L)
        a_tilde = masked_softmax(e, b_mask.unsqueeze(1)) @ b  # (B, L, 2H)
        b_tilde = masked_softmax(e.transpose(1, 2), a_mask.unsqueeze(1)) @ a  # (B, L, 2H)
        x_tilde = torch.cat([a_tilde, b_tilde])  # (2B, L, 2H)
        features = torch.cat([x, x_tilde, x * x_tilde], dim=-1)  # (2B, L, 6H)
        m = self._linear(features.flatten(0, 1), self.cmp_w, self.cmp_q) + self.cmp_b
        m = torch.relu(m).view(*mask.shape, -1)  # (2B, L, H)
        v = self.pooling(self._compose(m, layout), mask)  # (2B, 4H)
        v_a, v_b = v.chunk(2)  # (B, 4H) each
        return self.head(v_a, v_b)  # (B,)

    def predict_proba(self, data: EncodedPairs, batch_size: int = 256) -> np.ndarray:
        """P(duplicate) for every pair, in input order: (N,) float64."""
        probs = np.empty(len(data), dtype=np.float64)
        for index in inference_batches(data.lengths(), batch_size):
            a, b, _ = collate(data, index)
            probs[index] = torch.sigmoid(self.logits(a, b)).numpy()  # (B,)
        return probs
