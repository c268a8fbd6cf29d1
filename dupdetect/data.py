"""Read labelled sentence-pair files: TSV, CSV, MRPC, Quora and JSON Lines.

Every reader starts from the raw bytes: gzip is recognised by its magic bytes (whatever the
name), a UTF-8 BOM and CRLF line ends are accepted, and each physical line is decoded on its
own so that an undecodable line can be named. Whitespace-only lines are ignored. Problems are
reported as ``path:line: problem`` with 1-based physical line numbers.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FORMATS: tuple[str, ...] = ("tsv", "csv", "mrpc", "quora", "jsonl")

# Only this many messages are kept in PairFile.problems; PairFile.skipped is the full count.
_MAX_PROBLEMS = 20

# Header / JSON key aliases per role, lower case. Header matching is case-insensitive; JSON
# keys must match exactly.
_A_NAMES = ("text_a", "sentence1", "question1", "s1", "sentence_a", "text1", "#1 string")
_B_NAMES = ("text_b", "sentence2", "question2", "s2", "sentence_b", "text2", "#2 string")
_LABEL_NAMES = ("label", "is_duplicate", "quality")

_LABELS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}

_MRPC_HEADER = ["quality", "#1 id", "#2 id", "#1 string", "#2 string"]
_QUORA_HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]

_EXTENSIONS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": None, ".txt": None}


@dataclass(frozen=True, slots=True)
class Pair:
    """One sentence pair; ``label`` is 1 = duplicate, 0 = not, None = unlabelled."""

    text_a: str
    text_b: str
    label: int | None = None


class DataError(ValueError):
    """A problem with an input file; str() is one line: '<path>:<line>: <problem>'.

    File-level problems (missing file, no pairs, unknown format) have ``line = None`` and
    read '<path>: <problem>'. Standard input is shown as '<stdin>'.
    """

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[DataError], tuple[str, int | None, str]]:
        return (DataError, (self.path, self.line, self.problem))


@dataclass
class PairFile:
    """The pairs read from one file.

    ``format`` is the resolved format (never "auto"). ``skipped`` counts every bad row skipped
    (non-zero only with ``skip_bad=True``); ``problems`` holds the DataError messages of the
    first 20 of them. ``blank_lines`` counts the empty or whitespace-only lines passed over
    (they hold no pair, so they are never errors, but a reader matching outputs to input
    lines needs to know they were there). ``lines[i]`` is the 1-based line of the file that
    ``pairs[i]`` was read from, the numbering that error messages use.
    """

    path: str
    format: str
    pairs: list[Pair]
    skipped: int
    problems: list[str]
    blank_lines: int = 0
    lines: list[int] = field(default_factory=list)

    def passed_over(self) -> str:
        """What reading left out, for a log line: "" or e.g. "skipped 3 bad rows, 2 blank lines"."""
        parts = [
            f"{n:,} {what}{'s' * (n != 1)}"
            for n, what in ((self.skipped, "bad row"), (self.blank_lines, "blank line"))
            if n
        ]
        return "skipped " + ", ".join(parts) if parts else ""


@dataclass(frozen=True)
class _Columns:
    """Where a delimited row keeps its fields; ``label`` is None when there is no label column."""

    a: int
    b: int
    label: int | None
    width: int
    header: bool


@dataclass(frozen=True)
class _Layout:
    delimiter: str
    quoting: bool
    columns: _Columns  # the positional layout, used when there is no header


_LAYOUTS = {
    "tsv": _Layout("\t", False, _Columns(0, 1, 2, 3, False)),
    "csv": _Layout(",", True, _Columns(0, 1, 2, 3, False)),
    "mrpc": _Layout("\t", False, _Columns(3, 4, 0, 5, False)),
    "quora": _Layout("\t", True, _Columns(3, 4, 5, 6, False)),
}


class _Collector:
    """Collects pairs; raises on the first bad row unless skipping."""

    def __init__(self, where: str, skip_bad: bool) -> None:
        self.where = where
        self.skip_bad = skip_bad
        self.pairs: list[Pair] = []
        self.lines: list[int] = []  # the line each pair came from
        self.skipped = 0
        self.blank_lines = 0
        self.problems: list[str] = []

    def add(self, line: int, pair: Pair) -> None:
        self.pairs.append(pair)
        self.lines.append(line)

    def bad(self, line: int, problem: str) -> None:
        error = DataError(self.where, line, problem)
        if not self.skip_bad:
            raise error
        self.skipped += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(str(error))


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return the format of ``path`` from its name (``.gz`` stripped).

    ``.tsv``/``.txt`` files are opened and their first line sniffed for the MRPC or Quora
    header (otherwise "tsv"); other names are decided without touching the file. "-"
    (standard input) is "tsv". Raises DataError for an unknown extension.
    """
    name = os.fspath(path)
    if name == "-":
        return "tsv"
    fmt = _format_from_name(name)
    if fmt is not None:
        return fmt
    return _sniff(_first_line(name))


def read_pairs(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    skip_bad: bool = False,
    require_labels: bool = True,
) -> PairFile:
    """Read all pairs of a file (or standard input for "-") in format ``fmt``.

    By default the first bad row raises DataError; with ``skip_bad`` bad rows are counted
    and skipped instead. With ``require_labels=False`` a missing label (no label column or
    key, an empty field or JSON null) gives ``label=None``; an invalid label is always bad.
    Raises DataError when the file is missing, unreadable or holds no pairs, and (even with
    ``skip_bad``) when labels are required but a header row has no label column.

    A first row is a header when it names both texts (case-insensitive; e.g. text_a/text_b,
    sentence1/sentence2, question1/question2, s1/s2, MRPC's "#1 String"/"#2 String"); columns
    are then taken by name and every row must have the header's field count. Otherwise
    columns are positional (tsv/csv: a, b, label; mrpc: label, id, id, a, b; quora: id, qid1,
    qid2, a, b, label). ``PairFile.path`` is ``path`` as given ("-" for standard input).
    """
    name = os.fspath(path)
    where = "<stdin>" if name == "-" else name
    fmt = fmt.lower()
    if fmt != "auto" and fmt not in FORMATS:
        raise DataError(where, None, f"unknown format {fmt!r}; use 'auto' or one of {FORMATS}")
    data = _read_bytes(name, where)
    lines, undecodable = _split_lines(data, where)
    if fmt == "auto" and name == "-":
        fmt = "tsv"
    elif fmt == "auto":
        fmt = _format_from_name(name) or _sniff(lines[0] if lines else "")
    out = _Collector(where, skip_bad)
    if fmt == "jsonl":
        _read_jsonl(lines, undecodable, require_labels, out)
    else:
        _read_delimited(lines, undecodable, _LAYOUTS[fmt], require_labels, out)
    result = PairFile(name, fmt, out.pairs, out.skipped, out.problems, out.blank_lines, out.lines)
    if not result.pairs:
        note = result.passed_over()
        detail = f" ({note})" if note else ""
        raise DataError(where, None, f"no pairs found{detail}")  # e.g. (skipped 2 blank lines)
    return result


# --- format detection -------------------------------------------------------------------


def _format_from_name(name: str) -> str | None:
    """Format implied by the extension; None means "sniff the first line"."""
    base = os.path.basename(name).lower()
    if base.endswith(".gz"):
        base = base[:-3]
    ext = os.path.splitext(base)[1]
    if ext not in _EXTENSIONS:
        raise DataError(
            name,
            None,
            f"cannot tell the format from the extension {ext or '(none)'!r}; "
            f"give the format, one of {', '.join(FORMATS)} (--format on the command line, "
            "fmt= in Python)",
        )
    return _EXTENSIONS[ext]


def _sniff(first_line: str) -> str:
    names = [f.strip().strip('"').lower() for f in first_line.split("\t")]
    if names == _MRPC_HEADER:
        return "mrpc"
    if names == _QUORA_HEADER:
        return "quora"
    return "tsv"


def _first_line(name: str) -> str:
    try:
        with open(name, "rb") as raw:
            head = raw.read(2)
            raw.seek(0)
            if head == b"\x1f\x8b":
                with gzip.open(raw) as unzipped:
                    line = unzipped.readline(1 << 16)
            else:
                line = raw.readline(1 << 16)
    except FileNotFoundError:
        raise DataError(name, None, "no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(name, None, f"cannot read: {exc}") from None
    return line.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")


# --- bytes to lines ---------------------------------------------------------------------


def _read_bytes(name: str, where: str) -> bytes:
    if name == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is not None:
            data = stream.read()
        else:  # a text stream without a buffer (e.g. io.StringIO)
            data = sys.stdin.read().encode("utf-8", "surrogateescape")
    else:
        try:
            with open(name, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise DataError(where, None, "no such file") from None
        except IsADirectoryError:
            raise DataError(where, None, "is a directory, not a file") from None
        except OSError as exc:
            raise DataError(where, None, f"cannot read: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(where, None, f"corrupt gzip data: {exc}") from None
    return data


def _split_lines(data: bytes, where: str) -> tuple[list[str], dict[int, str]]:
    """Split into physical lines without their line ends.

    Returns the lines and {line number: problem} for lines that are not valid UTF-8 (those
    lines are kept, decoded with replacement characters, so that line numbers stay right).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(where, None, "file is UTF-16 (it has a UTF-16 BOM); save it as UTF-8")
    undecodable: dict[int, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        lines = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                undecodable[number] = (
                    f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})"
                )
                lines.append(raw.decode("utf-8", "replace"))
    else:
        lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, undecodable


# --- delimited formats ------------------------------------------------------------------


def _plain_records(
    lines: list[str], undecodable: dict[int, str], delimiter: str
) -> Iterator[tuple[int, list[str] | None, str]]:
    """Yield (line, fields, "") or (line, None, problem); quotes are ordinary characters.

    A blank line (empty or only whitespace, with no delimiter) is (line, None, "").
    """
    for number, line in enumerate(lines, 1):
        if undecodable and number in undecodable:
            yield number, None, undecodable[number]
        elif (line and not line.isspace()) or delimiter in line:
            yield number, line.split(delimiter), ""
        else:
            yield number, None, ""


def _quoted_records(
    lines: list[str], undecodable: dict[int, str], delimiter: str
) -> Iterator[tuple[int, list[str] | None, str]]:
    """Like _plain_records with CSV quoting; a record's line is the one where it starts."""
    reader = csv.reader(
        (line + "\n" for line in lines), delimiter=delimiter, quotechar='"', strict=True
    )
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            if "unexpected end of data" in str(exc):
                yield start, None, "a quoted field is never closed"
            else:
                yield start, None, f"malformed quoting ({exc})"
            continue
        end = reader.line_num
        if undecodable:
            bad_lines = [n for n in range(start, end + 1) if n in undecodable]
            if bad_lines:
                yield bad_lines[0], None, undecodable[bad_lines[0]]
                continue
        if len(row) > 1 or (row and row[0].strip()):
            yield start, row, ""
        else:
            yield start, None, ""


def _header_columns(fields: list[str]) -> _Columns | None:
    """The columns named by a header row, or None when ``fields`` is not a header."""
    names = [f.strip().strip('"').lower() for f in fields]

    def find(aliases: tuple[str, ...]) -> int | None:
        return next((i for i, n in enumerate(names) if n in aliases), None)

    a, b = find(_A_NAMES), find(_B_NAMES)
    if a is None or b is None:
        return None
    return _Columns(a, b, find(_LABEL_NAMES), len(fields), True)


def _read_delimited(
    lines: list[str],
    undecodable: dict[int, str],
    layout: _Layout,
    require_labels: bool,
    out: _Collector,
) -> None:
    sep = "tab" if layout.delimiter == "\t" else "comma"
    records = (_quoted_records if layout.quoting else _plain_records)(
        lines, undecodable, layout.delimiter
    )
    columns = layout.columns
    first = True
    first_data = True
    for number, fields, problem in records:
        if fields is None and not problem:
            out.blank_lines += 1
            continue
        if fields is None:
            out.bad(number, problem)
            first = first_data = False
            continue
        if first:
            first = False
            header = _header_columns(fields)
            if header is not None:
                if header.label is None and require_labels:
                    raise DataError(
                        out.where, number, f"the header has no label column (one of {_LABEL_NAMES})"
                    )
                columns = header
                first_data = False
                continue
        # Inlined for speed: this loop runs once per row of files with ~10^5-10^6 rows.
        width = columns.width
        n = len(fields)
        label_index = columns.label
        if n != width:
            optional = not require_labels and not columns.header and label_index == width - 1
            if optional and n == width - 1:
                label_index = None
            else:
                if columns.header:
                    expected = f"{width} {sep}-separated fields (as in the header)"
                else:
                    expected = f"{width - 1} or {width}" if optional else str(width)
                    expected += f" {sep}-separated fields"
                out.bad(number, f"expected {expected}, got {n}")
                first_data = False
                continue
        text_a = fields[columns.a].strip()
        text_b = fields[columns.b].strip()
        raw = fields[label_index].strip() if label_index is not None else ""
        if not text_a:
            out.bad(number, "text_a is empty")
        elif not text_b:
            out.bad(number, "text_b is empty")
        elif raw:
            label = _LABELS.get(raw)
            if label is None:
                hint = ""
                if first_data and not columns.header:
                    hint = (
                        " (if this line is a header, its column names are not recognised;"
                        " name them e.g. text_a, text_b, label)"
                    )
                out.bad(number, f"label must be 0 or 1, got {_show(raw)}{hint}")
            else:
                out.add(number, Pair(text_a, text_b, label))
        elif require_labels:
            out.bad(number, "label is missing")
        else:
            out.add(number, Pair(text_a, text_b, None))
        first_data = False


# --- JSON Lines -------------------------------------------------------------------------


def _read_jsonl(
    lines: list[str], undecodable: dict[int, str], require_labels: bool, out: _Collector
) -> None:
    for number, line in enumerate(lines, 1):
        if undecodable and number in undecodable:
            out.bad(number, undecodable[number])
            continue
        if not line or line.isspace():
            out.blank_lines += 1
            continue
        problem, pair = _json_pair(line, require_labels)
        if pair is None:
            out.bad(number, problem)
        else:
            out.add(number, pair)


def _json_pair(line: str, require_labels: bool) -> tuple[str, Pair | None]:
    """Parse one JSON line into a Pair, or return the problem with it."""
    array_hint = ""
    if line.lstrip()[:1] == "[":
        array_hint = " (expected one JSON object per line, not an array)"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}{array_hint}", None
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {_json_type(obj)}{array_hint}", None
    texts = []
    for role, keys in (("text_a", _A_NAMES[:3]), ("text_b", _B_NAMES[:3])):
        key = next((k for k in keys if k in obj), None)
        if key is None:
            alternatives = " or ".join(repr(k) for k in keys)
            return f"missing key {alternatives}", None
        value = obj[key]
        if not isinstance(value, str):
            return f"{role} must be a string, got {_json_type(value)}", None
        value = value.strip()
        if not value:
            return f"{role} is empty", None
        texts.append(value)
    key = next((k for k in _LABEL_NAMES[:2] if k in obj), None)
    raw = obj[key] if key is not None else None
    if raw is None:
        if require_labels:
            return ("label is null" if key else "missing key 'label' or 'is_duplicate'"), None
        return "", Pair(texts[0], texts[1], None)
    label = _json_label(raw)
    if label is None:
        return f"label must be 0 or 1, got {_show(raw)}", None
    return "", Pair(texts[0], texts[1], label)


def _json_label(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, (int, float)):
        return int(raw) if raw in (0, 1) else None
    if isinstance(raw, str):
        return _LABELS.get(raw.strip())
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    """repr() of a value for a message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
