"""``clinserve classify`` as a batch job: input lines in, one result or error record per line out.

Lines are read and sent in windows (as many texts as the client keeps in flight at once), and
results are written as each window completes, in input order, each with its input line. A line
that fails is either the end of the run (``--on-error stop``, the default: everything before it
has been written) or an error record in the output (``--on-error skip``) while the run goes on.

When a window's call fails because of one of its texts, the window is halved until the text
that fails is found: one bad line costs a few extra requests, not the window. Errors that are
about the server rather than a line (unreachable, overloaded, past the deadline, no such model)
end the run in either mode: every later line would fail the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Callable, TextIO, Union

from clinserve.cli.inputs import InputRecord, TextSource
from clinserve.cli.output import (
    RESULT_HEADERS,
    Progress,
    error_record,
    error_row,
    format_table,
    json_line,
    result_rows,
    truncation_warning,
)
from clinserve.client import ClinServeClient
from clinserve.errors import (
    ClinServeError,
    DeadlineExceededError,
    ModelNotFoundError,
    OverloadedError,
    PermissionDeniedError,
    UnavailableError,
)
from clinserve.model_info import ModelInfo
from clinserve.results import Result

__all__ = ["ON_ERROR_CHOICES", "BatchSummary", "LineFailed", "predict_isolating", "run_batch"]

#: ``--on-error`` values: stop at the first failing line, or record it and go on.
ON_ERROR_CHOICES = ("stop", "skip")
#: Errors about the server, not a line: they end the run whatever ``--on-error`` says.
RUN_ERRORS = (
    UnavailableError,
    DeadlineExceededError,
    OverloadedError,
    PermissionDeniedError,
    ModelNotFoundError,
)
#: Truncation warnings printed one by one; beyond this only their count is given at the end.
MAX_TRUNCATION_WARNINGS = 10

Outcome = Union[Result, ClinServeError]  # a runtime alias: no "X | Y" on Python 3.9


class LineFailed(Exception):
    """An input line failed and the run stops there (``--on-error stop``).

    Attributes:
        line: The input line.
        error: The client's error, or the reason the line could not be read.
    """

    def __init__(self, line: int, error: ClinServeError | str) -> None:
        super().__init__(f"line {line}: {error}")
        self.line = line
        self.error = error


@dataclass(frozen=True)
class BatchSummary:
    """What a run did: texts read, lines that failed, texts that were truncated."""

    texts: int
    failed: int
    truncated: int


def predict_isolating(
    client: ClinServeClient,
    model: str,
    texts: Sequence[str],
    mode: str | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Results of ``texts``, with the error in place of each text that fails on its own.

    Raises:
        ClinServeError: An error about the server rather than a text (:data:`RUN_ERRORS`).
    """
    if not texts:
        return []
    try:
        return list(client.predict(model, texts, mode=mode, on_progress=on_progress))
    except RUN_ERRORS:
        raise
    except ClinServeError as error:
        if len(texts) == 1:
            return [error]
    half = len(texts) // 2
    return predict_isolating(client, model, texts[:half], mode) + predict_isolating(
        client, model, texts[half:], mode
    )


class _Writer:
    """Writes results and error records, as a table or JSON lines, and truncation warnings."""

    def __init__(self, out: TextIO, err: TextIO, info: ModelInfo, mode: str | None, *, as_json: bool) -> None:
        self.out, self.err = out, err
        self.as_json = as_json
        self.max_tokens = info.max_tokens
        self.headers = RESULT_HEADERS[info.kind_for(mode)]
        self.rows: list[list[str]] = []
        self.headers_written = False
        self.truncated = 0

    def result(self, record: InputRecord, index: int, text: str, result: Result) -> None:
        if self.as_json:
            self.out.write(json_line({"line": record.line, "index": index, **result.to_dict()}) + "\n")
        else:
            self.rows.extend(result_rows(record.line, text, result))
        warning = truncation_warning(record.line, result, self.max_tokens)
        if warning is not None:
            self.truncated += 1
            if self.truncated <= MAX_TRUNCATION_WARNINGS:
                self.err.write(f"warning: {warning}\n")

    def error(self, record: InputRecord, index: int, error: ClinServeError | str) -> None:
        if self.as_json:
            self.out.write(json_line(error_record(record.line, index, error)) + "\n")
        else:
            self.rows.append(error_row(record.line, error, len(self.headers)))

    def flush(self) -> None:
        if self.rows:
            table = format_table(self.headers, self.rows)
            self.out.write((table if not self.headers_written else table.split("\n", 1)[1]) + "\n")
            self.headers_written = True
            self.rows = []
        self.out.flush()

    def finish(self) -> None:
        hidden = self.truncated - MAX_TRUNCATION_WARNINGS
        if hidden > 0:
            self.err.write(
                f"warning: {hidden} more texts were truncated ({self.truncated} in all; --json shows"
                " each result's truncated and dropped_tokens)\n"
            )


def _windows(records: Iterable[InputRecord], size: int) -> Iterator[list[InputRecord]]:
    iterator = iter(records)
    while window := list(itertools.islice(iterator, size)):
        yield window


def run_batch(
    client: ClinServeClient,
    info: ModelInfo,
    source: TextSource,
    *,
    mode: str | None,
    as_json: bool,
    on_error: str,
    progress: Progress | None,
    out: TextIO,
    err: TextIO,
) -> BatchSummary:
    """Classify every input line, writing results (and error records) in input order.

    Raises:
        LineFailed: With ``on_error="stop"``, at the first line that fails.
        ClinServeError: An error about the server (:data:`RUN_ERRORS`), in either mode.
    """
    writer = _Writer(out, err, info, mode, as_json=as_json)
    window_size = info.max_texts_per_request * client.options.max_concurrent_requests
    index = failed = 0
    for window in _windows(source.records, window_size):
        stop_at = next((r for r in window if r.text is None), None) if on_error == "stop" else None
        if stop_at is not None:
            window = window[: window.index(stop_at)]
        texts = [r.text for r in window if r.text is not None]
        done_before, failed_before = index, failed

        def report(done: int, _total: int, offset: int = done_before, errors: int = failed_before) -> None:
            if progress is not None:
                progress.update(offset + done, errors=errors)

        outcomes = iter(predict_isolating(client, info.name, texts, mode, on_progress=report))
        for record in window:
            outcome: Outcome | str = next(outcomes) if record.text is not None else (record.error or "")
            if isinstance(outcome, (ClinServeError, str)):
                if on_error == "stop":
                    writer.flush()
                    raise LineFailed(record.line, outcome)
                failed += 1
                writer.error(record, index, outcome)
            else:
                writer.result(record, index, record.text or "", outcome)
            index += 1
        writer.flush()
        if progress is not None:
            progress.update(index, errors=failed)
        if stop_at is not None:
            raise LineFailed(stop_at.line, stop_at.error or "")
    writer.finish()
    return BatchSummary(texts=index, failed=failed, truncated=writer.truncated)
