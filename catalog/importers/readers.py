"""Streaming readers for dump files: JSON Lines, one JSON array, CSV; plain or gzip; constant memory.

Every reader yields `Record`s numbered from 1 (`index`, the resume position) with the file line the
record starts on, and skips the first `start_after` records without handing them out. A record
that cannot be decoded comes out with `error` set instead of a value, so the caller can report it
and go on.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
FINGERPRINT_SPAN = 64 * 1024
CHUNK_CHARS = 1 << 20
MAX_ELEMENT_CHARS = 64 << 20
CSV_FIELD_LIMIT = 64 << 20


@dataclass(slots=True)
class Record:
    index: int  # 1-based position among the file's records (the resume counter)
    line: int  # file line the record starts on (1-based)
    value: Any = None
    error: str | None = None
    blank: bool = False
    pos: int = 0  # bytes of the (possibly compressed) file consumed so far, for progress bars


def fingerprint(path: Path) -> str:
    """size + sha256 of the first and last 64 KiB: cheap, and changes when a dump is replaced or grows."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read(FINGERPRINT_SPAN))
        if size > FINGERPRINT_SPAN:
            fh.seek(max(FINGERPRINT_SPAN, size - FINGERPRINT_SPAN))
            digest.update(fh.read(FINGERPRINT_SPAN))
    return f"{size}:{digest.hexdigest()}"


def is_gzip(path: Path) -> bool:
    if path.name.endswith(".gz"):
        return True
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


@contextmanager
def open_binary(path: Path) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """(decompressed byte stream, raw file) — the raw file's position measures progress."""
    raw = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        if is_gzip(path):
            stream: BinaryIO = io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=1 << 16)
        else:
            stream = raw
        yield stream, raw
    finally:
        raw.close()


# Text is decoded with `surrogateescape`: a byte that is not UTF-8 becomes a lone surrogate, so the row that holds
# it is reported and skipped instead of imported with replacement characters.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
NOT_UTF8 = "not valid UTF-8 (re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`)"


def _decode_error(exc: json.JSONDecodeError) -> str:
    return f"not JSON: {exc.msg} (column {exc.colno})"


def iter_jsonl(path: Path, start_after: int = 0) -> Iterator[Record]:
    """One record per line (blank lines included, flagged `blank`)."""
    line_no = 0
    with open_binary(path) as (stream, raw):
        try:
            for line_no, data in enumerate(stream, 1):
                if line_no <= start_after:
                    continue
                pos = raw.tell()
                if line_no == 1 and data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
                if not data.strip():
                    yield Record(line_no, line_no, blank=True, pos=pos)
                    continue
                try:
                    text = data.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    yield Record(line_no, line_no, error=f"not valid UTF-8 (byte {exc.start})", pos=pos)
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield Record(line_no, line_no, error=_decode_error(exc), pos=pos)
                    continue
                yield Record(line_no, line_no, value=value, pos=pos)
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            raise ValueError(f"{path}: cannot read past line {line_no}: {exc}") from exc


class _ArrayScanner:
    """A window over a text stream: the buffer holds at most one chunk plus the element being decoded."""

    def __init__(self, text: io.TextIOBase, raw: BinaryIO) -> None:
        self._text = text
        self._raw = raw
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._nl_pos = 0  # buffer index up to which newlines are counted ...
        self._nl_line = 1  # ... and the line number there

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self._text.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        if self.pos > CHUNK_CHARS:  # drop what is consumed
            self.line_of(self.pos)
            self.buf = self.buf[self.pos:]
            self._nl_pos -= self.pos
            self.pos = 0
        self.buf += chunk
        return True

    def line_of(self, index: int) -> int:
        if index < self._nl_pos:
            return self._nl_line - self.buf.count("\n", index, self._nl_pos)
        self._nl_line += self.buf.count("\n", self._nl_pos, index)
        self._nl_pos = index
        return self._nl_line

    def skip_ws(self) -> str:
        """The next non-whitespace character ('' at the end of the stream), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n\ufeff":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def indent_at(self, index: int) -> str | None:
        """The indentation before `index` when only whitespace precedes it on its line."""
        start = self.buf.rfind("\n", 0, index)
        if start < 0:
            return None
        prefix = self.buf[start + 1:index]
        return prefix if prefix.strip() == "" else None

    @property
    def raw_pos(self) -> int:
        return self._raw.tell()


def iter_json_array(path: Path, start_after: int = 0) -> Iterator[Record]:
    """The elements of one top-level JSON array, decoded one at a time with `raw_decode`.

    A syntax error inside an element is reported once and the scanner resynchronises at the next
    element start: the next line indented like earlier elements that opens with `{`, or, for arrays
    without line structure, the next `}, {`.
    """
    decoder = json.JSONDecoder()
    with open_binary(path) as (stream, raw):
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape")
        sc = _ArrayScanner(text, raw)
        if sc.skip_ws() != "[":
            raise ValueError(f"{path}: expected a JSON array of products (the file does not start with '[')")
        sc.pos += 1
        index = 0
        indent: str | None = None
        while True:
            char = sc.skip_ws()
            if char in ("", "]"):
                return
            start = sc.pos
            line = sc.line_of(start)
            index += 1
            if indent is None:
                indent = sc.indent_at(start)
            while True:
                try:
                    value, end = decoder.raw_decode(sc.buf, start)
                    error = None
                    break
                except json.JSONDecodeError as exc:
                    near_end = exc.pos >= len(sc.buf) - 64 or exc.msg.startswith("Unterminated string")
                    if near_end and len(sc.buf) - start < MAX_ELEMENT_CHARS and not sc.eof:
                        before = start - sc.pos
                        sc.fill()  # may compact the buffer: positions move with it
                        start = sc.pos + before
                        continue
                    error, end = f"{_decode_error(exc)} at line {sc.line_of(exc.pos)}", exc.pos
                    break
            if error is None and _UNDECODABLE.search(sc.buf, start, end):
                error = NOT_UTF8
            elif error is None:
                sc.pos = end
                after = sc.skip_ws()
                if after == ",":
                    sc.pos += 1
                elif after not in ("]", ""):
                    error = f"not JSON: expected ',' or ']' after the element at line {sc.line_of(sc.pos)}"
                    end = sc.pos
            if index > start_after:
                if error is None:
                    yield Record(index, line, value=value, pos=sc.raw_pos)
                else:
                    yield Record(index, line, error=error, pos=sc.raw_pos)
            if error is not None:
                sc.pos = max(end, start + 1)
                if not _resync(sc, indent):
                    return


def _resync(sc: _ArrayScanner, indent: str | None) -> bool:
    """Move to the start of the next element after a broken one; False at the end of the stream."""
    pattern = re.compile(r"\n" + re.escape(indent) + r"\{") if indent is not None else re.compile(r"\}\s*,\s*\{")
    while True:
        match = pattern.search(sc.buf, sc.pos)
        if match:
            sc.pos = match.end() - 1
            return True
        keep = max(sc.pos, len(sc.buf) - 256)
        sc.pos = keep
        if not sc.fill():
            return False


def iter_csv(path: Path, start_after: int = 0) -> Iterator[Record]:
    """Rows of a CSV file with a header line, as dicts keyed by the header."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open_binary(path) as (stream, raw):
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        try:
            header = _header(next(reader), path)
        except StopIteration:
            return
        index = 0
        last_line = reader.line_num
        while True:
            start_line = last_line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                index += 1
                if reader.line_num == last_line:  # no progress: give up on the rest rather than loop
                    raise ValueError(f"{path}: unreadable CSV at line {start_line}: {exc}") from exc
                last_line = reader.line_num
                if index > start_after:
                    yield Record(index, start_line, error=f"not CSV: {exc}", pos=raw.tell())
                continue
            last_line = reader.line_num
            index += 1
            if index <= start_after:
                continue
            if not any(cell.strip() for cell in row):
                yield Record(index, start_line, blank=True, pos=raw.tell())
            elif any(_UNDECODABLE.search(cell) for cell in row):
                yield Record(index, start_line, error=NOT_UTF8, pos=raw.tell())
            elif len(row) > len(header):
                yield Record(index, start_line, error=f"row has {len(row)} fields, the header has {len(header)}",
                             pos=raw.tell())
            else:
                yield Record(index, start_line, value=dict(zip(header, row, strict=False)), pos=raw.tell())


def _header(row: list[str], path: Path) -> list[str]:
    if any(_UNDECODABLE.search(cell) for cell in row):
        raise ValueError(f"{path}: the header line is {NOT_UTF8}")
    return [h.strip() for h in row]


def csv_header(path: Path) -> list[str]:
    with open_binary(path) as (stream, _):
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        return _header(next(csv.reader(text), []), path)


def looks_like_csv(path: Path) -> bool:
    """CSV by suffix (.csv, .tsv-less), JSON Lines by suffix (.jsonl/.ndjson/.json), else by the first character."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return True
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return False
    with open_binary(path) as (stream, _):
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return not head.startswith(b"{")


def file_size(path: Path) -> int:
    return os.stat(path).st_size
