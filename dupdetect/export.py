"""Exporting a saved model to ONNX, and scoring pairs with ONNX Runtime.

    dupdetect export MODEL_DIR --format onnx [--int8]

writes ``model.onnx`` (and with ``--int8`` ``model.int8.onnx``) into the model directory,
beside ``model.safetensors``; ``config.json`` and ``tokenizer.json`` are shared, so the
directory stays self-describing. The graph takes a_ids (B, La) and b_ids (B, Lb) int64 with
every dimension dynamic and returns logits (B,). Each file records the SHA-256 of the
weights it came from, so a model retrained in place is never scored by a stale export.

Two things in the ESIM do not export faithfully with dynamic shapes on torch 2.13 (dynamo
exporter), and both are fixed here, in the export path, without touching the model maths:

- ``chunk(2)`` on the stacked (2B, ...) batch makes torch.export guard on
  ``(3B - 1) // B == 2``, which it cannot prove, so it silently fixes B to the example's
  batch size. During export ``chunk(2)`` of an even dimension is traced as
  ``unflatten(dim, (2, -1)).unbind(dim)``: the same two halves, as views.
- ``nn.LSTM`` loses the dynamic length: plain torch.export fixes L to the example's, and
  the ONNX exporter's while-loop decomposition gives its output length as ``7 * (L // 7)``
  for an example of length 7, so the graph fails in ONNX Runtime at most other lengths.
  During export each BiLSTM is replaced by one custom op with the same weights (in ONNX
  gate order) whose output shape is (B, L, 2H) by declaration, translated to one
  bidirectional ONNX ``LSTM`` node with ``sequence_lens``: its backward direction starts at
  each text's own last token, exactly what the model's reversal within length does, so the
  graph needs no reversing gathers and no concatenation (measured: int8 3,579 -> 3,986
  pairs/s, fp32 1,803 -> 1,924 on 2,560 LCQMC test pairs).

The comparison is exported in its folded eval form (dupdetect/model/comparison.py) with the
folded weight stored as one tensor, so the int8 quantiser still sees an initializer.

Every export is checked against the torch model on batch sizes and lengths unlike the
example's before it is kept; a mismatch is an ExportError, not a silently wrong file.
int8 uses ONNX Runtime's dynamic quantisation (weights int8, activations quantised at run
time, LSTMs as DynamicQuantizeLSTM); ``torch.ao.quantization.quantize_dynamic`` is
deprecated. Activation scales are taken per batch, so an int8 score also moves slightly with
its batch-mates (up to 0.02 in P(duplicate) on LCQMC dev); fp32 scores do not.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from dupdetect.batching import EncodedPairs, collate, inference_batches
from dupdetect.config import ModelConfig
from dupdetect.detector import WEIGHTS_FILE, DupDetector, ModelDirError
from dupdetect.evaluate import SCORING_BATCH
from dupdetect.model import ESIM
from dupdetect.model.comparison import Comparison
from dupdetect.model.encoder import BiLSTM
from dupdetect.model.masking import reverse_within_length, zero_padding

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
BACKEND_FILES = {"onnx": ONNX_FILE, "onnx-int8": INT8_FILE}
WEIGHTS_KEY = "dupdetect.weights_sha256"  # ONNX metadata: the weights the graph came from
INPUTS, OUTPUT = ("a_ids", "b_ids"), "logits"
TOLERANCE = 1e-4  # max |logit difference| an fp32 export may show against torch

log = logging.getLogger(__name__)


class ExportError(ValueError):
    """An export that cannot be made or checked, or a missing optional dependency."""


def _require_onnx() -> None:
    """Raise a one-line ExportError unless onnx, onnxscript and onnxruntime import."""
    for name in ("onnxruntime", "onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            raise ExportError(
                f"the ONNX backend needs {name}: pip install 'dupdetect[onnx]'"
            ) from None


def weights_digest(model_dir: Path) -> str:
    """SHA-256 of model.safetensors: ties an exported graph to the weights it holds."""
    digest = hashlib.sha256()
    with open(model_dir / WEIGHTS_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- export-time stand-ins (see the module docstring) ----------------------------------


# PyTorch stacks an LSTM's gates as i, f, g, o; ONNX as i, o, f, c (c = PyTorch's g).
TORCH_TO_ONNX_GATES = [0, 3, 1, 2]
ONNX_TO_TORCH_GATES = [0, 2, 3, 1]


def _reorder_gates(w: torch.Tensor, order: list[int]) -> torch.Tensor:
    """(4H, ...) gate blocks -> the same blocks in `order`."""
    blocks = w.unflatten(0, (4, -1))  # (4, H, ...)
    return blocks[order].flatten(0, 1)  # (4H, ...)


@torch.library.custom_op("dupdetect::onnx_bilstm", mutates_args=())
def _onnx_bilstm(
    x: torch.Tensor, lengths: torch.Tensor, w: torch.Tensor, r: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """The ONNX LSTM operator as dupdetect uses it, batch-first: bidirectional with
    sequence_lens (the backward direction starts at each text's own last token), one layer,
    zero initial state, weights in ONNX layout: x (B, L, D), lengths (B,), w (2, 4H, D),
    r (2, 4H, H), b (2, 8H) -> (B, L, 2H), 0 at padding. Computed with torch.lstm (eager
    runs only: tracing, and the checks of the export)."""
    hidden = r.shape[2]
    mask = torch.arange(x.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
    h0 = x.new_zeros(1, x.shape[0], hidden)  # (1, B, H)
    outs = []
    for d, inputs in enumerate((x, reverse_within_length(x, mask))):
        params = [
            _reorder_gates(t, ONNX_TO_TORCH_GATES) for t in (w[d], r[d], *b[d].split(4 * hidden))
        ]
        out, _, _ = torch.lstm(inputs, (h0, h0), params, True, 1, 0.0, False, False, True)
        outs.append(out if d == 0 else reverse_within_length(out, mask))  # (B, L, H)
    return zero_padding(torch.cat(outs, dim=-1), mask)  # (B, L, 2H)


@_onnx_bilstm.register_fake
def _(x, lengths, w, r, b):
    return x.new_empty(x.shape[0], x.shape[1], 2 * r.shape[2])  # (B, L, 2H), L stays symbolic


def _onnx_bilstm_to_onnx(x, lengths, w, r, b):  # onnxscript values, unannotated on purpose
    """`_onnx_bilstm` as one bidirectional ONNX LSTM node with sequence_lens; w, r and b stay
    initializers (so that the int8 quantiser can turn it into DynamicQuantizeLSTM)."""
    from onnxscript import opset18 as op

    y, _, _ = op.LSTM(
        op.Transpose(x, perm=[1, 0, 2]),  # (L, B, D)
        w, r, b, op.Cast(lengths, to=6),  # sequence_lens: int32
        hidden_size=r.shape[2], direction="bidirectional",
    )  # (L, 2, B, H)  # fmt: skip
    return op.Reshape(op.Transpose(y, perm=[2, 0, 1, 3]), [0, 0, -1])  # (B, L, 2H)


class _ExportBiLSTM(nn.Module):
    """Stands in for a BiLSTM during export: the same weights in ONNX layout, the same
    output, one custom op (one bidirectional ONNX LSTM node) with a declared output shape."""

    def __init__(self, bilstm: BiLSTM) -> None:
        super().__init__()
        weights = {"w": [], "r": [], "b": []}
        for lstm in (bilstm.forward_lstm, bilstm.backward_lstm):
            if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first:
                raise ExportError(f"cannot export {lstm}: only 1-layer, forward, batch-first")
            if not lstm.bias or lstm.proj_size:
                raise ExportError(f"cannot export {lstm}: needs biases and no projection")
            w, r, b_ih, b_hh = (
                _reorder_gates(t.detach(), TORCH_TO_ONNX_GATES)
                for t in (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
            )
            weights["w"].append(w)
            weights["r"].append(r)
            weights["b"].append(torch.cat([b_ih, b_hh]))
        self.register_buffer("w", torch.stack(weights["w"]))  # (2, 4H, D)
        self.register_buffer("r", torch.stack(weights["r"]))  # (2, 4H, H)
        self.register_buffer("b", torch.stack(weights["b"]))  # (2, 8H)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1)  # (B,)
        return torch.ops.dupdetect.onnx_bilstm(x, lengths, self.w, self.r, self.b)  # (B, L, 2H)


class _ExportComparison(nn.Module):
    """Stands in for a Comparison during export: its eval-mode (folded) maths with the folded
    weight stored as one tensor, so that the graph holds it as an initializer, which the int8
    quantiser needs to turn the MatMul into an integer one."""

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.register_buffer("w", comparison.folded_weight().detach())  # (H, 3D)
        self.register_buffer("b", comparison.projection.bias.detach().clone())  # (H,)

    def forward(self, x: torch.Tensor, x_tilde: torch.Tensor) -> torch.Tensor:
        m = torch.cat([x, x_tilde, x * x_tilde], dim=-1)  # (B, L, 3D)
        return torch.relu(nn.functional.linear(m, self.w, self.b))  # (B, L, H)


def exportable(model: ESIM) -> ESIM:
    """A copy of `model` with every BiLSTM replaced by `_ExportBiLSTM` and the Comparison by
    `_ExportComparison` (same outputs)."""
    model = copy.deepcopy(model).cpu().eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, BiLSTM):
                setattr(parent, name, _ExportBiLSTM(child))
            elif isinstance(child, Comparison):
                setattr(parent, name, _ExportComparison(child))
    return model


class _HalvesMode(TorchFunctionMode):
    """Traces ``chunk(2)`` of an even dimension as unflatten + unbind: the same halves,
    without the guard that would fix the batch size (see the module docstring)."""

    def __torch_function__(
        self, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if func in (torch.Tensor.chunk, torch.chunk):
            halves = _halves(*args, **kwargs)
            if halves is not None:
                return halves
        return func(*args, **kwargs)


def _halves(x: torch.Tensor, chunks: int, dim: int = 0) -> tuple[torch.Tensor, ...] | None:
    """x.chunk(2, dim) as views via unflatten; None when that is not what chunk would do."""
    if chunks != 2 or x.shape[dim] % 2 != 0:
        return None
    return tuple(x.unflatten(dim, (2, -1)).unbind(dim))  # 2 x (..., size / 2, ...)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's and quantiser's warnings and log lines (torchvision absent,
    deprecations, "pre-process before quantisation"): noise to a user exporting a model.
    Failures still raise."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


# --- export -------------------------------------------------------------------------


def _probe_ids(lengths: list[int], cfg: ModelConfig, seed: int) -> torch.Tensor:
    """Right-padded (B, max(lengths)) random ids in 1..vocab_size-1; with `cfg.words`,
    each also packs a random word (char + vocab_size * word, dupdetect/tokenizer.py)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, cfg.vocab_size, (n,), generator=g)
        if cfg.words:
            ids[i, :n] += cfg.vocab_size * torch.randint(0, cfg.vocab_size, (n,), generator=g)
    return ids


# The example fixes nothing (all dims are dynamic); the probes differ from it in batch size,
# in both lengths and in which text is longer, and include a single pair of length 1.
EXAMPLE = ([3, 5], [4, 2])
PROBES = [([1, 9, 4], [6, 2, 11]), ([7], [1]), ([1], [1]), ([2, 3, 12, 1, 5], [5, 1, 2, 8, 3])]


def _max_logit_error(model: ESIM, session: Any) -> float:
    """Largest |torch - ONNX| logit over the probe batches."""
    worst = 0.0
    for seed, (la, lb) in enumerate(PROBES):
        a, b = _probe_ids(la, model.config, seed), _probe_ids(lb, model.config, seed + 100)
        with torch.inference_mode():
            want = model(a, b).numpy()
        (got,) = session.run(None, {INPUTS[0]: a.numpy(), INPUTS[1]: b.numpy()})
        if got.shape != want.shape:
            raise ExportError(f"exported graph returns shape {got.shape}, expected {want.shape}")
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def _session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types, one per failure kind
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelDirError(f"{path}: cannot be read by ONNX Runtime: {first}") from None


def _export_graph(model: ESIM, target: Path, digest: str) -> None:
    """Export `model` to `target` (one self-contained file) with every dimension dynamic."""
    dim = torch.export.Dim
    batch = dim("batch")
    a, b = (_probe_ids(lengths, model.config, seed) for seed, lengths in enumerate(EXAMPLE))
    with _quiet(), _HalvesMode():
        program = torch.onnx.export(
            exportable(model),
            (a, b),
            dynamo=True,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_shapes={
                INPUTS[0]: {0: batch, 1: dim("la")},
                INPUTS[1]: {0: batch, 1: dim("lb")},
            },
            custom_translation_table={
                torch.ops.dupdetect.onnx_bilstm.default: _onnx_bilstm_to_onnx
            },
            external_data=False,
            verbose=False,
        )
    graph = program.model.graph
    for value in [*graph.inputs, *graph.outputs]:
        if any(isinstance(d, int) for d in value.shape):
            raise ExportError(f"export fixed a dimension of {value.name}: shape {value.shape}")
    for node in graph.all_nodes():  # stack traces and module paths of this machine
        node.metadata_props.clear()
    program.model.metadata_props[WEIGHTS_KEY] = digest
    program.save(target, external_data=False)


def _quantize(source: Path, target: Path) -> None:
    """int8 dynamic quantisation with ONNX Runtime: MatMul, Gemm, LSTM and Gather weights
    become int8; activations are quantised per batch at run time.

    Weights use 7 of the 8 bits (`reduce_range`). CPUs without VNNI (AVX2 only: most AMD
    Zen 1-3, older Intel) multiply uint8 by int8 with 16-bit intermediate sums that
    saturate at full range: on one such machine 8-bit weights put the tiny test model's
    scores 0.06-0.13 away from torch, 7-bit ones 0.001-0.016. The exported file may be
    served on any CPU, so it is always built the safe way.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, reduce_range=True)


def export_onnx(model_dir: str | Path, int8: bool = False) -> Path:
    """Export a saved model to MODEL_DIR/model.onnx (and model.int8.onnx with `int8`).

    Files are built in a scratch folder inside the model directory and replace an older
    export only after the fp32 graph matched torch on the probe batches. Returns the path
    of model.onnx.
    """
    root = Path(model_dir)
    detector = DupDetector.load(root, device="cpu")
    if detector.config.model.synonym_match:  # before the packages: installing them won't help
        raise ExportError(
            f"{root}: model.synonym_match is not exportable yet (its lookup, torch.isin, has "
            "no ONNX operator); score this model with the torch backend"
        )
    _require_onnx()
    model = detector.model
    digest = weights_digest(root)
    names = [ONNX_FILE, INT8_FILE] if int8 else [ONNX_FILE]
    try:
        scratch_dir = tempfile.TemporaryDirectory(prefix=".export-", dir=root)
    except OSError as e:
        raise ExportError(f"{root}: cannot write the export here: {e.strerror}") from None
    with scratch_dir as scratch:
        staged = [Path(scratch) / name for name in names]
        _export_graph(model, staged[0], digest)
        error = _max_logit_error(model, _session(staged[0]))
        if error > TOLERANCE:
            raise ExportError(
                f"the exported graph differs from the torch model by {error:.2e} in a logit "
                f"(tolerance {TOLERANCE:.0e}); not writing {root / ONNX_FILE}"
            )
        log.info(f"{ONNX_FILE}: max |logit - torch| {error:.2e} on the probe batches")
        if int8:
            _quantize(staged[0], staged[1])
            error = _max_logit_error(model, _session(staged[1]))
            log.info(f"{INT8_FILE}: max |logit - torch| {error:.2e} on the probe batches")
        for source, name in zip(staged, names, strict=True):
            os.replace(source, root / name)
    return root / ONNX_FILE


# --- scoring ------------------------------------------------------------------------


class OnnxScorer:
    """Scores encoded pairs with an exported graph in ONNX Runtime (CPU)."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        """`threads`: ONNX Runtime intra-op threads; None leaves its default (one per core)."""
        self.path = Path(path)
        self.session = _session(self.path, threads)

    def predict_proba(self, data: EncodedPairs, batch_size: int = SCORING_BATCH) -> np.ndarray:
        """P(duplicate) for every pair, in input order: (N,) float64.

        The same contract and batching as `dupdetect.evaluate.predict_proba` (length-sorted
        batches, sigmoid in float32), so the two backends can be compared pair by pair.
        """
        probs = np.empty(len(data), dtype=np.float64)
        for index in inference_batches(data.lengths(), batch_size):
            a, b, _ = collate(data, index)
            (logits,) = self.session.run(None, {INPUTS[0]: a.numpy(), INPUTS[1]: b.numpy()})
            probs[index] = torch.sigmoid(torch.from_numpy(logits)).numpy()  # (B,)
        return probs


def load_scorer(model_dir: str | Path, backend: str) -> OnnxScorer:
    """The ONNX Runtime scorer of `backend` ("onnx" or "onnx-int8") for a model directory:
    its exported file must exist and come from the directory's current weights."""
    root = Path(model_dir)
    path = root / BACKEND_FILES[backend]
    again = f"dupdetect export {root} --format onnx{' --int8' if backend == 'onnx-int8' else ''}"
    if not path.is_file():
        raise ModelDirError(f"{path}: missing; run {again} first")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError(
            f"backend {backend} needs onnxruntime: pip install 'dupdetect[onnx]'"
        ) from None
    scorer = OnnxScorer(path)
    exported_from = scorer.session.get_modelmeta().custom_metadata_map.get(WEIGHTS_KEY)
    if exported_from != weights_digest(root):
        raise ModelDirError(
            f"{path}: exported from other weights than {root / WEIGHTS_FILE}; run {again}"
        )
    return scorer
