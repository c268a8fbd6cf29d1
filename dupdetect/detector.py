"""A trained model as users hold it: weights, tokenizer, config and decision threshold.

A saved model is a directory, readable without running any code from it:

    config.json        the full Config of the run, plus the decision threshold
    tokenizer.json     the `tokenizers` vocabulary and normalisation
    model.safetensors  the weights (safetensors: plain tensors, no pickle)
    metrics.json       dev metrics of the saved checkpoint (written by training)
    model.onnx         optional, for backend="onnx": `dupdetect export` (dupdetect/export.py)
    model.int8.onnx    optional, for backend="onnx-int8": `dupdetect export --int8`
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer

from dupdetect import __version__
from dupdetect.batching import EncodedPairs
from dupdetect.config import Config, ConfigError, config_from_dict
from dupdetect.data import Pair
from dupdetect.device import resolve_device
from dupdetect.evaluate import SCORING_BATCH, predict_proba
from dupdetect.model import Matcher, build_model
from dupdetect.tokenizer import encode, load_tokenizer

if TYPE_CHECKING:
    from dupdetect.export import OnnxScorer

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
FORMAT_VERSION = 1
BACKENDS = ("torch", "onnx", "onnx-int8")  # onnx: model.onnx, onnx-int8: model.int8.onnx
# Weight names that changed within FORMAT_VERSION 1, old prefix -> new. The head was one
# nn.Sequential (Dropout, Linear, Tanh, Dropout, Linear) until pair features went in between
# its dropout and first Linear; the same Linears now sit at head.hidden and head.out[2].
RENAMED_KEYS = {"head.mlp.1.": "head.hidden.", "head.mlp.4.": "head.out.2."}


def _renamed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with the keys of models saved by earlier releases mapped to today's names."""
    out = {}
    for key, value in state.items():
        for old, new in RENAMED_KEYS.items():
            if key.startswith(old):
                key = new + key[len(old) :]
        out[key] = value
    return out


# safetensors metadata key: JSON {key: member 0's key} of an ensemble's tensors stored as
# their differences from member 0's: `<key>.row_index` (int64) and `<key>.rows`.
SAME_AS = "same_as"


def _dedupe(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Store an ensemble member's tensor as the rows (along dim 0) where it differs from
    member 0's, when that is at most half of them. A frozen embedding table is most of an
    ensemble's size and differs between members only in the randomly initialised rows of
    tokens without a vector ([UNK]). Returns the new state and {key: member 0's key}."""
    out, same = dict(state), {}
    for key, value in state.items():
        index, _, name = key.removeprefix("members.").partition(".")
        first = state.get(f"members.0.{name}")
        if not key.startswith("members.") or index == "0" or first is None or value.dim() == 0:
            continue
        if first.shape == value.shape and first.dtype == value.dtype:
            rows = (value != first).reshape(len(value), -1).any(1).nonzero()[:, 0]  # (D,)
            if len(rows) <= len(value) // 2:
                del out[key]
                out[f"{key}.row_index"], out[f"{key}.rows"] = rows, value[rows].contiguous()
                same[key] = f"members.0.{name}"
    return out, same


def _redupe(state: dict[str, torch.Tensor], same: dict[str, str]) -> dict[str, torch.Tensor]:
    """Undo `_dedupe`: member 0's tensor with the stored rows put back."""
    out = dict(state)
    for key, first in same.items():
        value = state[first].clone()
        value[out.pop(f"{key}.row_index")] = out.pop(f"{key}.rows")
        out[key] = value
    return out


class ModelDirError(ValueError):
    """A model directory that is missing, incomplete or corrupt; str() names the file."""


log = logging.getLogger("dupdetect")

# Pairs tokenised at a time when scoring (`encode_chunks`). Ids held as Python lists cost
# about 2.5 KiB a pair (LCQMC train: +584 MiB for 238,766 pairs), which would fill 24 GB at
# ~10^7 pairs if a file were encoded whole; a chunk of 50,000 costs ~140 MiB, and scoring
# (~0.4 ms a pair here) dwarfs the per-chunk overhead.
ENCODE_CHUNK = 50_000


def _write_atomic(path: Path, write: Any) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, value: Any) -> None:
    _write_atomic(path, lambda p: p.write_text(json.dumps(value, indent=2, ensure_ascii=False)))


def _refuse_one_string(pairs: object) -> None:
    if isinstance(pairs, (str, bytes)):  # iterating it would yield characters, not pairs
        raise TypeError("pairs: expected (text_a, text_b) pairs, got one string")


class DupDetector:
    """Scores text pairs: ``DupDetector.load(dir).predict([(a, b), ...])``."""

    def __init__(
        self,
        model: Matcher,
        tokenizer: Tokenizer,
        config: Config,
        threshold: float = 0.5,
        scorer: OnnxScorer | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.threshold = threshold
        self.scorer = scorer  # an exported graph that scores instead of `model` (CPU)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, pairs: Iterable[Sequence[str] | Pair], start: int = 0) -> EncodedPairs:
        """Tokenise (text_a, text_b) pairs (or Pair objects) into ids. An empty or
        whitespace-only text is a ValueError naming the pair: it has nothing to compare;
        anything but a pair (a bare string, a 3-tuple) is a TypeError naming it. Pairs are
        numbered in messages from `start`."""
        _refuse_one_string(pairs)
        a, b = [], []
        for i, pair in enumerate(pairs, start):
            if isinstance(pair, Pair):
                texts = (pair.text_a, pair.text_b)
            elif isinstance(pair, (tuple, list)) and len(pair) == 2:
                texts = (pair[0], pair[1])
            else:
                raise TypeError(f"pair {i}: expected (text_a, text_b), got {pair!r:.80}")
            for name, text in zip(("text_a", "text_b"), texts, strict=True):
                if not isinstance(text, str) or not text.strip():
                    raise ValueError(f"pair {i}: {name} must be a non-empty string, got {text!r}")
            a.append(texts[0])
            b.append(texts[1])
        cfg = self.config.tokenizer
        data = EncodedPairs(encode(self.tokenizer, a, cfg), encode(self.tokenizer, b, cfg))
        at_limit = sum(len(ids) >= cfg.max_length for ids in (*data.a, *data.b))
        if at_limit:  # INFO: the CLI shows it; a library caller sees it only if it logs INFO
            where = (
                f"pair {start:,}" if len(data) == 1 else f"pairs {start:,}-{start + len(a) - 1:,}"
            )
            log.info(
                f"{where}: {at_limit:,} of {2 * len(data):,} texts reach the model's "
                f"{cfg.max_length} tokens; tokens past it are not scored"
            )
        return data

    def encode_chunks(
        self, pairs: Iterable[Sequence[str] | Pair], size: int | None = None
    ) -> Iterator[EncodedPairs]:
        """`encode` the pairs `size` (default ENCODE_CHUNK) at a time, in order: scoring chunk
        by chunk keeps memory flat however many pairs there are (a generator of pairs is
        never held whole)."""
        _refuse_one_string(pairs)
        size = size or ENCODE_CHUNK
        pairs, start = iter(pairs), 0
        while chunk := list(islice(pairs, size)):
            yield self.encode(chunk, start)
            start += len(chunk)

    def predict(
        self, pairs: Iterable[Sequence[str] | Pair], batch_size: int = SCORING_BATCH
    ) -> np.ndarray:
        """P(duplicate) for each (text_a, text_b) pair, in order: (N,) float64 in [0, 1]."""
        scores = [self.predict_encoded(data, batch_size) for data in self.encode_chunks(pairs)]
        return np.concatenate(scores) if scores else np.empty(0, dtype=np.float64)

    def predict_encoded(self, data: EncodedPairs, batch_size: int = SCORING_BATCH) -> np.ndarray:
        """P(duplicate) for already encoded pairs, with the backend chosen at load time."""
        if len(data) == 0:
            return np.empty(0, dtype=np.float64)
        if self.scorer is not None:
            return self.scorer.predict_proba(data, batch_size)
        return predict_proba(self.model, data, self.device, batch_size)

    def save(self, directory: str | Path) -> None:
        """Write config.json, tokenizer.json and model.safetensors into `directory`."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        state, same = _dedupe(state)
        metadata = {SAME_AS: json.dumps(same)} if same else None
        _write_atomic(out / WEIGHTS_FILE, lambda p: save_file(state, str(p), metadata))
        _write_atomic(out / TOKENIZER_FILE, lambda p: self.tokenizer.save(str(p)))
        self.save_config(out)

    def save_config(self, directory: str | Path) -> None:
        """Write only config.json (e.g. after tuning the threshold of saved weights)."""
        meta = {
            "dupdetect_version": __version__,
            "format_version": FORMAT_VERSION,
            "threshold": self.threshold,
            **self.config.to_dict(),
        }
        write_json(Path(directory) / CONFIG_FILE, meta)

    @classmethod
    def load(
        cls, directory: str | Path, device: str = "auto", backend: str = "torch"
    ) -> DupDetector:
        """Load a saved model directory onto `device` ("auto": CUDA when present).

        `backend` "onnx" or "onnx-int8" scores with the directory's exported model.onnx or
        model.int8.onnx in ONNX Runtime on the CPU (`dupdetect export` writes them);
        `model` is loaded in every case.
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        root = Path(directory)
        if not root.is_dir():
            raise ModelDirError(f"{root}: no such model directory")
        for name in (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE):
            if not (root / name).is_file():
                raise ModelDirError(
                    f"{root / name}: missing; a dupdetect model directory holds "
                    f"{CONFIG_FILE}, {TOKENIZER_FILE} and {WEIGHTS_FILE}"
                )
        try:
            meta = json.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ConfigError("expected a JSON object")
            threshold = float(meta.pop("threshold"))
            if not 0.0 <= threshold <= 1.0:  # also rejects nan
                raise ConfigError(f"threshold must be in [0, 1], got {threshold}")
            meta.pop("dupdetect_version", None)
            if meta.pop("format_version", None) != FORMAT_VERSION:
                raise ConfigError(f"format_version is not {FORMAT_VERSION}")
            config = config_from_dict(meta)
        except (ValueError, KeyError, TypeError) as e:
            raise ModelDirError(f"{root / CONFIG_FILE}: not a dupdetect config: {e}") from None
        try:
            tokenizer = load_tokenizer(root / TOKENIZER_FILE)
        except Exception as e:  # the Rust side raises a bare Exception
            raise ModelDirError(f"{root / TOKENIZER_FILE}: cannot be read: {e}") from None
        tokens = tokenizer.get_vocab_size() + config.tokenizer.oov_buckets  # as training set it
        if config.model.vocab_size != tokens:  # ids past the embedding table would crash scoring
            raise ModelDirError(
                f"{root / TOKENIZER_FILE}: {tokens:,} token ids do not fit {CONFIG_FILE}'s "
                f"model.vocab_size {config.model.vocab_size:,}: the files are of different models"
            )
        try:
            with safe_open(str(root / WEIGHTS_FILE), "pt") as f:  # read once: tensors, metadata
                state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
                same = json.loads((f.metadata() or {}).get(SAME_AS, "{}"))
            state = _redupe(state, same)
        except (SafetensorError, OSError) as e:
            raise ModelDirError(f"{root / WEIGHTS_FILE}: cannot be read: {e}") from None
        except (ValueError, KeyError, AttributeError, IndexError, RuntimeError) as e:
            raise ModelDirError(f"{root / WEIGHTS_FILE}: bad {SAME_AS} metadata: {e}") from None
        model = build_model(config.model)
        try:
            model.load_state_dict(_renamed(state))
        except RuntimeError as e:
            first = str(e).strip().splitlines()[1:2] or [str(e)]
            raise ModelDirError(
                f"{root / WEIGHTS_FILE}: weights do not fit config.json: {first[0].strip()}"
            ) from None
        model.to(resolve_device(device)).eval()
        scorer = None
        if backend != "torch":
            from dupdetect.export import load_scorer  # needs onnxruntime: optional

            scorer = load_scorer(root, backend)
        return cls(model, tokenizer, config, threshold, scorer)
