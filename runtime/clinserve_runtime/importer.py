"""Import a model on disk into the Triton model repository, or re-check its parity.

    python -m clinserve_runtime.importer SOURCE --model NAME [--repository DIR] [--profile fp32|cpu|gpu]
    python -m clinserve_runtime.importer parity --model NAME --source HF_FOLDER [--server-url HOST:PORT]
    python -m clinserve_runtime.importer rollback --model NAME [--to-version N] [--repository DIR]
    python -m clinserve_runtime.importer versions --model NAME [--repository DIR]

SOURCE is a Hugging Face checkpoint folder, a Spark NLP import folder (model.onnx + assets/) or
a saved Spark NLP annotator (as pretrained() leaves it in ~/cache_pretrained). NAME is a
catalog entry (its task, labels, casing and length must match the source) or a new name (then
--task/--cased/--max-tokens say what the source does not). Checks run before anything is
written; progress goes to stderr, the import record (JSON) to stdout. Each import writes a new
version of the model and keeps the one it replaces; ``rollback`` serves that one again (after
a server restart: Triton runs with model control mode none).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clinserve_runtime.importers.calibration_texts import CALIBRATION_TEXTS
from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.parity_texts import DEFAULT_TEXTS
from clinserve_runtime.importers.pipeline import ImportRequest, import_model
from clinserve_runtime.importers.profiles import PROFILES
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.served import parity_command
from clinserve_runtime.importers.validation import NewModelOptions
from clinserve_runtime.versions import VersionError, describe_versions, rollback

DEFAULT_REPOSITORY = Path("model_repository")


def read_texts(path: Path | None, default: tuple[str, ...] = DEFAULT_TEXTS) -> tuple[str, ...]:
    """Texts from a JSON list of strings, or one text per line; ``default`` if ``path`` is None."""
    if path is None:
        return default
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        texts = json.loads(raw)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ImportFailure(f"{path}: expected a JSON list of strings")
    else:
        texts = [line for line in raw.splitlines() if line.strip()]
    if not texts:
        raise ImportFailure(f"{path} holds no texts")
    return tuple(texts)


def _import_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinserve-import", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="model folder to import")
    parser.add_argument("--model", required=True, help="catalog entry or new model name")
    parser.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY, help="model repository root")
    parser.add_argument("--profile", choices=PROFILES, default="fp32", help="graph optimization profile")
    parser.add_argument("--texts", type=Path, help="texts for parity/profile checks (.json list or lines)")
    parser.add_argument(
        "--calibration-texts",
        type=Path,
        help="texts the cpu profile fits its int8 scales on (.json list or lines; default: a built-in set)",
    )
    parser.add_argument("--no-parity", action="store_true", help="skip the PyTorch parity check")
    parser.add_argument(
        "--accept-failed-checks",
        action="store_true",
        help="write the model even when a check misses its target",
    )
    parser.add_argument(
        "--rename-labels", action="store_true", help="serve the source's labels under the catalog's names"
    )
    new = parser.add_argument_group("new models (not in the catalog)")
    new.add_argument("--task", choices=("single_label", "multi_label", "token_classification"))
    casing = new.add_mutually_exclusive_group()
    casing.add_argument("--cased", dest="cased", action="store_const", const=True)
    casing.add_argument("--uncased", dest="cased", action="store_const", const=False)
    new.add_argument("--max-tokens", type=int, help="longest sequence, [CLS] and [SEP] included")
    new.add_argument("--per-sentence", action="store_true", help="one prediction per sentence")
    new.add_argument("--threshold", type=float, help="multi-label threshold (default 0.5)")
    parser.add_argument(
        "--drop-previous",
        action="store_true",
        help="do not keep the version served until now for a rollback (an image, whose rollback is"
        " the previous image)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _parity_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinserve-import parity",
        description="Re-run the parity check of an imported Hugging Face model (in-process and, with"
        " --server-url, through the served ensemble) and store it as"
        " <name>_onnx/<served version>/parity.json.",
    )
    parser.add_argument("--model", required=True, help="imported model name")
    parser.add_argument("--source", type=Path, required=True, help="the Hugging Face checkpoint it came from")
    parser.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    parser.add_argument("--server-url", help="gRPC host:port of a server that serves the model")
    parser.add_argument("--texts", type=Path)
    parser.add_argument("--quiet", action="store_true")
    return parser


def _rollback_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinserve-import rollback",
        description="Serve the version an import replaced again (or --to-version N). The configs"
        " change at once; the server loads them at its next start (model control mode none).",
    )
    parser.add_argument("--model", required=True, help="model name")
    parser.add_argument(
        "--to-version", type=int, help="serve this version (default: the one before the served one)"
    )
    parser.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    return parser


def _versions_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinserve-import versions",
        description="List the versions of a model on disk, their weights, and which one the configs serve.",
    )
    parser.add_argument("--model", required=True, help="model name")
    parser.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    return parser


def _print(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 failed check, 2 bad input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["versions"]:
        args = _versions_parser().parse_args(args_list[1:])
        try:
            _print(describe_versions(args.repository, args.model))
        except VersionError as exc:
            sys.stderr.write(f"versions: {exc}\n")
            return 2
        return 0
    if args_list[:1] == ["rollback"]:
        args = _rollback_parser().parse_args(args_list[1:])
        try:
            _print(rollback(args.repository, args.model, args.to_version))
        except VersionError as exc:
            sys.stderr.write(f"rollback failed: {exc}\n")
            return 2
        sys.stderr.write(f"{args.model}: restart the server (or roll out the image) to serve it\n")
        return 0
    try:
        if args_list[:1] == ["parity"]:
            args = _parity_parser().parse_args(args_list[1:])
            report = parity_command(
                args.repository,
                args.model,
                args.source,
                server_url=args.server_url,
                texts=read_texts(args.texts),
                progress=Progress(quiet=args.quiet),
            )
            _print(report)
            for cause in report["failure_causes"]:
                sys.stderr.write(f"parity failed: {cause}\n")
            return 0 if report["passed"] else 1
        args = _import_parser().parse_args(args_list)
        request = ImportRequest(
            source=args.source,
            model=args.model,
            repository=args.repository,
            profile=args.profile,
            options=NewModelOptions(
                task=args.task,
                cased=args.cased,
                max_tokens=args.max_tokens,
                per_sentence=args.per_sentence,
                threshold=args.threshold,
                rename_labels=args.rename_labels,
            ),
            check_parity=not args.no_parity,
            texts=read_texts(args.texts),
            calibration_texts=read_texts(args.calibration_texts, CALIBRATION_TEXTS),
            accept_failed_checks=args.accept_failed_checks,
            keep_previous=not args.drop_previous,
        )
        _print(import_model(request, Progress(quiet=args.quiet)))
        return 0
    except ImportFailure as exc:
        sys.stderr.write(f"import failed: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())


def register(subparsers: Any) -> None:
    """Add ``clinserve import`` to the client's command-line tool (entry point ``clinserve.commands``).

    The arguments are passed through unchanged to :func:`main`, so ``clinserve import ...`` and
    ``clinserve-import ...`` are the same command (``clinserve import --help`` shows its options).
    """
    command = subparsers.add_parser(
        "import",
        help="import real weights (Hugging Face or Spark NLP) into the model repository",
        add_help=False,
        # No option prefix: every argument, --help included, goes through to main() untouched.
        prefix_chars="\0",
    )
    command.add_argument("arguments", nargs=argparse.REMAINDER)
    command.set_defaults(handler=lambda args: main(list(args.arguments)))
