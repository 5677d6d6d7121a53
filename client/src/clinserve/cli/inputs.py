"""Where the command-line tool's texts come from: arguments, stdin lines, or a JSONL file.

Every text is an :class:`InputRecord` that knows its line in the input (blank lines count, so
results can be matched to input lines), or the problem that makes the line unusable (not
UTF-8, not JSON, empty): a batch run can skip such a line and go on. Input is read as bytes
and decoded line by line, so a bad byte is reported with its line and offset.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["STDIN", "InputError", "InputRecord", "TextSource", "count_records", "text_source"]

#: The argument that stands for standard input.
STDIN = "-"


class InputError(ValueError):
    """The texts given to the command cannot be read (message names the place)."""


@dataclass(frozen=True)
class InputRecord:
    """One text of the input, or why its line cannot be used.

    Attributes:
        line: Line number in the input, from 1, blank lines counted (for TEXT arguments, the
            argument's position).
        text: The text, or ``None`` when the line is unusable.
        error: Why the line is unusable, or ``None``.
    """

    line: int
    text: str | None
    error: str | None = None


def _decoded_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, str | None, str | None]]:
    """``(line number, text, error)`` for each line of a byte stream, decoded as strict UTF-8."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1]
            yield (
                number,
                None,
                f"{name} line {number} is not valid UTF-8: byte {exc.start} ({bad!r}) cannot be"
                f" decoded ({exc.reason}); save the input as UTF-8 (or convert it, e.g. with iconv)",
            )


def _checked(number: int, text: str, where: str) -> InputRecord:
    if not text.strip():
        return InputRecord(number, None, f"{where} is empty or whitespace only: there is nothing to classify")
    return InputRecord(number, text)


def _text_from_json(line: str, where: str) -> str:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from exc
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str):
        raise InputError(f'{where}: expected a JSON string or an object with a "text" string')
    return value


def jsonl_records(stream: BinaryIO, name: str) -> Iterator[InputRecord]:
    """Records of a JSONL stream: each non-blank line a JSON string or ``{"text": ...}``."""
    for number, line, error in _decoded_lines(stream, name):
        if line is None:
            yield InputRecord(number, None, error)
        elif line.strip():
            where = f"{name} line {number}"
            try:
                yield _checked(number, _text_from_json(line, where), where)
            except InputError as exc:
                yield InputRecord(number, None, str(exc))


def plain_records(stream: BinaryIO, name: str) -> Iterator[InputRecord]:
    """Records of a plain stream: each non-blank line one text (its line break dropped)."""
    for number, line, error in _decoded_lines(stream, name):
        if line is None:
            yield InputRecord(number, None, error)
        elif line.strip():
            yield InputRecord(number, line.rstrip("\r\n"))


def count_records(path: Path) -> int:
    """How many texts a JSONL file holds (its non-blank lines), for the progress bar."""
    with path.open("rb") as stream:
        return sum(1 for line in stream if line.strip())


class TextSource:
    """The records of one command, streamed, with their count when it is known up front."""

    def __init__(self, records: Iterator[InputRecord], total: int | None, from_file: bool) -> None:
        self.records = records
        self.total = total
        self.from_file = from_file


def _file_records(path: Path) -> Iterator[InputRecord]:
    with path.open("rb") as stream:
        yield from jsonl_records(stream, str(path))


def text_source(arguments: Sequence[str], file: str | None, stdin: BinaryIO | None = None) -> TextSource:
    """Pick the texts: ``TEXT`` arguments (``-`` = one text per stdin line) or ``--file``.

    Raises:
        InputError: When both or neither are given, or the file is missing.
    """
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if file is not None and arguments:
        raise InputError("give texts as arguments or with --file, not both")
    if file == STDIN:
        return TextSource(jsonl_records(stdin, "stdin"), None, from_file=True)
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"--file {file}: no such file")
        return TextSource(_file_records(path), count_records(path), from_file=True)
    if not arguments:
        raise InputError("no texts: pass TEXT arguments, '-' to read one text per line from stdin, or --file")
    if STDIN in arguments:
        if len(arguments) > 1:
            raise InputError("'-' (stdin) cannot be mixed with TEXT arguments")
        return TextSource(plain_records(stdin, "stdin"), None, from_file=False)
    records = [_checked(i, text, f"TEXT argument {i}") for i, text in enumerate(arguments, start=1)]
    return TextSource(iter(records), len(arguments), from_file=False)
