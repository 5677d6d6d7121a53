"""``clinserve classify`` as a batch job: line numbers, --on-error, bad lines found (no server).

A small stand-in for the client answers each text with a classification, and refuses a whole
request when one of its texts contains "BAD" (as the server refuses a request for one text).
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

import pytest

from clinserve.cli.batch import BatchSummary, LineFailed, predict_isolating, run_batch
from clinserve.cli.inputs import text_source
from clinserve.cli.output import Progress
from clinserve.errors import InvalidInputError, UnavailableError
from clinserve.model_info import ModelInfo
from clinserve.results import ClassificationResult, LabelScore

INFO = ModelInfo("m", "single_label", ("a", "b"), False, 8, 2, "seed", "demo-tiny", True)


class FakeClient:
    """Answers like ClinServeClient.predict; two texts per request, one request at a time."""

    def __init__(self, *, down: bool = False) -> None:
        self.options = SimpleNamespace(max_concurrent_requests=1)
        self.calls: list[list[str]] = []
        self.down = down

    def predict(
        self, model: str, texts: list[str], *, mode: Any = None, on_progress: Any = None
    ) -> list[Any]:
        self.calls.append(list(texts))
        if self.down:
            raise UnavailableError("cannot reach h:1: nothing is listening there")
        bad = [i for i, t in enumerate(texts) if "BAD" in t]
        if bad:
            raise InvalidInputError(f"TEXT[{bad[0]}] is refused", status="INVALID_ARGUMENT")
        return [answer(model, text) for text in texts]


def answer(model: str, text: str) -> ClassificationResult:
    cut = 99 if len(text) > 20 else 0
    scores = (LabelScore("a", 0.6), LabelScore("b", 0.4))
    return ClassificationResult(
        model=model,
        untrained=True,
        weights="demo-tiny",
        truncated=cut > 0,
        dropped_tokens=cut,
        mode="whole",
        label="a",
        score=0.6,
        scores=scores,
    )


def run(stdin: bytes, on_error: str, *, as_json: bool = True, client: FakeClient | None = None):
    """Run a batch over ``stdin``; the summary, or the LineFailed that stopped it, and the output."""
    out, err = io.StringIO(), io.StringIO()
    source = text_source(["-"], None, stdin=io.BytesIO(stdin))
    progress = Progress(None, stream=io.StringIO(), clock=lambda: 1.0)
    try:
        summary: BatchSummary | LineFailed = run_batch(
            client or FakeClient(),  # type: ignore[arg-type]
            INFO,
            source,
            mode=None,
            as_json=as_json,
            on_error=on_error,
            progress=progress,
            out=out,
            err=err,
        )
    except LineFailed as stopped:
        summary = stopped
    return summary, out.getvalue(), err.getvalue(), progress


def test_a_bad_text_among_many_is_found_by_halving_the_request():
    client = FakeClient()
    texts = [f"text {i}" for i in range(8)]
    texts[5] = "BAD text"
    outcomes = predict_isolating(client, "m", texts, None)  # type: ignore[arg-type]
    assert [type(o).__name__ for o in outcomes] == ["ClassificationResult"] * 5 + ["InvalidInputError"] + [
        "ClassificationResult"
    ] * 2
    assert len(client.calls) <= 1 + 2 * 3  # the full request, then halves down to the text


def test_errors_about_the_server_end_the_run_whatever_on_error_says():
    with pytest.raises(UnavailableError):
        run(b"one\ntwo\n", "skip", client=FakeClient(down=True))


def test_skip_writes_an_error_record_per_bad_line_and_every_result_has_its_input_line():
    stdin = b"first\n\nsecond BAD\n\xff\xfe\nthird\n"
    summary, out, _, progress = run(stdin, "skip")
    assert isinstance(summary, BatchSummary)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["line"], r["index"], r.get("error")) for r in lines] == [
        (1, 0, None),
        (3, 1, "InvalidInputError"),
        (4, 2, "InputError"),
        (5, 3, None),
    ]
    assert lines[1]["status"] == "INVALID_ARGUMENT" and "refused" in lines[1]["message"]
    assert "not valid UTF-8" in lines[2]["message"]
    assert (summary.texts, summary.failed) == (4, 2)
    assert progress.render().startswith("4 texts  2 failed")


def test_stop_writes_everything_before_the_bad_line_then_stops_there():
    stopped, out, _, _ = run(b"one\ntwo\nthree\nfour BAD\nfive\n", "stop")
    assert isinstance(stopped, LineFailed)
    assert stopped.line == 4 and isinstance(stopped.error, InvalidInputError)
    assert [json.loads(line)["line"] for line in out.splitlines()] == [1, 2, 3]


def test_stop_does_not_send_the_lines_after_an_unreadable_one():
    client = FakeClient()
    stopped, _, _, _ = run(b"one\n\xff\nthree\n", "stop", client=client)
    assert isinstance(stopped, LineFailed)
    assert stopped.line == 2 and "not valid UTF-8" in str(stopped)
    assert client.calls == [["one"]]


def test_a_table_marks_failed_lines_and_truncated_texts_are_warned_about():
    summary, out, err, _ = run(b"short\nBAD\n" + b"a long text past the limit\n", "skip", as_json=False)
    assert isinstance(summary, BatchSummary)
    header, first, failed, long = out.splitlines()
    assert header.split() == ["line", "label", "score", "text"]
    assert first.split()[:2] == ["1", "a"] and failed.split()[:3] == ["2", "ERROR", "InvalidInputError"]
    assert long.split()[0] == "3"
    assert "warning: line 3: the text was cut at the model's 8 tokens: 99 word-pieces were not read" in err
    assert summary.truncated == 1
