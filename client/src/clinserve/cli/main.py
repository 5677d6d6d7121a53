"""``clinserve``: the command-line tool.

Commands: ``clinserve models`` lists the served models, ``clinserve classify`` runs one on
texts. Other installed packages add commands through the entry-point group
``clinserve.commands``: each entry point names a function ``register(subparsers)`` that adds its
sub-parser and sets a ``handler`` default, a function ``handler(args) -> int`` (exit status).
The server package registers ``clinserve import`` that way.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, TextIO

from clinserve import __version__
from clinserve.batching import validate_texts
from clinserve.cli.inputs import STDIN, InputError, text_source
from clinserve.cli.output import (
    MODEL_HEADERS,
    Progress,
    format_table,
    json_line,
    model_rows,
    result_headers,
    result_rows,
)
from clinserve.client import ClinServeClient
from clinserve.errors import ClinServeError
from clinserve.options import DEFAULT_TIMEOUT_S, DEFAULT_URL, ChannelOptions, TLSConfig, admin_headers

__all__ = ["COMMAND_ENTRY_POINTS", "build_parser", "client_from_args", "main"]

COMMAND_ENTRY_POINTS = "clinserve.commands"
URL_ENV = "CLINSERVE_URL"
ADMIN_KEY_ENV = "CLINSERVE_ADMIN_KEY"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def connection_options() -> argparse.ArgumentParser:
    """Options every command that talks to a server shares (``parents=`` of its sub-parser)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"gRPC address: host:port, a comma-separated list of replicas, or dns:///host:port"
        f" (default: ${URL_ENV} or {DEFAULT_URL})",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"deadline of each call, retries included (default: {DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument("--tls", action="store_true", help="use TLS (implied by --ca/--cert)")
    group.add_argument("--ca", metavar="PEM", help="CA certificate that signed the server's certificate")
    group.add_argument("--cert", metavar="PEM", help="client certificate, for mutual TLS")
    group.add_argument("--key", metavar="PEM", help="private key of --cert")
    group.add_argument("--server-name", help="name to check the server certificate against")
    group.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra gRPC metadata sent with every call (repeatable)",
    )
    group.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"key of the server's restricted protocols (default: ${ADMIN_KEY_ENV})",
    )
    return parser


def client_from_args(args: argparse.Namespace) -> ClinServeClient:
    """A client configured from the connection options.

    Raises:
        ValueError: For a malformed ``--header`` or an incomplete TLS setup.
    """
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--header {item!r}: expected NAME=VALUE")
        headers[name.strip().lower()] = value
    if args.admin_key:
        headers.update(admin_headers(args.admin_key))
    tls = None
    if args.tls or args.ca or args.cert or args.key or args.server_name:
        tls = TLSConfig(
            root_ca=Path(args.ca) if args.ca else None,
            client_cert=Path(args.cert) if args.cert else None,
            client_key=Path(args.key) if args.key else None,
            server_name=args.server_name,
        )
        tls.read()
    options = ChannelOptions(timeout_s=args.timeout, tls=tls, headers=headers)
    return ClinServeClient(args.url, options=options)


def run_models(args: argparse.Namespace) -> int:
    """``clinserve models``."""
    out: TextIO = sys.stdout
    with client_from_args(args) as client:
        models = client.list_models()
    if args.json:
        for info in models:
            out.write(json_line(info.to_dict()) + "\n")
    elif models:
        out.write(format_table(MODEL_HEADERS, model_rows(models)) + "\n")
    else:
        sys.stderr.write("no clinserve models are served\n")
    return EXIT_OK


def run_classify(args: argparse.Namespace) -> int:
    """``clinserve classify``: run a model on texts, streaming results as requests complete."""
    out: TextIO = sys.stdout
    source = text_source(args.texts, args.file)
    show_progress = args.progress if args.progress is not None else source.from_file and sys.stderr.isatty()
    with client_from_args(args) as client:
        info = client.model_info(args.model)
        info.check_mode(args.mode)
        if info.untrained:
            sys.stderr.write(
                f"warning: {info.name} runs untrained demo weights ({info.weights});"
                " its predictions are meaningless\n"
            )
        window = info.max_texts_per_request * client.options.max_concurrent_requests
        progress = Progress(source.total) if show_progress else None
        index = 0
        headers_written = False
        while True:
            texts = list(itertools.islice(source.texts, window))
            if not texts:
                break
            done_before = index

            def report(done: int, _total: int, offset: int = done_before) -> None:
                if progress is not None:
                    progress.update(offset + done)

            validate_texts(texts, start=done_before)
            try:
                results = client.predict(args.model, texts, mode=args.mode, on_progress=report)
            except ClinServeError as exc:
                if done_before:
                    exc.message = f"input texts {done_before}..{done_before + len(texts) - 1}: {exc.message}"
                raise
            rows: list[list[str]] = []
            for text, result in zip(texts, results):
                if args.json:
                    out.write(json_line({"index": index, **result.to_dict()}) + "\n")
                else:
                    rows.extend(result_rows(index, text, result))
                index += 1
            if rows:
                table = format_table(result_headers(results[0]), rows)
                out.write((table if not headers_written else table.split("\n", 1)[1]) + "\n")
                headers_written = True
            out.flush()
        if progress is not None:
            progress.finish()
    if index == 0:
        raise InputError("no texts in the input")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The full parser, plugin commands included."""
    parser = argparse.ArgumentParser(
        prog="clinserve",
        description="Call the clinical BERT models served by Triton.",
    )
    parser.add_argument("--version", action="version", version=f"clinserve {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = connection_options()

    models = commands.add_parser(
        "models", parents=[common], help="list the served models and their labels", description=None
    )
    models.add_argument("--json", action="store_true", help="one JSON object per model and line")
    models.set_defaults(handler=run_models)

    classify = commands.add_parser(
        "classify",
        parents=[common],
        help="run a model on texts",
        description="Run a model on texts and print one row per result (sentence or entity).",
    )
    classify.add_argument("--model", "-m", required=True, help="public model name (see `clinserve models`)")
    classify.add_argument(
        "texts", nargs="*", metavar="TEXT", help=f"texts to classify; '{STDIN}' reads one per stdin line"
    )
    classify.add_argument(
        "--file",
        "-f",
        metavar="JSONL",
        help='read texts from a JSONL file (each line a JSON string or {"text": ...}); - for stdin',
    )
    classify.add_argument(
        "--mode",
        help="how the server segments each text: whole, sentences, document (classifiers),"
        " windows, sentences (entities); default: the model's (see `clinserve models --json`)",
    )
    classify.add_argument("--json", action="store_true", help="JSON lines out: one result per text")
    classify.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: on for --file when stderr is a terminal)",
    )
    classify.set_defaults(handler=run_classify)

    register_plugins(commands)
    return parser


def register_plugins(commands: Any) -> None:
    """Let installed packages add commands (entry-point group ``clinserve.commands``)."""
    for entry_point in _command_entry_points():
        try:
            entry_point.load()(commands)
        except Exception as exc:
            sys.stderr.write(f"clinserve: command plugin {entry_point.name!r} failed to load: {exc}\n")


def _command_entry_points() -> list[Any]:
    entry_points = metadata.entry_points()
    if hasattr(entry_points, "select"):
        return list(entry_points.select(group=COMMAND_ENTRY_POINTS))
    return list(entry_points.get(COMMAND_ENTRY_POINTS, []))  # Python 3.9


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ClinServeError as exc:
        sys.stderr.write(f"clinserve: error: {exc}\n")
        return EXIT_ERROR
    except ValueError as exc:  # InputError and bad option values: a usage problem
        sys.stderr.write(f"clinserve: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("clinserve: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `clinserve classify ... | head`
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
