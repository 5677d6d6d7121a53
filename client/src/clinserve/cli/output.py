"""What the command-line tool prints: aligned tables, JSON lines, warnings and a progress line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, Callable, TextIO

from clinserve.errors import ClinServeError
from clinserve.model_info import ModelInfo
from clinserve.results import (
    ClassificationResult,
    EntitiesResult,
    MultiLabelResult,
    Result,
    ResultKind,
    SentencePrediction,
    SentenceResult,
)

__all__ = [
    "MODEL_HEADERS",
    "RESULT_HEADERS",
    "Progress",
    "error_record",
    "error_row",
    "format_table",
    "json_line",
    "model_rows",
    "result_rows",
    "truncation_warning",
]

#: Widest text cell in a table; longer text is cut with an ellipsis.
TEXT_COLUMN_WIDTH = 60
#: Widest labels cell of the models table; the rest are counted as "(+N more)".
LABELS_COLUMN_WIDTH = 48
#: Least time between two redraws of the progress line, in seconds.
PROGRESS_REDRAW_S = 0.1

#: Table columns per result kind; the first is the input line the row answers.
RESULT_HEADERS = {
    ResultKind.CLASSIFICATION: ("line", "label", "score", "text"),
    ResultKind.MULTI_LABEL: ("line", "labels above threshold", "text"),
    ResultKind.SENTENCES: ("line", "sentence", "span", "label", "score", "text"),
    ResultKind.ENTITIES: ("line", "entity", "span", "confidence", "text"),
}
MODEL_HEADERS = ("model", "task", "labels", "max texts", "version", "weights")


def shorten(text: str, width: int = TEXT_COLUMN_WIDTH) -> str:
    """One line of at most ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces (the last column is not padded)."""
    widths = [max([len(headers[i])] + [len(row[i]) for row in rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths[:-1])]
        return "  ".join([*padded, cells[-1]]).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def result_rows(line: int, text: str, result: Result) -> list[list[str]]:
    """Table rows for the result of the text on input line ``line`` (one per sentence or entity)."""
    number = str(line)
    if isinstance(result, ClassificationResult):
        return [[number, result.label, f"{result.score:.4f}", shorten(text)]]
    if isinstance(result, MultiLabelResult):
        labels = ", ".join(f"{item.label} {item.score:.2f}" for item in result.labels) or "(none)"
        return [[number, labels, shorten(text)]]
    if isinstance(result, SentenceResult):
        return [
            [number, str(s.index), f"{s.begin}-{s.end}", *_sentence_answer(s), shorten(s.text)]
            for s in result.sentences
        ]
    if isinstance(result, EntitiesResult):
        if not result.entities:
            return [[number, "(none)", "", "", shorten(text)]]
        return [
            [number, e.entity, f"{e.begin}-{e.end}", f"{e.confidence:.4f}", shorten(e.text)]
            for e in result.entities
        ]
    raise TypeError(f"not a clinserve result: {type(result).__name__}")


def _sentence_answer(sentence: SentencePrediction) -> list[str]:
    if sentence.label is not None and sentence.score is not None:
        return [sentence.label, f"{sentence.score:.4f}"]
    # multi-label model: the labels above its threshold
    return [", ".join(f"{item.label} {item.score:.2f}" for item in sentence.labels) or "(none)", ""]


def error_row(line: int, error: ClinServeError | str, columns: int) -> list[str]:
    """A table row for an input line that failed: ``ERROR`` and the message in the text column."""
    kind = type(error).__name__ if isinstance(error, ClinServeError) else "InputError"
    return [str(line), f"ERROR {kind}", *([""] * (columns - 3)), str(error)]


def error_record(line: int, index: int, error: ClinServeError | str) -> dict[str, Any]:
    """The JSON record of an input line that failed: its line, the error kind and message."""
    if isinstance(error, ClinServeError):
        return {
            "line": line,
            "index": index,
            "error": type(error).__name__,
            "status": error.status,
            "message": error.message,
        }
    return {"line": line, "index": index, "error": "InputError", "status": None, "message": error}


def truncation_warning(line: int, result: Result, max_tokens: int) -> str | None:
    """A warning for a result that did not read all of its text, or ``None``."""
    if not result.truncated:
        return None
    if isinstance(result, SentenceResult):
        cut = sum(1 for s in result.sentences if s.truncated)
        return (
            f"line {line}: {cut} sentence(s) longer than the model's {max_tokens} tokens were cut:"
            f" {result.dropped_tokens:,} word-pieces were not read"
        )
    return (
        f"line {line}: the text was cut at the model's {max_tokens} tokens:"
        f" {result.dropped_tokens:,} word-pieces were not read (--mode sentences or --mode document"
        " reads all of it)"
    )


def model_rows(models: Sequence[ModelInfo]) -> list[list[str]]:
    """Rows of the ``clinserve models`` table."""
    rows = []
    for info in models:
        task = info.task + (" (per sentence)" if info.per_sentence else "")
        shown = ""
        for count, label in enumerate(info.labels):
            candidate = f"{shown}, {label}" if shown else label
            if count and len(candidate) > LABELS_COLUMN_WIDTH:
                shown += f" (+{len(info.labels) - count} more)"
                break
            shown = candidate
        weights = info.weights + (" (UNTRAINED)" if info.untrained else "")
        if info.weights_digest:
            weights += f" {info.weights_digest}"
        version = "" if info.model_version is None else str(info.model_version)
        rows.append([info.name, task, shown, str(info.max_texts_per_request), version, weights])
    return rows


def json_line(document: dict[str, Any]) -> str:
    """One JSON document on one line (UTF-8 kept readable)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


class Progress:
    """A one-line progress display on a stream (stderr), redrawn in place.

    Args:
        total: Texts expected, or ``None`` when unknown (stdin).
        stream: Where to draw.
        clock: Time source (tests pass a fake one).
    """

    BAR_WIDTH = 30

    def __init__(
        self, total: int | None, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._start = clock()
        self._last_draw = float("-inf")
        self.done = 0
        self.errors = 0

    def render(self) -> str:
        """The current line, without the carriage return."""
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = f"{self.done / elapsed:.1f} texts/s"
        errors = f"  {self.errors} failed" if self.errors else ""
        if self.total:
            filled = int(self.BAR_WIDTH * min(self.done, self.total) / self.total)
            bar = "#" * filled + "." * (self.BAR_WIDTH - filled)
            return f"[{bar}] {self.done}/{self.total} texts{errors}  {rate}"
        return f"{self.done} texts{errors}  {rate}"

    def update(self, done: int, *, errors: int | None = None, force: bool = False) -> None:
        """Record ``done`` texts finished (``errors`` of them failed) and redraw.

        Redraws at most every ``PROGRESS_REDRAW_S`` unless ``force``.
        """
        self.done = done
        if errors is not None:
            self.errors = errors
        now = self._clock()
        if force or now - self._last_draw >= PROGRESS_REDRAW_S:
            self._last_draw = now
            self.stream.write("\r" + self.render())
            self.stream.flush()

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self.update(self.done, force=True)
        self.stream.write("\n")
        self.stream.flush()
