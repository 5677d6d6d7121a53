"""CPU seconds the Python steps spend on the largest and the most awkward requests they accept.

Every request's work is bounded before it starts (``clinserve_preprocess.limits``); this tool
checks the bound where it matters, in process on the served tokenizer: for each kind of text at
the character limit (prose, one word repeated, long unbroken words, CJK, emoji, punctuation,
"A. " repeated for the sentence splitter) and each mode, the tokenizer's work up to its answer
(an encoding or a refusal), and for the accepted ones the post-processor's (results and JSON
for made-up logits). The ONNX step's work is bounded by the token positions instead.

    .venv/bin/python -m tools.request_cost build/test_repository
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clinserve_ensemble.catalog import load_catalog
from clinserve_ensemble.results import ResultContext, SequenceOutputs, build_results
from clinserve_preprocess.contract import Step, consumed_by
from clinserve_preprocess.encoding import EncodedBatch, TextEncoder
from clinserve_preprocess.limits import RequestLimits, plan_within_limits, segment_within_limits
from clinserve_preprocess.modes import Mode, modes_for
from clinserve_preprocess.validation import InputError
from clinserve_runtime.configs import ServingSettings

PROSE = "The patient was started on 40 mg of atorvastatin after the LDL rose to 190 mg/dL. "
KINDS: dict[str, Callable[[int], str]] = {
    "prose": lambda n: (PROSE * (n // len(PROSE) + 1))[:n],
    "one word repeated": lambda n: ("dose " * (n // 5 + 1))[:n],
    "100-character words": lambda n: (("x" * 100 + " ") * (n // 101 + 1))[:n],
    "CJK": lambda n: ("患者服用阿托伐他汀" * (n // 9 + 1))[:n],
    "emoji": lambda n: ("🤒💊 " * (n // 3 + 1))[:n],
    "punctuation": lambda n: (".,;:!?" * (n // 6 + 1))[:n],
    "'A. ' repeated": lambda n: ("A. " * (n // 3 + 1))[:n],
}


def tokenizer_work(
    encoder: TextEncoder, limits: RequestLimits, text: str, mode: Mode
) -> tuple[str, EncodedBatch | None]:
    """What the tokenizer step does with one text, in its order: ``(outcome, batch or None)``."""
    try:
        segments = segment_within_limits(encoder, limits, [text], mode)
        pieces = encoder.pieces([text])
        plans, (_, length) = plan_within_limits(encoder, limits, pieces, segments, mode)
        return "encoded", encoder.assemble([text], pieces, plans, length)
    except InputError as exc:
        return f"refused ({str(exc).split(',')[0][:60]})", None


def largest_accepted(encoder: TextEncoder, limits: RequestLimits, mode: Mode, most: int) -> str:
    """The longest prose text a request may carry in ``mode`` (bisection on the tokenizer's answer)."""
    low, high = 1, most
    while low < high:
        middle = (low + high + 1) // 2
        accepted = tokenizer_work(encoder, limits, KINDS["prose"](middle), mode)[1] is not None
        low, high = (middle, high) if accepted else (low, middle - 1)
    return KINDS["prose"](low)


def main(argv: list[str] | None = None) -> int:
    """Time every kind of text at the character limit in every mode of two models."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository", type=Path)
    parser.add_argument(
        "--models", nargs="+", default=["treatment_changes", "biomarker", "drug_development_trials"]
    )
    args = parser.parse_args(argv)
    settings = ServingSettings()
    limits = RequestLimits(
        max_texts=settings.max_texts_per_request,
        max_text_chars=settings.max_text_chars,
        max_request_chars=settings.max_request_chars,
        max_sequences=settings.max_batch_size,
        max_positions=settings.token_budget(),
    )
    worst = 0.0
    for name in args.models:
        spec = load_catalog()[name]
        tokenizer = args.repository / spec.tokenizer_model / "1" / "tokenizer.json"
        encoder = TextEncoder.from_file(tokenizer, spec.max_tokens, buckets=settings.buckets())
        context = ResultContext(name, spec.task, spec.labels, spec.per_sentence, spec.threshold, True, "cost")
        wanted = [t.name for t in consumed_by(Step.POSTPROCESS, token_level=spec.is_token_classifier)]
        for mode in modes_for(spec.is_token_classifier).values():
            texts = {kind: make(settings.max_text_chars) for kind, make in KINDS.items()}
            texts["largest prose accepted"] = largest_accepted(encoder, limits, mode, settings.max_text_chars)
            for kind, text in texts.items():
                started = time.process_time()
                outcome, batch = tokenizer_work(encoder, limits, text, mode)
                tokenizer_s = time.process_time() - started
                post_s = 0.0
                if batch is not None:
                    sequences, length = batch.input_ids.shape
                    rows = (sequences, length) if spec.is_token_classifier else (sequences,)
                    logits = np.random.default_rng(0).normal(size=(*rows, len(spec.labels)))
                    tensors = {n: getattr(batch, n) for n in wanted if n != "logits"}
                    started = time.process_time()
                    results = build_results(
                        context, SequenceOutputs(logits=logits.astype(np.float32), **tensors), mode
                    )
                    [json.dumps(r, ensure_ascii=False) for r in results]
                    post_s = time.process_time() - started
                worst = max(worst, tokenizer_s, post_s)
                print(
                    f"{name:<24} {mode.name:<10} {kind:<23} {len(text):>7,} chars: tokenizer"
                    f" {tokenizer_s:6.3f} s, post-processor {post_s:6.3f} s, {outcome}"
                )
    print(f"slowest step: {worst:.3f} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
