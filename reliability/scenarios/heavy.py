"""Heavy neighbours: requests at the size limit must not stall the small ones beside them.

Per model, two callers keep sending the largest request the server accepts (for the sequence
classifier a text of ``max_text_chars`` characters, which the tokenizer reads whole and the
model sees truncated; for the token classifier the longest document whose windows fit one
request's token positions), while twenty callers keep sending one-sentence requests to both
models. Every request must be answered (the heavy ones too), and the small ones must keep their
p99 under a second: the server bounds each request's work (``clinserve_preprocess.limits``) and
the tokenizer answers the requests of one execution smallest first
(``clinserve_preprocess.merging``), so a short request never waits for a long document that
Triton's batcher happened to hand over beside it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from clinserve import AsyncClinServeClient
from clinserve_ensemble.catalog import load_catalog
from clinserve_preprocess.encoding import TextEncoder
from clinserve_preprocess.modes import default_mode, modes_for
from lab.driver import Call
from reliability.context import CALL_OPTIONS, NO_RETRIES, Context
from reliability.load import Workload, client_driver
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import MODELS, Fleet, step_statistics

NAME = "heavy"
HEAVY_CALLERS_PER_MODEL = 2
SMALL_CALLERS = 20
#: p99 the small requests must keep beside the heavy ones.
SMALL_P99_BOUND_MS = 1000.0
#: Heavy requests take seconds on two cores; their deadline is generous.
HEAVY_DEADLINE_S = 30.0
SMALL_DEADLINE_S = 10.0
PROSE = (
    "The patient was started on 40 mg of atorvastatin after the LDL rose to 190 mg/dL. "
    "In the phase II trial, median progression-free survival was 11.2 months (95% CI 9.1-13.4). "
    "Grade 3 neutropenia occurred in 12 of 120 patients; no treatment-related deaths were seen. "
)


def prose(chars: int) -> str:
    """``chars`` characters of clinical prose."""
    return (PROSE * (chars // len(PROSE) + 1))[:chars]


def largest_request_text(repository: Path, model: str, context: Context) -> str:
    """The longest prose text one request to ``model`` may carry in its default mode.

    Sequence classifiers read a text of any accepted length (truncated); windowed and
    per-sentence modes are bounded by the sequences and token positions one request may use,
    found here by bisection with the served tokenizer.
    """
    spec = load_catalog()[model]
    settings = context.settings
    mode = modes_for(spec.is_token_classifier)[
        default_mode(token_level=spec.is_token_classifier, per_sentence=spec.per_sentence)
    ]
    limit = min(settings.max_text_chars, settings.max_request_chars)
    if not (mode.segmentation.windowed or mode.segmentation.splits_sentences):
        return prose(limit)
    encoder = TextEncoder.from_file(
        repository / spec.tokenizer_model / "1" / "tokenizer.json",
        spec.max_tokens,
        buckets=settings.buckets(),
    )

    def fits(chars: int) -> bool:
        batch = encoder.encode([prose(chars)], segmentation=mode.segmentation)
        return (
            batch.num_sequences <= settings.max_batch_size and batch.padded_tokens <= settings.token_budget()
        )

    low, high = 1, limit
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return prose(low)


async def run(context: Context) -> ScenarioResult:
    """Small requests beside requests at the size limit, on one server."""
    profile = context.profile
    result = ScenarioResult(NAME)
    heavy_texts = {model: largest_request_text(context.repository, model, context) for model in MODELS}
    with Fleet(context.repository, context.log_dir) as fleet:
        [server] = fleet.start([NAME])
        async with AsyncClinServeClient(server.grpc_url, options=CALL_OPTIONS, retry=NO_RETRIES) as client:
            small = [
                client_driver(client, await Workload.prepare(client, m), deadline_s=SMALL_DEADLINE_S)
                for m in MODELS
            ]
            heavy = [
                client_driver(
                    client,
                    await Workload.prepare(client, m, texts=[heavy_texts[m]]),
                    deadline_s=HEAVY_DEADLINE_S,
                    origin=small[0].origin,
                )
                for m in MODELS
            ]
            duration = profile.fault_before_s + profile.fault_after_s + profile.capacity_s
            runs = [
                *(
                    d.closed_loop(
                        SMALL_CALLERS // len(small), duration_s=duration, max_calls=profile.max_calls
                    )
                    for d in small
                ),
                *(
                    d.closed_loop(HEAVY_CALLERS_PER_MODEL, duration_s=duration, max_calls=profile.max_calls)
                    for d in heavy
                ),
            ]
            outcomes: list[list[Call]] = await asyncio.gather(*runs)
            steps = step_statistics(server, fleet.admin_key)
    small_calls = [c for calls in outcomes[: len(small)] for c in calls]
    heavy_calls = [c for calls in outcomes[len(small) :] for c in calls]
    small_tally, heavy_tally = Tally.of(small_calls), Tally.of(heavy_calls)
    result.rows = [
        Row(f"{NAME}: {SMALL_CALLERS} one-sentence callers", small_tally),
        Row(f"{NAME}: {HEAVY_CALLERS_PER_MODEL} callers per model at the size limit", heavy_tally),
    ]
    result.facts = {
        "heavy_text_chars": {m: len(t) for m, t in heavy_texts.items()},
        "small_p99_ms": small_tally.p99_ms,
        "heavy_p50_ms": heavy_tally.p50_ms,
        "steps": steps,
    }
    result.check_nothing_lost()
    result.check(
        "every small request is answered",
        small_tally.answered == small_tally.sent > 0,
        f"{small_tally.failed} of {small_tally.sent} refused: {small_tally.kinds}",
    )
    result.check(
        "every request at the size limit is answered",
        heavy_tally.answered == heavy_tally.sent > 0,
        f"{heavy_tally.failed} of {heavy_tally.sent} refused: {heavy_tally.kinds}",
    )
    result.check(
        f"small requests keep p99 under {SMALL_P99_BOUND_MS:.0f} ms beside them",
        small_tally.p99_ms is not None and small_tally.p99_ms < SMALL_P99_BOUND_MS,
        f"p99 {small_tally.p99_ms} ms",
    )
    return result
