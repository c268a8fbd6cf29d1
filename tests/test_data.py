"""Tests for dupdetect.data: every format, header rules, bad rows and the real data files."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import sys
from pathlib import Path

import pytest

from dupdetect.data import FORMATS, DataError, Pair, PairFile, detect_format, read_pairs

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
QUORA_HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"


def write(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    """Write ``text`` as UTF-8 (gzip-compressed when the name ends in .gz)."""
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def labels(result: PairFile) -> list[int | None]:
    return [p.label for p in result.pairs]


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        read_pairs(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --- formats ------------------------------------------------------------------------------


def test_tsv_without_header_keeps_stray_quotes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.tsv", 'He said "hi\t "Hello" there \t1\n怎么办\t咋办\t0\n')
    result = read_pairs(path)
    assert result.format == "tsv"
    assert result.path == str(path)
    assert result.pairs == [Pair('He said "hi', '"Hello" there', 1), Pair("怎么办", "咋办", 0)]
    assert (result.skipped, result.problems) == (0, [])


def test_tsv_header_columns_by_name_case_insensitive(tmp_path: Path) -> None:
    text = "Label\tid\tSentence2\tSENTENCE1\n1\tx\tsecond\tfirst\n0\ty\tb\ta\n"
    result = read_pairs(write(tmp_path / "h.tsv", text))
    assert result.pairs == [Pair("first", "second", 1), Pair("a", "b", 0)]


@pytest.mark.parametrize(
    "header",
    ["text_a\ttext_b\tlabel", "question1\tquestion2\tis_duplicate", "s1\ts2\tlabel"],
)
def test_tsv_known_headers(tmp_path: Path, header: str) -> None:
    result = read_pairs(write(tmp_path / "h.tsv", f"{header}\na\tb\t1\n"))
    assert result.pairs == [Pair("a", "b", 1)]


def test_csv_quoting_and_header(tmp_path: Path) -> None:
    text = 'sentence1,sentence2,label\n"a, with comma","b ""quoted""",1\nx,y,0\n'
    result = read_pairs(write(tmp_path / "p.csv", text))
    assert result.format == "csv"
    assert result.pairs == [Pair("a, with comma", 'b "quoted"', 1), Pair("x", "y", 0)]


def test_csv_without_header(tmp_path: Path) -> None:
    result = read_pairs(write(tmp_path / "p.csv", "a,b,1\nc,d,0.0\n"))
    assert result.pairs == [Pair("a", "b", 1), Pair("c", "d", 0)]


def test_kaggle_quora_csv_multiline_field(tmp_path: Path) -> None:
    text = (
        '"id","qid1","qid2","question1","question2","is_duplicate"\n'
        '"0","1","2","What is\nthis?","What\'s this?","1"\n'
        '"1","3","4","Why?","How?","0"\n'
    )
    result = read_pairs(write(tmp_path / "train.csv", text))
    assert result.pairs == [Pair("What is\nthis?", "What's this?", 1), Pair("Why?", "How?", 0)]


def test_mrpc_bom_crlf_stray_quotes(tmp_path: Path) -> None:
    text = (
        f"{MRPC_HEADER}\n"
        '1\t702876\t702977\tHe called "the witness", ok.\tReferring to "the witness.\n'
        "0\t1\t2\tA\tB\n"
    )
    path = write(tmp_path / "msr_paraphrase_train.txt", text, bom=True, crlf=True)
    assert detect_format(path) == "mrpc"
    result = read_pairs(path)
    assert result.format == "mrpc"
    assert result.pairs == [
        Pair('He called "the witness", ok.', 'Referring to "the witness.', 1),
        Pair("A", "B", 0),
    ]


def test_mrpc_forced_without_header(tmp_path: Path) -> None:
    result = read_pairs(write(tmp_path / "m.data", "1\t1\t2\tA\tB\n"), fmt="mrpc")
    assert result.pairs == [Pair("A", "B", 1)]
    path = write(tmp_path / "bad.data", "1\t1\t2\tA\n")
    assert error_of(path, fmt="mrpc") == f"{path}:1: expected 5 tab-separated fields, got 4"


def test_quora_tsv_quoted_multiline_field(tmp_path: Path) -> None:
    text = (
        f"{QUORA_HEADER}\n"
        '0\t1\t2\t"How do I\nlearn ""Python""?"\tHow to learn Python?\t1\n'
        '1\t3\t4\tWhy is the sky blue?\t"Sky, blue?"\t0\n'
        "2\t5\t6\tgood\t\t1\n"
    )
    path = write(tmp_path / "quora_duplicate_questions.tsv", text)
    assert detect_format(path) == "quora"
    result = read_pairs(path, skip_bad=True)
    assert result.format == "quora"
    assert result.pairs == [
        Pair('How do I\nlearn "Python"?', "How to learn Python?", 1),
        Pair("Why is the sky blue?", "Sky, blue?", 0),
    ]
    # The multi-line record occupies lines 2-3, so the last record is physical line 5.
    assert result.problems == [f"{path}:5: text_b is empty"]


def test_jsonl_keys_and_label_types(tmp_path: Path) -> None:
    text = (
        '{"text_a": "a", "text_b": "b", "label": true}\n'
        "\n"
        '{"sentence1": "c", "sentence2": "d", "label": false}\n'
        '{"question1": "e", "question2": "f", "is_duplicate": 1}\n'
        '{"text_a": " g ", "text_b": "h", "label": 0.0}\n'
        '{"text_a": "i", "text_b": "j", "label": "1"}\n'
        "   \n"
    )
    result = read_pairs(write(tmp_path / "p.jsonl", text))
    assert result.format == "jsonl"
    assert [(p.text_a, p.text_b) for p in result.pairs] == [
        ("a", "b"),
        ("c", "d"),
        ("e", "f"),
        ("g", "h"),
        ("i", "j"),
    ]
    assert labels(result) == [1, 0, 1, 0, 1]
    assert all(type(label) is int for label in labels(result))


def test_json_extension_is_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "p.json", '{"text_a": "a", "text_b": "b", "label": 1}\n')
    assert read_pairs(path).pairs == [Pair("a", "b", 1)]


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("p.tsv.gz", "a\tb\t1\n", "tsv"),
        ("p.csv.gz", "a,b,1\n", "csv"),
        ("p.jsonl.gz", '{"text_a": "a", "text_b": "b", "label": 1}\n', "jsonl"),
        ("msr.txt.gz", f"{MRPC_HEADER}\n1\tx\ty\ta\tb\n", "mrpc"),
        ("q.tsv.gz", f"{QUORA_HEADER}\n0\t1\t2\ta\tb\t1\n", "quora"),
    ],
)
def test_gzip(tmp_path: Path, name: str, text: str, fmt: str) -> None:
    path = write(tmp_path / name, text)
    assert detect_format(path) == fmt
    result = read_pairs(path)
    assert (result.format, result.pairs) == (fmt, [Pair("a", "b", 1)])


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("p.tsv", "text_a\ttext_b\tlabel\na\tb\t1\nc\td\t0\n"),
        ("p.tsv", "a\tb\t1\nc\td\t0\n"),
        ("p.csv", 'a,b,1\n"c",d,0\n'),
        ("m.txt", f"{MRPC_HEADER}\n1\t1\t2\ta\tb\n0\t3\t4\tc\td\n"),
        ("q.tsv", f'{QUORA_HEADER}\n0\t1\t2\ta\tb\t1\n1\t3\t4\t"c"\td\t0\n'),
        (
            "p.jsonl",
            '{"text_a":"a","text_b":"b","label":1}\n{"text_a":"c","text_b":"d","label":0}\n',
        ),
    ],
)
def test_bom_crlf_and_trailing_blank_lines(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path / name, text + "\n  \n", bom=True, crlf=True)
    result = read_pairs(path)
    assert result.pairs == [Pair("a", "b", 1), Pair("c", "d", 0)]
    assert result.blank_lines == 2  # the empty line and the one of two spaces
    header = int(text.startswith(("text_a", MRPC_HEADER, QUORA_HEADER)))
    assert result.lines == [1 + header, 2 + header]


@pytest.mark.parametrize("name", ["p.tsv", "p.csv", "p.jsonl"])
def test_blank_lines_are_counted_not_rows(tmp_path: Path, name: str) -> None:
    row = '{"text_a":"a","text_b":"b","label":1}' if name.endswith("l") else "a,b,1"
    row = row.replace(",", "\t") if name.endswith("tsv") else row
    path = write(tmp_path / name, f"\n{row}\n\n \n{row}\n")
    result = read_pairs(path)
    assert (len(result.pairs), result.skipped, result.blank_lines) == (2, 0, 3)
    assert result.passed_over() == "skipped 3 blank lines"
    assert result.lines == [2, 5]  # as error messages number them


def test_pair_lines_pass_over_skipped_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "a\tb\t1\nx\ty\t9\n\nc\td\t0\n")
    result = read_pairs(path, skip_bad=True)
    assert (result.lines, result.problems) == ([1, 4], [f"{path}:2: label must be 0 or 1, got '9'"])


def test_no_trailing_newline(tmp_path: Path) -> None:
    assert read_pairs(write(tmp_path / "p.tsv", "a\tb\t1")).pairs == [Pair("a", "b", 1)]


def test_fmt_forces_format(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.txt", "a,b,1\n")
    result = read_pairs(path, fmt="CSV")
    assert (result.format, result.pairs) == ("csv", [Pair("a", "b", 1)])


def test_stdin_defaults_to_tsv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\tb\t1\nc\td\t\n")))
    with pytest.raises(DataError, match=r"^<stdin>:2: label is missing$"):
        read_pairs("-")


def test_stdin_with_format_and_gzip(monkeypatch: pytest.MonkeyPatch) -> None:
    data = gzip.compress(b'{"text_a": "a", "text_b": "b"}\n')
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = read_pairs("-", "jsonl", require_labels=False)
    assert (result.path, result.format, result.pairs) == ("-", "jsonl", [Pair("a", "b")])


def test_pathlike_and_detect_format(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path / "x.tsv", "a\tb\t1\n")) == "tsv"
    assert detect_format(write(tmp_path / "x.txt", "a\tb\t1\n")) == "tsv"
    assert detect_format("does/not/matter.csv") == "csv"
    assert detect_format("x.JSONL.GZ") == "jsonl"
    assert detect_format("-") == "tsv"
    assert read_pairs(tmp_path / "x.tsv").pairs == [Pair("a", "b", 1)]


# --- require_labels=False ---------------------------------------------------------------


def test_unlabelled_tsv_and_jsonl(tmp_path: Path) -> None:
    tsv = write(tmp_path / "p.tsv", "a\tb\nc\td\t1\ne\tf\t\n")
    assert labels(read_pairs(tsv, require_labels=False)) == [None, 1, None]
    jsonl = write(
        tmp_path / "p.jsonl",
        '{"text_a": "a", "text_b": "b"}\n{"text_a": "c", "text_b": "d", "label": null}\n',
    )
    assert labels(read_pairs(jsonl, require_labels=False)) == [None, None]


def test_unlabelled_header_without_label_column(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "id\ttext_a\ttext_b\n7\ta\tb\n")
    assert read_pairs(path, require_labels=False).pairs == [Pair("a", "b")]
    assert error_of(path).startswith(f"{path}:1: the header has no label column")


def test_unlabelled_still_rejects_invalid_label(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "a\tb\nc\td\tyes\n")
    assert error_of(path, require_labels=False) == f"{path}:2: label must be 0 or 1, got 'yes'"
    path = write(tmp_path / "p.tsv", "a\tb\tc\td\n")
    assert error_of(path, require_labels=False) == (
        f"{path}:1: expected 2 or 3 tab-separated fields, got 4"
    )


# --- bad rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        ("p.tsv", "a\tb\t1\nc\td\n", 2, "expected 3 tab-separated fields, got 2"),
        ("p.tsv", "a\tb\t1\na\tb\tc\t1\n", 2, "expected 3 tab-separated fields, got 4"),
        ("p.tsv", "a\tb\t1\n\tb\t1\n", 2, "text_a is empty"),
        ("p.tsv", "a\tb\t1\n\n  \t \t1\n", 3, "text_a is empty"),
        ("p.tsv", "a\tb\t1\na\t  \t1\n", 2, "text_b is empty"),
        ("p.tsv", "a\tb\t1\nc\td\t2\n", 2, "label must be 0 or 1, got '2'"),
        ("p.tsv", "a\tb\t1\nc\td\t\n", 2, "label is missing"),
        ("p.csv", "a,b,1\nc,d\n", 2, "expected 3 comma-separated fields, got 2"),
        ("p.csv", 'a,"b\nb",1\nc,d,-1\n', 3, "label must be 0 or 1, got '-1'"),
        ("p.csv", 'a,b,1\n"c,d,1\ne,f,0\n', 2, "a quoted field is never closed"),
        (
            "h.tsv",
            "text_a\ttext_b\tlabel\tx\na\tb\t1\n",
            2,
            "expected 4 tab-separated fields (as in the header), got 3",
        ),
        (
            "m.txt",
            f"{MRPC_HEADER}\n1\t1\t2\ta\tb\nx\t1\t2\ta\tb\n",
            3,
            "label must be 0 or 1, got 'x'",
        ),
        (
            "m.txt",
            f"{MRPC_HEADER}\n1\t1\t2\ta\n",
            2,
            "expected 5 tab-separated fields (as in the header), got 4",
        ),
        (
            "p.jsonl",
            '{"text_a": "a", "text_b": "b", "label": 1}\n\n{"text_a": "a",\n',
            3,
            "invalid JSON: Expecting property name enclosed in double quotes at column 16",
        ),
        (
            "p.jsonl",
            '{"text_a": "a", "text_b": "b", "label": 2}\n',
            1,
            "label must be 0 or 1, got 2",
        ),
        (
            "p.jsonl",
            '{"text_a": "a", "text_b": "b", "label": "no"}\n',
            1,
            "label must be 0 or 1, got 'no'",
        ),
        ("p.jsonl", '{"text_a": "a", "text_b": "b"}\n', 1, "missing key 'label' or 'is_duplicate'"),
        ("p.jsonl", '{"text_a": "a", "text_b": "b", "label": null}\n', 1, "label is null"),
        (
            "p.jsonl",
            '{"text_a": "a", "label": 1}\n',
            1,
            "missing key 'text_b' or 'sentence2' or 'question2'",
        ),
        ("p.jsonl", '{"text_a": " ", "text_b": "b", "label": 1}\n', 1, "text_a is empty"),
        (
            "p.jsonl",
            '  {"text_a": "a" "text_b": "b", "label": 1}\n',
            1,
            "invalid JSON: Expecting ',' delimiter at column 18",
        ),
        (
            "p.jsonl",
            '{"text_a": 3, "text_b": "b", "label": 1}\n',
            1,
            "text_a must be a string, got number",
        ),
        (
            "p.jsonl",
            '["a", "b", 1]\n',
            1,
            "expected a JSON object, got array (expected one JSON object per line, not an array)",
        ),
    ],
)
def test_bad_row_messages(tmp_path: Path, name: str, text: str, line: int, problem: str) -> None:
    path = write(tmp_path / name, text)
    assert error_of(path) == f"{path}:{line}: {problem}"


@pytest.mark.parametrize(
    ("name", "good", "line"),
    [
        ("p.tsv", b"a\tb\t1\n", 2),
        ("p.csv", b'a,"multi\nline",1\n', 3),
        ("p.jsonl", b'{"text_a": "a", "text_b": "b", "label": 1}\n', 2),
    ],
)
def test_undecodable_line_is_named(tmp_path: Path, name: str, good: bytes, line: int) -> None:
    sep = b"\t" if name.endswith(".tsv") else b","
    bad = (
        b'{"text_a": "caf\xe9", "text_b": "b", "label": 1}\n'
        if name.endswith("l")
        else (b"caf\xe9" + sep + b"b" + sep + b"1\n")
    )
    path = tmp_path / name
    path.write_bytes(good + bad + good)
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: invalid UTF-8 (byte 0xe9 at byte ")
    result = read_pairs(path, skip_bad=True)
    assert (len(result.pairs), result.skipped) == (2, 1)


def test_unrecognised_header_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "first\tsecond\tgold\na\tb\t1\n")
    message = error_of(path)
    assert message.startswith(
        f"{path}:1: label must be 0 or 1, got 'gold' (if this line is a header"
    )
    assert "\n" not in message


def test_skip_bad_counts_and_keeps_messages(tmp_path: Path) -> None:
    text = "a\tb\t1\nc\t\t0\nc\td\t5\nonly one\ne\tf\t0\n"
    path = write(tmp_path / "p.tsv", text)
    result = read_pairs(path, skip_bad=True)
    assert result.pairs == [Pair("a", "b", 1), Pair("e", "f", 0)]
    assert result.skipped == 3
    assert result.passed_over() == "skipped 3 bad rows"
    assert result.problems == [
        f"{path}:2: text_b is empty",
        f"{path}:3: label must be 0 or 1, got '5'",
        f"{path}:4: expected 3 tab-separated fields, got 1",
    ]


def test_skip_bad_keeps_first_20_messages(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "a\tb\t1\n" + "x\ty\t9\n" * 30)
    result = read_pairs(path, skip_bad=True)
    assert (len(result.pairs), result.skipped, len(result.problems)) == (1, 30, 20)
    assert result.problems[-1] == f"{path}:21: label must be 0 or 1, got '9'"


def test_skip_bad_with_only_bad_rows_is_no_pairs(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "x\ty\t9\n")
    assert error_of(path, skip_bad=True) == f"{path}: no pairs found (skipped 1 bad row)"


# --- file-level errors ------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.tsv"
    assert error_of(path) == f"{path}: no such file"
    with pytest.raises(DataError, match="no such file"):
        detect_format(path)


@pytest.mark.parametrize(
    ("text", "detail"),
    [("", ""), ("\n\n", " (skipped 2 blank lines)"), ("text_a\ttext_b\tlabel\n", "")],
)
def test_no_pairs(tmp_path: Path, text: str, detail: str) -> None:
    path = write(tmp_path / "p.tsv", text)
    assert error_of(path) == f"{path}: no pairs found{detail}"


def test_unknown_format_lists_formats(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "a\tb\t1\n")
    message = error_of(path, fmt="xml")
    assert "'xml'" in message and all(f in message for f in FORMATS)


def test_unknown_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "p.xlsx", "a\tb\t1\n")
    assert "give the format, one of tsv, csv, mrpc, quora, jsonl (--format" in error_of(path)
    assert read_pairs(path, fmt="tsv").pairs == [Pair("a", "b", 1)]


def test_corrupt_gzip_and_utf16(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv.gz"
    path.write_bytes(gzip.compress(b"a\tb\t1\n" * 100)[:-20])
    assert error_of(path).startswith(f"{path}: corrupt gzip data")
    path = tmp_path / "u.tsv"
    path.write_bytes("a\tb\t1\n".encode("utf-16"))
    assert "UTF-16" in error_of(path)


def test_data_error_is_value_error_and_pickles() -> None:
    error = DataError("f.tsv", 3, "text_a is empty")
    assert isinstance(error, ValueError)
    assert str(error) == "f.tsv:3: text_a is empty"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.problem, str(copy)) == (
        "f.tsv",
        3,
        "text_a is empty",
        str(error),
    )


def test_pair_is_frozen() -> None:
    pair = Pair("a", "b", 1)
    with pytest.raises(AttributeError):
        pair.label = 0  # type: ignore[misc]
    assert Pair("a", "b").label is None


# --- the real data sets -----------------------------------------------------------------


def shared_data() -> Path:
    """The ../shared/data folder; skip when absent, except fail under CI=true."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_DATA} is missing and CI=true")
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


@pytest.mark.parametrize(
    ("relative", "fmt", "count", "positives", "percent"),
    [
        ("lcqmc/dev.tsv", "tsv", 8802, None, 50.0),
        ("lcqmc/test.tsv", "tsv", 12500, None, 50.0),
        ("mrpc/msr_paraphrase_train.txt", "mrpc", 4076, 2753, 67.5),
        ("mrpc/msr_paraphrase_test.txt", "mrpc", 1725, None, 66.5),
    ],
)
def test_real_data(
    relative: str, fmt: str, count: int, positives: int | None, percent: float
) -> None:
    result = read_pairs(shared_data() / relative)
    positive = sum(p.label == 1 for p in result.pairs)
    assert (result.format, len(result.pairs), result.skipped) == (fmt, count, 0)
    assert round(100 * positive / count, 1) == percent
    if positives is not None:
        assert positive == positives
    assert all(p.text_a and p.text_b and p.label in (0, 1) for p in result.pairs)


def test_real_mrpc_keeps_stray_quotes() -> None:
    result = read_pairs(shared_data() / "mrpc" / "msr_paraphrase_train.txt")
    first = result.pairs[0]
    assert first.text_a.startswith('Amrozi accused his brother, whom he called "the witness"')
    assert first.label == 1
