"""Cost as work grows: token classification of long documents over gRPC.

Sends generated documents of 1k, 10k and 100k characters (``corpus.long_document``) one at a
time to a token-classification ensemble (``drug_development_trials``) through the client
library, as a user would: a document past one request's published limits (the cpu profile
takes about 11,000 characters of prose per NER request) goes as several requests that the
client splits and merges (docs/long-documents.md). Records, per size, the latency, the requests
it took, what the result says about coverage (``truncated``, ``dropped_tokens``), the entities
found, and Triton's per-stage timings. The report checks that time grows linearly with length
and that no document is cut without the result saying so. One document at a time on the
blocking client, not the load driver (``lab.driver``): this measures one user's call as the
document grows, the client's splitting and merging included, not the server under load.

Re-runnable on its own against a running server:

    python -m benchmarks.long_docs --url 127.0.0.1:8001 --admin-key KEY --output long_docs.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile
from benchmarks.triton_stats import window_stages
from clinserve_ensemble.catalog import load_catalog
from lab.corpus import long_document

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_MODEL = "drug_development_trials"


def coverage(document: dict[str, Any]) -> dict[str, Any]:
    """What one RESULT document says about how much of the text the model saw."""
    return {
        "truncated": bool(document.get("truncated")),
        "dropped_tokens": int(document.get("dropped_tokens", 0)),
        "entities": len(document.get("entities", [])),
    }


def silently_truncated(record: dict[str, Any]) -> bool:
    """A result that dropped word-pieces but does not flag ``truncated`` (must never happen)."""
    return bool(record.get("dropped_tokens", 0) > 0 and not record.get("truncated"))


def measure(
    url: str,
    model: str,
    sizes: Sequence[int],
    *,
    repeats: int,
    admin_key: str = "",
    max_seconds_per_size: float = 20.0,
) -> list[dict[str, Any]]:
    """Latency and coverage for each document size (sequential requests)."""
    import tritonclient.grpc as grpcclient

    from clinserve import ClinServeClient, ClinServeError
    from clinserve_runtime.triton import GRPC_ADMIN_KEY_HEADER

    spec = load_catalog()[model]
    stats_client = grpcclient.InferenceServerClient(url)
    headers = {GRPC_ADMIN_KEY_HEADER: admin_key} if admin_key else None

    def stats() -> dict[str, Any] | None:
        if not admin_key:
            return None
        return dict(stats_client.get_inference_statistics(headers=headers, as_json=True))

    def requests_answered(snapshot: dict[str, Any] | None) -> int | None:
        for entry in (snapshot or {}).get("model_stats", []):
            if entry["name"] == model:
                return int(entry["inference_stats"]["success"]["count"])
        return None

    records = []
    with ClinServeClient(url) as client:
        try:
            if sizes:  # one untimed request first: the first call of a fresh server pays lazy set-up
                client.extract_entities(model, [long_document(min(sizes))], timeout_s=600)
            for size in sizes:
                text = long_document(size, seed=size)
                latencies: list[float] = []
                record: dict[str, Any] = {"chars": len(text)}
                before, started = stats(), time.monotonic()
                for attempt in range(repeats):
                    if attempt and time.monotonic() - started > max_seconds_per_size:
                        break  # a 100k-character document on BERT-base takes tens of seconds
                    begin = time.perf_counter()
                    try:
                        [result] = client.extract_entities(model, [text], timeout_s=600)
                    except ClinServeError as exc:
                        record["error"] = f"{type(exc).__name__}: {exc}"[:400]
                        break
                    latencies.append((time.perf_counter() - begin) * 1000)
                    record.update(coverage(result.to_dict()))
                after = stats()
                record["repeats"] = len(latencies)
                answered = (requests_answered(after) or 0) - (requests_answered(before) or 0)
                if latencies and admin_key:
                    record["requests_per_document"] = answered / len(latencies)
                if latencies:
                    record["p50_ms"] = percentile(latencies, 50)
                    record["ms_per_1k_chars"] = record["p50_ms"] / (len(text) / 1000)
                elapsed = time.monotonic() - started
                stages = window_stages(before, after, elapsed, list(spec.triton_models))
                record["stages"] = [s.to_dict() for s in stages]
                records.append(record)
        finally:
            stats_client.close()
    return records


def linearity(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Growth between consecutive sizes: time ratio against length ratio (1.0 = linear)."""
    timed = [r for r in records if "p50_ms" in r]
    return [
        {
            "from_chars": a["chars"],
            "to_chars": b["chars"],
            "length_ratio": b["chars"] / a["chars"],
            "time_ratio": b["p50_ms"] / a["p50_ms"],
            "time_per_length": (b["p50_ms"] / a["p50_ms"]) / (b["chars"] / a["chars"]),
        }
        for a, b in itertools.pairwise(timed)
    ]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="Triton gRPC HOST:PORT")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=3, help="at most; fewer once a size took 20 s")
    parser.add_argument("--admin-key", default="")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    records = measure(args.url, args.model, args.sizes, repeats=args.repeats, admin_key=args.admin_key)
    result = {"model": args.model, "documents": records, "linearity": linearity(records)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for r in records:
        timing = f"p50 {r['p50_ms']:.0f} ms" if "p50_ms" in r else f"error: {r.get('error')}"
        print(
            f"  {r['chars']:>7} chars: {timing}, requests={r.get('requests_per_document', '-')},"
            f" truncated={r.get('truncated')},"
            f" dropped_tokens={r.get('dropped_tokens')}, entities={r.get('entities')}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
