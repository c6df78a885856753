"""Reading an uploaded lead list: strict UTF-8 CSV (BOM or not), the delimiter sniffed, records streamed in chunks.

The file is read from a seekable binary file (the spooled upload) a chunk of records at a time, so a 100,000-row
list never sits in memory whole. Everything here is synchronous and CPU-bound: callers run it in a thread.
A file that is not text CSV fails with :class:`~opencaller.errors.ValidationFailed` naming the problem.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from opencaller.errors import ErrorDetail, ValidationFailed

SNIFF_BYTES = 4096
DELIMITERS = ",;\t"
SAVE_AS = "save it from your spreadsheet as 'CSV UTF-8'"
_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}


def bad_file(message: str) -> ValidationFailed:
    """The error for a file that cannot be read as a lead list at all (nothing is imported)."""
    return ValidationFailed(message, [ErrorDetail("file", message)])


@dataclass(frozen=True)
class Record:
    """One data record: ``row`` counts data records from 1 (the header is not a row); ``values`` as read."""

    row: int
    values: list[str]


class LeadCsvReader:
    """Streams a CSV lead list: :meth:`open` checks the encoding and reads the header, then :meth:`read_chunk`
    returns the next records until the file is exhausted."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._text: io.TextIOWrapper | None = None
        self._records: Iterator[list[str]] | None = None
        self._next_row = 1
        self.header: list[str] = []
        self.delimiter = ","

    def open(self) -> list[str]:
        """Check that the file is UTF-8 CSV, sniff its delimiter and return its header (names trimmed)."""
        self._raw.seek(0)
        sample = self._raw.read(SNIFF_BYTES)
        text = _decoded_sample(sample, complete=len(sample) < SNIFF_BYTES)
        if not text.strip():
            raise bad_file("the file is empty: a lead list needs a header row and at least one row of data")
        self.delimiter = sniff_delimiter(text, truncated=len(sample) >= SNIFF_BYTES)
        self._raw.seek(0)
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", errors="strict", newline="")
        self._records = csv.reader(self._text, delimiter=self.delimiter)
        first = self._next_record()
        while first is not None and not any(cell.strip() for cell in first):
            first = self._next_record()  # blank lines before the header
        if first is None:
            raise bad_file("the file is empty: a lead list needs a header row and at least one row of data")
        self.header = [cell.strip() for cell in first]
        return self.header

    def read_chunk(self, size: int) -> list[Record]:
        """Up to ``size`` more records (fewer, or none, at the end of the file)."""
        chunk: list[Record] = []
        while len(chunk) < size:
            values = self._next_record()
            if values is None:
                break
            chunk.append(Record(self._next_row, values))
            self._next_row += 1
        return chunk

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got (for progress bars)."""
        return self._raw.tell()

    def _next_record(self) -> list[str] | None:
        assert self._records is not None, "open() first"
        try:
            return next(self._records)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            line = self._line_number() + 1
            raise bad_file(f"the file is not UTF-8 text (a byte near line {line} is not UTF-8): {SAVE_AS}") from exc
        except csv.Error as exc:
            problem = str(exc)
            if "NUL" in problem:
                raise bad_file(f"the file is not a CSV text file (it contains NUL bytes): {SAVE_AS}") from exc
            raise bad_file(f"the file is not valid CSV near line {self._line_number()}: {problem}") from exc

    def _line_number(self) -> int:
        reader = self._records
        return int(getattr(reader, "line_num", 0))


def _decoded_sample(sample: bytes, *, complete: bool) -> str:
    """The file's first bytes as text, or a clear error when they are not UTF-8 text."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise bad_file(f"the file is UTF-16 text, not UTF-8: {SAVE_AS}")
    for signature, kind in _SIGNATURES.items():
        if sample.startswith(signature):
            raise bad_file(f"the file is {kind}, not a CSV file: {SAVE_AS}")
    if b"\x00" in sample:
        raise bad_file(f"the file is not a CSV text file (it contains binary data): {SAVE_AS}")
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    try:
        return decoder.decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        raise bad_file(
            f"the file is not UTF-8 text (byte 0x{sample[exc.start]:02x} at offset {exc.start}): {SAVE_AS}"
        ) from exc


def sniff_delimiter(sample: str, *, truncated: bool = False) -> str:
    """The sample's delimiter among comma, semicolon and tab; comma when the file has a single column.

    ``csv.Sniffer`` looks at the complete lines; its answer is kept only when the header line contains it,
    otherwise the delimiter that splits the header line most wins.
    """
    lines = sample.splitlines()
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last line was cut by the sample size
    lines = [line for line in lines if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in header:
        return sniffed
    counts = {d: len(next(csv.reader([header], delimiter=d))) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","
