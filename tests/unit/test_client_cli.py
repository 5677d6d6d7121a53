"""The command-line tool's parsing, inputs and output formatting (no server)."""

from __future__ import annotations

import argparse
import io
import json
import re
from typing import Any

import pytest

from clinserve.cli import main as cli
from clinserve.cli.batch import LineFailed
from clinserve.cli.inputs import InputError, text_source
from clinserve.cli.output import (
    MODEL_HEADERS,
    Progress,
    error_record,
    error_row,
    format_table,
    json_line,
    model_rows,
    result_rows,
    truncation_warning,
)
from clinserve.errors import InvalidInputError, ModelNotFoundError, ServerError, UnavailableError
from clinserve.model_info import ModelInfo
from clinserve.options import DEFAULT_URL
from clinserve.results import (
    ClassificationResult,
    EntitiesResult,
    Entity,
    LabelScore,
    MultiLabelResult,
    SentencePrediction,
    SentenceResult,
)

COMMON: dict[str, Any] = {
    "model": "m",
    "untrained": True,
    "weights": "demo-tiny",
    "truncated": False,
    "dropped_tokens": 0,
    "mode": None,
}


def test_classify_parses_model_texts_and_options(monkeypatch):
    monkeypatch.delenv(cli.URL_ENV, raising=False)
    args = cli.build_parser().parse_args(
        ["classify", "--model", "biomarker", "a", "b", "--json", "--timeout", "5"]
    )
    assert (args.model, args.texts, args.json, args.timeout, args.url) == (
        "biomarker",
        ["a", "b"],
        True,
        5.0,
        DEFAULT_URL,
    )
    assert args.handler is cli.run_classify
    assert args.progress is None
    assert args.mode is None
    assert (
        cli.build_parser().parse_args(["classify", "-m", "biomarker", "--mode", "document", "t"]).mode
        == "document"
    )


def test_url_and_admin_key_default_from_the_environment(monkeypatch):
    monkeypatch.setenv(cli.URL_ENV, "10.1.2.3:9001")
    monkeypatch.setenv(cli.ADMIN_KEY_ENV, "s3cret")
    args = cli.build_parser().parse_args(["models"])
    assert (args.url, args.admin_key) == ("10.1.2.3:9001", "s3cret")


def test_classify_without_a_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.build_parser().parse_args(["classify", "text"])
    assert caught.value.code == 2
    assert "--model" in capsys.readouterr().err


def test_classify_without_texts_exits_2_before_connecting(capsys):
    assert cli.main(["classify", "--model", "m", "--url", "127.0.0.1:1"]) == 2
    assert "no texts" in capsys.readouterr().err


def test_headers_and_tls_options_build_the_client_options(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n")
    args = cli.build_parser().parse_args(
        ["models", "--header", "X-Team=nlp", "--admin-key", "k", "--ca", str(ca), "--url", "a:1,b:2"]
    )
    client = cli.client_from_args(args)
    try:
        assert client.targets == ["a:1", "b:2"]
        assert client.options.headers == {"x-team": "nlp", "triton-grpc-protocol-admin-key": "k"}
        assert client.options.tls is not None and client.options.tls.root_ca == ca
    finally:
        client.close()


def test_a_malformed_header_is_refused():
    args = cli.build_parser().parse_args(["models", "--header", "no-equals-sign"])
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        cli.client_from_args(args)


def records(source) -> list[tuple[int, str | None, str | None]]:
    return [(r.line, r.text, r.error) for r in source.records]


def test_texts_from_arguments_stdin_lines_and_jsonl_keep_their_line_numbers(tmp_path):
    assert records(text_source(["a", "b"], None)) == [(1, "a", None), (2, "b", None)]
    stdin = io.BytesIO(b"first line\r\n\n  \nsecond line\n")
    source = text_source(["-"], None, stdin=stdin)
    assert records(source) == [(1, "first line", None), (4, "second line", None)]
    assert source.total is None
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "one", "id": 7}\n"two"\n\n{"text": "thr\\u00e9e"}\n', encoding="utf-8")
    source = text_source([], str(path))
    assert source.total == 3 and source.from_file
    assert [(line, text) for line, text, _ in records(source)] == [(1, "one"), (2, "two"), (4, "thrée")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{oops", "line 2: not valid JSON"),
        (b'{"txt": "x"}', 'line 2: expected a JSON string or an object with a "text"'),
        (b"42", "line 2: expected a JSON string"),
        (b'"   "', "line 2 is empty or whitespace only"),
        (b'"caf\xe9"', r"line 2 is not valid UTF-8: byte 4 \(b'\\xe9'\) cannot be decoded"),
    ],
)
def test_a_bad_jsonl_line_is_a_record_naming_its_line_and_the_next_ones_are_read(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'"fine"\n' + line + b'\n"after"\n')
    first, bad, after = text_source([], str(path)).records
    assert (first.text, after.line, after.text) == ("fine", 3, "after")
    assert bad.line == 2 and bad.text is None and re.search(message, bad.error or "")


def test_invalid_utf8_on_stdin_names_the_line_and_the_byte():
    [good, bad] = text_source(["-"], None, stdin=io.BytesIO(b"ok\nab\xffc\n")).records
    assert good.text == "ok"
    assert bad.error is not None and bad.error.startswith(
        "stdin line 2 is not valid UTF-8: byte 2 (b'\\xff')"
    )


@pytest.mark.parametrize(
    ("arguments", "file", "message"),
    [
        (["a"], "x.jsonl", "not both"),
        ([], None, "no texts"),
        (["-", "a"], None, "cannot be mixed"),
        ([], "/no/such/file.jsonl", "no such file"),
    ],
)
def test_text_source_refuses_ambiguous_or_missing_input(arguments, file, message):
    with pytest.raises(InputError, match=message):
        text_source(arguments, file)


def test_table_columns_are_aligned_and_the_last_one_is_not_padded():
    table = format_table(("#", "label", "text"), [["0", "negative", "short"], ["10", "yes", "longer text"]])
    assert table.splitlines() == ["#   label     text", "0   negative  short", "10  yes       longer text"]


def test_result_rows_for_every_result_kind():
    scores = (LabelScore("a", 0.25), LabelScore("b", 0.75))
    classification = ClassificationResult(**COMMON, label="b", score=0.75, scores=scores)
    assert result_rows(3, "some\ntext", classification) == [["3", "b", "0.7500", "some text"]]
    multi = MultiLabelResult(**COMMON, labels=(LabelScore("b", 0.75),), scores=scores, threshold=0.5)
    assert result_rows(0, "t", multi) == [["0", "b 0.75", "t"]]
    empty_multi = MultiLabelResult(**COMMON, labels=(), scores=scores, threshold=0.5)
    assert result_rows(0, "t", empty_multi)[0][1] == "(none)"
    sentence = SentencePrediction(0, 0, 4, "One.", "1", 0.6, scores, False, 0)
    assert result_rows(1, "One.", SentenceResult(**COMMON, sentences=(sentence,))) == [
        ["1", "0", "0-4", "1", "0.6000", "One."]
    ]
    multi_sentence = SentencePrediction(
        0, 0, 4, "One.", None, None, scores, False, 0, labels=(LabelScore("b", 0.75),), threshold=0.5
    )
    assert result_rows(4, "One.", SentenceResult(**COMMON, sentences=(multi_sentence,)))[0][3:5] == [
        "b 0.75",
        "",
    ]
    entity = Entity("Drug", "aspirin", 5, 12, 0.91234, 0)
    assert result_rows(2, "take aspirin", EntitiesResult(**COMMON, entities=(entity,))) == [
        ["2", "Drug", "5-12", "0.9123", "aspirin"]
    ]
    assert result_rows(2, "nothing", EntitiesResult(**COMMON, entities=()))[0][1] == "(none)"


def test_long_texts_are_cut_to_one_short_line():
    scores = (LabelScore("a", 1.0),)
    row = result_rows(0, "word " * 100, ClassificationResult(**COMMON, label="a", score=1.0, scores=scores))[
        0
    ]
    assert len(row[-1]) == 60 and row[-1].endswith("…")


def test_models_table_marks_untrained_weights_and_counts_hidden_labels():
    info = ModelInfo(
        "ner",
        "token_classification",
        tuple(f"B-Label{i}" for i in range(29)),
        False,
        128,
        64,
        "src",
        "demo-tiny",
        True,
    )
    [row] = model_rows([info])
    assert row[0] == "ner" and row[-1] == "demo-tiny (UNTRAINED)"
    assert row[2].startswith("B-Label0, B-Label1") and row[2].endswith("more)")
    assert row[-2] == ""  # a server without versions


def test_models_table_shows_the_served_version_and_the_graph_digest():
    info = ModelInfo(
        "biomarker", "single_label", ("0", "1"), True, 512, 64, "src", "huggingface:x", False,
        model_version=2, weights_digest="sha256:0123456789abcdef",
    )  # fmt: skip
    [row] = model_rows([info])
    assert dict(zip(MODEL_HEADERS, row, strict=True))["version"] == "2"
    assert row[-1] == "huggingface:x sha256:0123456789abcdef"


def test_json_lines_keep_non_ascii_text_readable():
    assert json_line({"text": "réponse"}) == '{"text":"réponse"}'
    assert json.loads(json_line({"a": [1, 2]})) == {"a": [1, 2]}


def test_connection_options_are_accepted_before_and_after_the_command(monkeypatch):
    monkeypatch.delenv(cli.URL_ENV, raising=False)
    parser = cli.build_parser()
    before = parser.parse_args(["--url", "h:1", "--timeout", "3", "classify", "-m", "x", "t"])
    after = parser.parse_args(["classify", "-m", "x", "t", "--url", "h:1", "--timeout", "3"])
    neither = parser.parse_args(["models"])
    assert (before.url, before.timeout) == (after.url, after.timeout) == ("h:1", 3.0)
    assert (neither.url, neither.timeout, neither.header, neither.tls) == (DEFAULT_URL, 60.0, [], False)
    assert parser.parse_args(["--url", "a:1", "models", "--url", "b:2"]).url == "b:2"  # the later wins


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInputError("texts[0] is empty"), 2),
        (ModelNotFoundError("unknown model"), 2),
        (ValueError("--header x: expected NAME=VALUE"), 2),
        (UnavailableError("cannot reach h:1"), 1),
        (ServerError("onnx failed"), 1),
        (LineFailed(4, "line 4 is not valid UTF-8"), 2),
        (LineFailed(4, InvalidInputError("TEXT[0] is empty")), 2),
        (LineFailed(4, ServerError("INTERNAL")), 1),
    ],
)
def test_exit_status_follows_the_kind_of_error(error, status):
    assert cli.exit_status(error) == status


def test_error_rows_records_and_truncation_warnings():
    error = InvalidInputError("TEXT[0] is empty", status="INVALID_ARGUMENT")
    assert error_row(7, error, 4) == [
        "7",
        "ERROR InvalidInputError",
        "",
        "[INVALID_ARGUMENT] TEXT[0] is empty",
    ]
    assert error_record(7, 3, error) == {
        "line": 7,
        "index": 3,
        "error": "InvalidInputError",
        "status": "INVALID_ARGUMENT",
        "message": "TEXT[0] is empty",
    }
    assert error_record(2, 0, "line 2 is not valid JSON")["error"] == "InputError"
    scores = (LabelScore("a", 1.0),)
    cut = ClassificationResult(
        **{**COMMON, "truncated": True, "dropped_tokens": 574131}, label="a", score=1.0, scores=scores
    )
    warning = truncation_warning(3, cut, 128)
    assert warning is not None and "574,131 word-pieces were not read" in warning and "line 3" in warning
    assert (
        truncation_warning(3, ClassificationResult(**COMMON, label="a", score=1.0, scores=scores), 128)
        is None
    )


def test_progress_line_shows_the_bar_count_and_rate():
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(200, stream=stream, clock=lambda: now[0])
    now[0] = 2.0
    progress.update(100)
    assert progress.render() == "[" + "#" * 15 + "." * 15 + "] 100/200 texts  50.0 texts/s"
    progress.finish()
    assert stream.getvalue().endswith("100/200 texts  50.0 texts/s\n")
    unknown = Progress(None, stream=io.StringIO(), clock=lambda: 1.0)
    unknown.update(5, force=True)
    assert unknown.render().startswith("5 texts")
    unknown.update(9, errors=2)
    assert unknown.render().startswith("9 texts  2 failed  ")


def test_plugins_add_commands_and_a_broken_plugin_only_warns(monkeypatch, capsys):
    class EntryPoint:
        def __init__(self, name, register):
            self.name = name
            self._register = register

        def load(self):
            return self._register

    def register_import(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser("import", help="import weights")
        parser.add_argument("path")
        parser.set_defaults(handler=lambda args: 7 if args.path == "ckpt" else 0)

    def broken(subparsers):
        raise RuntimeError("missing dependency")

    monkeypatch.setattr(
        cli,
        "_command_entry_points",
        lambda: [EntryPoint("import", register_import), EntryPoint("bad", broken)],
    )
    assert cli.main(["import", "ckpt"]) == 7
    assert "command plugin 'bad' failed to load: missing dependency" in capsys.readouterr().err
