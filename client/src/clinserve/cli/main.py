"""``clinserve``: the command-line tool.

Commands: ``clinserve models`` lists the served models, ``clinserve classify`` runs one on
texts. Other installed packages add commands through the entry-point group
``clinserve.commands``: each entry point names a function ``register(subparsers)`` that adds its
sub-parser and sets a ``handler`` default, a function ``handler(args) -> int`` (exit status).
The server package registers ``clinserve import`` that way.

Exit status (docs/client.md): 0 success; 1 a call failed (server unreachable, overloaded,
failing); 2 a usage or input error (bad option, unknown model or mode, an unusable text); 3 the
run finished but some lines failed (``--on-error skip``: their error records are in the output).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, TextIO

from clinserve import __version__
from clinserve.cli.batch import ON_ERROR_CHOICES, LineFailed, run_batch
from clinserve.cli.inputs import STDIN, InputError, text_source
from clinserve.cli.output import MODEL_HEADERS, Progress, format_table, json_line, model_rows
from clinserve.client import ClinServeClient
from clinserve.errors import ClinServeError, InvalidInputError, ModelNotFoundError, UnavailableError
from clinserve.options import DEFAULT_TIMEOUT_S, DEFAULT_URL, ChannelOptions, TLSConfig, admin_headers

__all__ = ["COMMAND_ENTRY_POINTS", "build_parser", "client_from_args", "exit_status", "main"]

COMMAND_ENTRY_POINTS = "clinserve.commands"
URL_ENV = "CLINSERVE_URL"
ADMIN_KEY_ENV = "CLINSERVE_ADMIN_KEY"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SOME_LINES_FAILED = 3
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def connection_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Add the options every command that talks to a server shares.

    They are accepted before the command and after it (``clinserve --url X models`` and
    ``clinserve models --url X``): the main parser holds the defaults, and each command's copy
    has none (``SUPPRESS``), so it only overrides what was given after the command.
    """

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("connection (before or after the command)")
    group.add_argument(
        "--url",
        default=default(os.environ.get(URL_ENV, DEFAULT_URL)),
        help=f"gRPC address: host:port, a comma-separated list of replicas, or dns:///host:port"
        f" (default: ${URL_ENV} or {DEFAULT_URL})",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT_S),
        metavar="SECONDS",
        help=f"deadline of each call, retries included; a document sent in parts gets it for each"
        f" part (default: {DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument(
        "--tls", action="store_true", default=default(False), help="use TLS (implied by --ca/--cert)"
    )
    group.add_argument(
        "--ca", default=default(None), metavar="PEM", help="CA certificate that signed the server's"
    )
    group.add_argument(
        "--cert", default=default(None), metavar="PEM", help="client certificate, for mutual TLS"
    )
    group.add_argument("--key", default=default(None), metavar="PEM", help="private key of --cert")
    group.add_argument(
        "--server-name", default=default(None), help="name to check the server certificate against"
    )
    group.add_argument(
        "--header",
        action="append",
        default=default([]),
        metavar="NAME=VALUE",
        help="extra gRPC metadata sent with every call (repeatable)",
    )
    group.add_argument(
        "--admin-key",
        default=default(os.environ.get(ADMIN_KEY_ENV)),
        help=f"key of the server's restricted protocols (default: ${ADMIN_KEY_ENV})",
    )


def client_from_args(args: argparse.Namespace) -> ClinServeClient:
    """A client configured from the connection options.

    Raises:
        ValueError: For a malformed ``--header`` or an incomplete or unreadable TLS setup.
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
        progress = Progress(source.total) if show_progress else None
        try:
            summary = run_batch(
                client,
                info,
                source,
                mode=args.mode,
                as_json=args.json,
                on_error=args.on_error,
                progress=progress,
                out=sys.stdout,
                err=sys.stderr,
            )
        finally:
            if progress is not None:
                progress.finish()
    if summary.texts == 0:
        raise InputError("no texts in the input")
    if summary.failed:
        sys.stderr.write(
            f"clinserve: {summary.failed} of {summary.texts} lines failed; their error records are in"
            " the output\n"
        )
        return EXIT_SOME_LINES_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The full parser, plugin commands included."""
    parser = argparse.ArgumentParser(
        prog="clinserve",
        description="Call the clinical BERT models served by Triton.",
        epilog="exit status: 0 success, 1 a call failed, 2 a usage or input error,"
        " 3 some lines failed (--on-error skip)",
    )
    parser.add_argument("--version", action="version", version=f"clinserve {__version__}")
    connection_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    models = commands.add_parser("models", help="list the served models and their labels", description=None)
    connection_options(models, defaults=False)
    models.add_argument("--json", action="store_true", help="one JSON object per model and line")
    models.set_defaults(handler=run_models)

    classify = commands.add_parser(
        "classify",
        help="run a model on texts",
        description="Run a model on texts and print one row per result (sentence or entity), each"
        " with the input line it answers.",
    )
    connection_options(classify, defaults=False)
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
        "--on-error",
        choices=ON_ERROR_CHOICES,
        default="stop",
        help="a line that fails: stop the run there (default), or write an error record (its line,"
        " the error and message) and go on; the exit status is then 3",
    )
    classify.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr, failed lines counted (default: on for --file when stderr is a"
        " terminal)",
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


def exit_status(error: BaseException) -> int:
    """The exit status for an error that ended a command (see the module docstring)."""
    if isinstance(error, LineFailed):
        return exit_status(error.error) if isinstance(error.error, ClinServeError) else EXIT_USAGE
    if isinstance(error, (InvalidInputError, ModelNotFoundError)):
        return EXIT_USAGE  # a text, a model name or a mode the caller got wrong
    if isinstance(error, ClinServeError):
        return EXIT_ERROR
    return EXIT_USAGE  # ValueError: InputError and bad option values


def _message(error: BaseException, args: argparse.Namespace) -> str:
    cause = error.error if isinstance(error, LineFailed) else error
    text = str(error)
    if isinstance(cause, UnavailableError):
        text += f"; the address ({getattr(args, 'url', DEFAULT_URL)}) comes from --url or ${URL_ENV}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ClinServeError, LineFailed, ValueError) as exc:
        sys.stderr.write(f"clinserve: error: {_message(exc, args)}\n")
        return exit_status(exc)
    except KeyboardInterrupt:
        sys.stderr.write("clinserve: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `clinserve classify ... | head`
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
