"""Shared fixtures: tiny models built in code, synthetic pair files, the real data folder."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Literal

import pytest
import torch

from dupdetect.config import Config, ModelConfig, load_config
from dupdetect.model import ESIM

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def load_script(name: str) -> ModuleType:
    """scripts/NAME.py imported as a module (scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        f"dupdetect_{name}", ROOT / "scripts" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data; skips the test when absent, except in CI where it fails."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared/data beside the project")
        pytest.skip(f"{path} not available")
    return path


def tiny_model_config(
    vocab_size: int = 50,
    exact_match: bool = False,
    overlap_features: bool = False,
    composition: Literal["lstm", "feedforward"] = "lstm",
    comparison_dropout: Literal["features", "inputs", "folded"] = "features",
    dropout: float = 0.0,
    words: bool = False,
    attention: Literal["dot", "projected"] = "dot",
    self_attention: bool = False,
    synonym_match: bool = False,
) -> ModelConfig:
    return ModelConfig(
        exact_match=exact_match, overlap_features=overlap_features, composition=composition,
        comparison_dropout=comparison_dropout, dropout=dropout, words=words,
        attention=attention, self_attention=self_attention, synonym_match=synonym_match,
        synonym_pairs=len(synonym_keys(vocab_size)) if synonym_match else 0,
        vocab_size=vocab_size, embedding_dim=8, hidden_size=6, head_hidden=5,
        embedding_dropout=0.0,
    )  # fmt: skip


def synonym_keys(vocab_size: int) -> torch.Tensor:
    """Made-up synonym keys for a tiny model: ids i != j >= 2 with i + j divisible by 7 are
    synonyms (both orders, as dupdetect/wordnet.py makes them), as i * vocab_size + j."""
    ids = range(2, vocab_size)
    return torch.tensor(
        [i * vocab_size + j for i in ids for j in ids if i != j and (i + j) % 7 == 0]
    )


def tiny_esim(cfg: ModelConfig) -> ESIM:
    """ESIM(cfg) with its synonym keys filled in, as training fills them."""
    model = ESIM(cfg)
    if cfg.synonym_match:
        model.synonym_keys.copy_(synonym_keys(cfg.vocab_size))
    return model


def random_ids(lengths: list[int], vocab_size: int, generator: torch.Generator) -> torch.Tensor:
    """Right-padded (B, max(lengths)) ids in 1..vocab_size-1, 0 as padding."""
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, vocab_size, (n,), generator=generator)
    return ids


WORDS = [
    "how",
    "what",
    "why",
    "when",
    "where",
    "can",
    "do",
    "does",
    "is",
    "the",
    "a",
    "my",
    "your",
    "to",
    "of",
    "in",
    "for",
    "buy",
    "get",
    "make",
    "learn",
    "phone",
    "car",
    "house",
    "money",
    "job",
    "code",
    "python",
    "java",
    "music",
    "movie",
    "book",
    "school",
    "city",
    "water",
    "food",
    "fast",
    "cheap",
    "good",
    "best",
    "old",
    "new",
    "big",
    "small",
]


def synthetic_pairs(n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """Pairs a tiny model can learn in seconds: duplicates reorder the same words (and maybe
    drop one), non-duplicates share at most a few words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a = rng.sample(WORDS, rng.randint(4, 9))
        if i % 2 == 0:
            b = a[:]
            rng.shuffle(b)
            if len(b) > 4 and rng.random() < 0.5:
                b.pop()
            label = 1
        else:
            b = rng.sample(WORDS, rng.randint(4, 9))
            label = 0
        rows.append((" ".join(a), " ".join(b), label))
    return rows


def write_tsv(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    path.write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows), encoding="utf-8")
    return path


@pytest.fixture
def pair_files(tmp_path: Path) -> tuple[Path, Path]:
    """(train.tsv, dev.tsv) of synthetic pairs."""
    train = write_tsv(tmp_path / "train.tsv", synthetic_pairs(400, seed=1))
    dev = write_tsv(tmp_path / "dev.tsv", synthetic_pairs(100, seed=2))
    return train, dev


@pytest.fixture
def tiny_config(pair_files: tuple[Path, Path]) -> Config:
    """configs/tiny.yaml pointed at the synthetic files."""
    train, dev = pair_files
    return load_config(
        ROOT / "configs" / "tiny.yaml",
        [f"data.train={train}", f"data.dev={dev}", "train.epochs=3"],
    )
