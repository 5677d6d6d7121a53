"""Send one long clinical note through the client library and report time, checks and peak memory.

    .venv/bin/python tools/client_long_document.py --model biomarker --chars 5000000 [--url HOST:PORT]

Without ``--url`` it starts a Triton server on the tiny demo repository (build/test_repository)
and stops it afterwards. The note is generated (deterministic: sections, prose, medication lists,
CRLF line ends, non-ASCII and emoji). The client runs in this process; the report is one JSON
object: seconds, sentences or entities, whether every span's ``text[begin:end]`` is its text,
whether spans are in order without overlap and reach the end of the note, and the process's
peak resident memory (``ru_maxrss``) before the call and after it (docs/long-documents.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

HEADINGS = ("HISTORY OF PRESENT ILLNESS:", "MEDICATIONS:", "ASSESSMENT AND PLAN:", "LABS:", "Imaging:")
SENTENCES = (
    "The patient is a {age}-year-old woman with HER2-positive breast cancer treated with trastuzumab.",
    "In June 2003, the median overall survival with topotecan was {n}.{d} months.",
    "PSA was {n}.{d} ng/mL and CA-125 rose to {age} U/mL; fièvre et frissons depuis {d} jours.",
    "Dr. Smith started 40 mg p.o. b.i.d. on day {n}, e.g. after the MRI showed no change.",
    "She stopped ambien because of headaches 😩 and switched to melatonin {d} mg.",
    "EGFR mutation (exon 19 deletion) was confirmed; response rate {n}% vs. {age}% in the control arm.",
    "No evidence of recurrence at {n} months; KRAS wild-type, ALK negative, PD-L1 {d}0%.",
)
LIST_ITEMS = (
    "- aspirin {d}1 mg daily",
    "- metformin {n}00 mg b.i.d.",
    "- ondansetron {d} mg q8h prn",
    "2) CBC in {d} weeks",
)


def clinical_note(chars: int, *, seed: int = 11, paragraphs: bool = True) -> str:
    """A deterministic clinical note of ``chars`` characters.

    Args:
        chars: Length of the note.
        seed: Picks the sentences and numbers.
        paragraphs: Sections separated by blank lines (``False``: one block, single line breaks).
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not security

    def fill(template: str) -> str:
        return template.format(age=rng.randint(20, 90), n=rng.randint(1, 99), d=rng.randint(1, 9))

    blocks, size = [], 0
    while size < chars:
        section = [rng.choice(HEADINGS)]
        for _ in range(rng.randint(1, 4)):
            section.append(" ".join(fill(rng.choice(SENTENCES)) for _ in range(rng.randint(2, 8))))
        if rng.random() < 0.4:
            section.append("\n".join(fill(rng.choice(LIST_ITEMS)) for _ in range(4)))
        block = "\n".join(section) + ("\n\n" if paragraphs else "\n")
        if rng.random() < 0.2:
            block = block.replace("\n", "\r\n")
        blocks.append(block)
        size += len(block)
    return "".join(blocks)[:chars]


def peak_rss_mib() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def span_checks(text: str, spans: list[Any]) -> dict[str, Any]:
    """What the tests require of a long document's sentences or entities."""
    return {
        "spans": len(spans),
        "exact": all(text[s.begin : s.end] == s.text for s in spans),
        "ordered": all(a.end <= b.begin for a, b in itertools.pairwise(spans)),
        "last_end": spans[-1].end if spans else 0,
        "chars": len(text),
        "text_end": len(text.rstrip()),
    }


def measure(url: str, model: str, chars: int, mode: str | None, timeout_s: float) -> dict[str, Any]:
    """Send one generated note of ``chars`` characters and report (see the module docstring)."""
    from clinserve import ChannelOptions, ClinServeClient

    text = clinical_note(chars)
    before = peak_rss_mib()
    with ClinServeClient(url, options=ChannelOptions(timeout_s=timeout_s)) as client:
        started = time.monotonic()
        [result] = client.predict(model, [text], mode=mode)
        seconds = time.monotonic() - started
    spans = list(getattr(result, "entities", None) or getattr(result, "sentences", None) or [])
    return {
        "model": model,
        "mode": result.mode,
        "seconds": round(seconds, 1),
        **span_checks(text, spans),
        "peak_rss_mib_before_call": round(before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="biomarker")
    parser.add_argument("--chars", type=int, default=5_000_000)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--url", help="a running server's gRPC address (default: start one)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request deadline, seconds")
    args = parser.parse_args()
    if args.url:
        print(json.dumps(measure(args.url, args.model, args.chars, args.mode, args.timeout)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from clinserve_runtime.build_demo import build
    from clinserve_runtime.triton import TritonServer, loopback_options

    repository = Path("build") / "test_repository"
    build(repository, "tiny")
    server = TritonServer(loopback_options(repository), log_path=Path("build") / "client-long-document.log")
    server.start()
    try:
        server.wait_until_ready(600)
        print(json.dumps(measure(server.grpc_url, args.model, args.chars, args.mode, args.timeout)))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
