"""Where the command-line tool's texts come from: arguments, stdin lines, or a JSONL file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["STDIN", "InputError", "TextSource", "count_jsonl_texts", "iter_jsonl_texts", "text_source"]

#: The argument that stands for standard input.
STDIN = "-"


class InputError(ValueError):
    """The texts given to the command cannot be read (message names the place)."""


def _text_from_line(line: str, where: str) -> str:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from exc
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str):
        raise InputError(f'{where}: expected a JSON string or an object with a "text" string')
    return value


def iter_jsonl_texts(stream: TextIO, name: str) -> Iterator[str]:
    """Texts of a JSONL stream: each non-blank line a JSON string or ``{"text": ...}``."""
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield _text_from_line(line, f"{name} line {number}")


def count_jsonl_texts(path: Path) -> int:
    """How many texts a JSONL file holds (its non-blank lines), for the progress bar."""
    with path.open(encoding="utf-8") as stream:
        return sum(1 for line in stream if line.strip())


class TextSource:
    """The texts of one command, streamed, with their count when it is known up front."""

    def __init__(self, texts: Iterator[str], total: int | None, from_file: bool) -> None:
        self.texts = texts
        self.total = total
        self.from_file = from_file


def _stdin_lines(stdin: TextIO) -> Iterator[str]:
    for line in stdin:
        if line.strip():
            yield line.rstrip("\n")


def _file_texts(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as stream:
        yield from iter_jsonl_texts(stream, str(path))


def text_source(arguments: Sequence[str], file: str | None, stdin: TextIO | None = None) -> TextSource:
    """Pick the texts: ``TEXT`` arguments (``-`` = one text per stdin line) or ``--file``.

    Raises:
        InputError: When both or neither are given, or the file is missing.
    """
    stdin = stdin if stdin is not None else sys.stdin
    if file is not None and arguments:
        raise InputError("give texts as arguments or with --file, not both")
    if file == STDIN:
        return TextSource(iter_jsonl_texts(stdin, "stdin"), None, from_file=True)
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"--file {file}: no such file")
        return TextSource(_file_texts(path), count_jsonl_texts(path), from_file=True)
    if not arguments:
        raise InputError("no texts: pass TEXT arguments, '-' to read one text per line from stdin, or --file")
    if STDIN in arguments:
        if len(arguments) > 1:
            raise InputError("'-' (stdin) cannot be mixed with TEXT arguments")
        return TextSource(_stdin_lines(stdin), None, from_file=False)
    return TextSource(iter(list(arguments)), len(arguments), from_file=False)
