from __future__ import annotations

import numpy as np

from dupdetect.analysis import breakdown, overlap
from dupdetect.batching import EncodedPairs


def test_overlap_is_jaccard_of_token_sets() -> None:
    data = EncodedPairs([[2, 3, 4], [5]], [[3, 4, 6], [6]])
    np.testing.assert_allclose(overlap(data), [0.5, 0.0])


def test_overlap_compares_characters_when_ids_pack_words() -> None:
    """tokenizer.words: id = char + V * word; the same character in another word overlaps."""
    data = EncodedPairs([[2 + 10 * 7, 3, 4]], [[3 + 10 * 8, 4, 6]])
    np.testing.assert_allclose(overlap(data, packing=10), [0.5])
    np.testing.assert_allclose(overlap(data), [0.2])  # unpacked: (2, 7) and (3, 8) differ


def test_breakdown_counts_and_accuracy_per_bucket() -> None:
    data = EncodedPairs(
        [[2, 3], [2, 3] * 6, [4]], [[2, 3], [7] * 10, [5]], np.array([1, 0, 1], np.float32)
    )
    probs = np.array([0.9, 0.8, 0.1])
    tables = breakdown(data.lengths(), overlap(data), data.labels, probs, threshold=0.5)
    short, mid = tables["by_length"][0], tables["by_length"][1]
    assert (short["pairs"], short["accuracy"]) == (2, 0.5)  # lengths 2 and 1
    assert (mid["pairs"], mid["accuracy"]) == (1, 0.0)  # length 12, a false positive
    high = tables["by_overlap"][-1]
    assert (high["bucket"], high["pairs"], high["accuracy"]) == ("0.8-1.0", 1, 1.0)
