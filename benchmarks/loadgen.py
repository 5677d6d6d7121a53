"""Closed-loop load generator: a separate client process, one text per request (or more).

Targets:

- ``grpc://HOST:PORT/MODEL``: a Triton ensemble over gRPC (``tritonclient.grpc.aio``), input
  ``TEXT`` (one text), output ``RESULT``; with ``--admin-key`` it also snapshots Triton's
  statistics at the start and end of every measurement window;
- ``http://HOST:PORT/PATH``: a peer server, ``POST {"texts": [text]}`` over keep-alive
  HTTP/1.1 connections (one per in-flight request, as a connection-pooling client would).

At each concurrency C, C workers each keep one request in flight (the shared load driver's
closed loop, ``lab.driver``), walking the corpus from evenly spaced offsets so the length mix
is interleaved; with ``--texts-per-request K`` each request carries the next K texts (a service
that batches on its side) and throughput still counts texts. A warm-up precedes each window;
latency counts requests that start and end inside the window (``benchmarks.stats.summarize``).

    python -m benchmarks.loadgen grpc://127.0.0.1:8001/treatment_changes \
        --corpus build/bench/corpus.jsonl --concurrency 1 8 32 64 --duration 8 --output out.json

With ``--targets FILE`` (a JSON list of ``{"name", "url", "admin_key", "pid"}``) one client
process measures several servers, interleaved: at each concurrency, every target in turn. With a
target's ``pid`` (its server's process, on this machine) the CPU time of that process and every
process below it is also taken at the window's edges (``benchmarks.process_cpu``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from benchmarks.process_cpu import cpu_used, per_text_ms, tree_cpu_seconds
from benchmarks.stats import Request, summarize
from lab.corpus import read_texts
from lab.driver import Call, Driver, Session

MAX_ERROR_SAMPLES = 5
# A request that takes longer has failed (the slowest peer at c=64 answers in seconds).
REQUEST_TIMEOUT_S = 120.0
# A window holds at least this many typical latencies (and is stretched at most this much).
LATENCIES_PER_WINDOW = 3.0
MAX_WINDOW_STRETCH = 3.0


class BenchmarkError(RuntimeError):
    """A target answered wrongly or could not be reached."""


class Target(Protocol):
    """A server under test."""

    async def session(self) -> Session:
        """A new worker session."""

    async def statistics(self) -> dict[str, Any] | None:
        """Server-side statistics snapshot, when the target has them."""

    async def close(self) -> None:
        """Release shared resources."""


class TritonSession:
    """A worker on the shared gRPC channel (HTTP/2 multiplexes the streams)."""

    def __init__(self, target: TritonTarget) -> None:
        self.target = target

    async def send(self, texts: Sequence[str]) -> Sequence[Any]:
        from tritonclient.grpc import aio as grpc_aio

        data = grpc_aio.InferInput("TEXT", [len(texts)], "BYTES")
        data.set_data_from_numpy(np.array([text.encode("utf-8") for text in texts], dtype=np.object_))
        response = await self.target.client.infer(
            self.target.model,
            [data],
            outputs=[grpc_aio.InferRequestedOutput("RESULT")],
            client_timeout=REQUEST_TIMEOUT_S,
        )
        results = response.as_numpy("RESULT")
        if results is None or len(results) != len(texts):
            raise BenchmarkError(f"{self.target.model}: expected {len(texts)} RESULT, got {results!r:.200}")
        for item in results:
            document = json.loads(item)
            if document.get("model") != self.target.model:
                raise BenchmarkError(f"{self.target.model}: unexpected result {document!r:.200}")
        return list(results)

    async def close(self) -> None:
        return None


class TritonTarget:
    """A Triton ensemble over gRPC."""

    def __init__(self, url: str, model: str, *, admin_key: str = "") -> None:
        from tritonclient.grpc import aio as grpc_aio

        self.client = grpc_aio.InferenceServerClient(url)
        self.model = model
        self.admin_key = admin_key

    async def session(self) -> Session:
        return TritonSession(self)

    async def statistics(self) -> dict[str, Any] | None:
        if not self.admin_key:
            return None
        from clinserve_runtime.triton import GRPC_ADMIN_KEY_HEADER

        stats = await self.client.get_inference_statistics(
            headers={GRPC_ADMIN_KEY_HEADER: self.admin_key}, as_json=True
        )
        return dict(stats)

    async def close(self) -> None:
        await self.client.close()


class HttpSession:
    """One keep-alive HTTP/1.1 connection (asyncio streams; the peers answer with Content-Length)."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def send(self, texts: Sequence[str]) -> Sequence[Any]:
        try:
            return await asyncio.wait_for(self._exchange(texts), REQUEST_TIMEOUT_S)
        except BaseException:
            # The connection's state is unknown after a failure: start a fresh one.
            await self.close()
            self.reader = self.writer = None
            raise

    async def _exchange(self, texts: Sequence[str]) -> list[Any]:
        reader, writer = await self._connect()
        body = json.dumps({"texts": list(texts)}).encode("utf-8")
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            self.writer = None
            raise BenchmarkError("the peer closed the connection")
        status = int(status_line.split()[1])
        length = None
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            raise BenchmarkError("the peer's answer has no Content-Length")
        payload = await reader.readexactly(length)
        if status != 200:
            raise BenchmarkError(f"HTTP {status}: {payload[:200]!r}")
        results = json.loads(payload).get("results")
        if not isinstance(results, list) or len(results) != len(texts):
            raise BenchmarkError(f"expected {len(texts)} results, got {payload[:200]!r}")
        return results

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class HttpTarget:
    """A peer server (FastAPI) over HTTP/1.1."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path

    async def session(self) -> Session:
        return HttpSession(self.host, self.port, self.path)

    async def statistics(self) -> dict[str, Any] | None:
        return None

    async def close(self) -> None:
        return None


def parse_target(url: str, *, admin_key: str = "") -> Target:
    """``grpc://host:port/model`` or ``http://host:port/path``."""
    parts = urlsplit(url)
    if parts.scheme not in ("grpc", "http") or not parts.hostname or not parts.port:
        raise ValueError(f"target must be grpc://HOST:PORT/MODEL or http://HOST:PORT/PATH, got {url!r}")
    if parts.scheme == "grpc":
        model = parts.path.strip("/")
        if not model:
            raise ValueError(f"{url!r} names no model")
        return TritonTarget(f"{parts.hostname}:{parts.port}", model, admin_key=admin_key)
    return HttpTarget(parts.hostname, parts.port, parts.path or "/")


def window_length(duration_s: float, warmup_latencies_s: Sequence[float]) -> float:
    """The measurement window: ``duration_s``, stretched to hold several typical latencies.

    A slow target at high concurrency answers each request in seconds; a window of a few
    latencies keeps the percentiles from resting on a handful of requests. Stretched at most
    to ``MAX_WINDOW_STRETCH`` times the asked duration.
    """
    if not warmup_latencies_s:
        return duration_s
    typical = sorted(warmup_latencies_s)[len(warmup_latencies_s) // 2]
    return min(max(duration_s, LATENCIES_PER_WINDOW * typical), MAX_WINDOW_STRETCH * duration_s)


@dataclass
class Level:
    """What one concurrency level produced."""

    concurrency: int
    requests: list[Request]
    window: tuple[float, float]
    errors: list[str]
    stats_before: dict[str, Any] | None
    stats_after: dict[str, Any] | None
    client_cpu_s: float = 0.0
    #: CPU seconds of the target's processes during the window, by label (``None``: no pid).
    process_cpu_s: dict[str, float] | None = None
    #: Texts each request carried.
    texts_per_request: int = 1


async def run_level(
    target: Target,
    texts: Sequence[str],
    concurrency: int,
    *,
    warmup_s: float,
    duration_s: float,
    pid: int = 0,
    texts_per_request: int = 1,
) -> Level:
    """Keep ``concurrency`` requests in flight through warm-up and the window, then drain.

    The load is the shared driver's closed loop (``lab.driver``). The window opens once
    ``warmup_s`` has passed *and* every caller has completed a request, so slow targets at high
    concurrency are measured in steady state, not while filling up. With ``pid``, the CPU time
    of that process tree is taken at the window's edges.
    """
    driver = Driver(target.session, texts, texts_per_request=texts_per_request)
    calls: list[Call] = []
    callers_done: set[int] = set()
    warmed, stop = asyncio.Event(), asyncio.Event()
    bounds: dict[str, float] = {}
    snapshots: dict[str, dict[str, Any] | None] = {}
    tree_cpu: dict[str, dict[str, float]] = {}

    def on_call(caller: int, call: Call) -> None:
        calls.append(call)
        callers_done.add(caller)
        if len(callers_done) == concurrency:
            warmed.set()

    async def conduct() -> None:
        await warmed.wait()
        await asyncio.sleep(max(0.0, warmup_s - driver.now()))
        window = window_length(duration_s, [c.latency_s for c in calls])
        snapshots["before"] = await target.statistics()
        if pid:
            tree_cpu["before"] = tree_cpu_seconds(pid)
        bounds["start"] = driver.now()
        bounds["cpu"] = time.process_time()
        bounds["stop"] = bounds["start"] + window
        await asyncio.sleep(window)
        stop.set()  # callers send nothing more; requests in flight drain
        bounds["cpu"] = time.process_time() - bounds["cpu"]
        if pid:
            tree_cpu["after"] = tree_cpu_seconds(pid)
        snapshots["after"] = await target.statistics()

    await asyncio.gather(driver.closed_loop(concurrency, stop=stop, on_call=on_call), conduct())
    return Level(
        concurrency,
        [Request(c.started, c.ended, c.ok, c.texts) for c in calls],
        (bounds["start"], bounds["stop"]),
        [c.detail for c in calls if not c.ok][:MAX_ERROR_SAMPLES],
        snapshots.get("before"),
        snapshots.get("after"),
        client_cpu_s=bounds["cpu"],
        process_cpu_s=cpu_used(tree_cpu["before"], tree_cpu["after"]) if tree_cpu else None,
        texts_per_request=texts_per_request,
    )


@dataclass(frozen=True)
class TargetSpec:
    """A named target of one load run."""

    name: str
    url: str
    admin_key: str = ""
    #: The server's process on this machine: its tree's CPU time is recorded (0: not recorded).
    pid: int = 0


async def run_levels(
    specs: Sequence[TargetSpec],
    texts: Sequence[str],
    concurrencies: Sequence[int],
    *,
    warmup_s: float,
    duration_s: float,
    on_level: Callable[[str, Level], None] | None = None,
    texts_per_request: int = 1,
) -> dict[str, list[Level]]:
    """Every concurrency level, and at each level every target in turn (interleaved).

    Interleaving puts the targets' windows for one level minutes apart at most, so a change in
    the machine's background load hits them alike. Targets are created here: a gRPC aio
    channel belongs to the event loop it was made in.
    """
    targets = {spec.name: parse_target(spec.url, admin_key=spec.admin_key) for spec in specs}
    levels: dict[str, list[Level]] = {name: [] for name in targets}
    try:
        for concurrency in concurrencies:
            for spec in specs:
                level = await run_level(
                    targets[spec.name],
                    texts,
                    concurrency,
                    warmup_s=warmup_s,
                    duration_s=duration_s,
                    pid=spec.pid,
                    texts_per_request=texts_per_request,
                )
                levels[spec.name].append(level)
                if on_level is not None:
                    on_level(spec.name, level)
    finally:
        for target in targets.values():
            await target.close()
    return levels


def level_record(level: Level) -> dict[str, Any]:
    """JSON-ready record of one level: summary, raw latencies, errors, statistics."""
    begin, end = level.window
    inside = [r for r in level.requests if r.ok and r.start >= begin and r.end <= end]
    record: dict[str, Any] = {
        "concurrency": level.concurrency,
        "texts_per_request": level.texts_per_request,
        "latencies_ms": [round((r.end - r.start) * 1000, 3) for r in inside],
        "error_samples": level.errors,
        # The client shares the machine's cores with the server: its own CPU use in the window.
        "client_cpu_share": level.client_cpu_s / (end - begin),
        "triton_stats": {"before": level.stats_before, "after": level.stats_after},
    }
    if level.process_cpu_s is not None:
        answered = sum(r.texts for r in level.requests if r.ok and begin <= r.end <= end)
        record["process_cpu_s"] = level.process_cpu_s
        record["process_cpu_ms_per_text"] = per_text_ms(level.process_cpu_s, answered)
    try:
        record["summary"] = summarize(
            level.requests, concurrency=level.concurrency, window=level.window
        ).to_dict()
    except ValueError as exc:
        record["summary"] = None
        record["failure"] = str(exc)
    return record


def level_line(name: str, record: dict[str, Any]) -> str:
    """One console line for a measured level."""
    summary = record["summary"]
    if summary is None:
        failure, errors = record["failure"], record["error_samples"]
        return f"  {name:<14} c={record['concurrency']:>3}: {failure}; errors: {errors}"
    return (
        f"  {name:<14} c={summary['concurrency']:>3}: {summary['throughput']:7.1f} texts/s"
        f"  p50 {summary['p50_ms']:8.1f} ms  p95 {summary['p95_ms']:8.1f}  p99 {summary['p99_ms']:8.1f}"
        f"  errors {summary['errors']}"
    )


def read_targets(path: Path) -> list[TargetSpec]:
    """Targets from a JSON list of ``{"name", "url", "admin_key"?, "pid"?}``."""
    specs = [
        TargetSpec(t["name"], t["url"], t.get("admin_key", ""), int(t.get("pid", 0)))
        for t in json.loads(path.read_text())
    ]
    names = [s.name for s in specs]
    if not specs or len(set(names)) != len(names):
        raise ValueError(f"{path}: expected a non-empty list of targets with distinct names, got {names}")
    return specs


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", nargs="?", help="grpc://HOST:PORT/MODEL or http://HOST:PORT/PATH")
    parser.add_argument("--targets", type=Path, help="JSON list of {name, url, admin_key}: several targets")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each window")
    parser.add_argument("--texts-per-request", type=int, default=1, help="texts each request carries")
    parser.add_argument("--admin-key", default="", help="Triton admin key: also record statistics")
    parser.add_argument(
        "--pid", type=int, default=0, help="the server's process: also record its tree's CPU time"
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if (
        any(c < 1 for c in args.concurrency)
        or args.duration <= 0
        or args.warmup < 0
        or args.texts_per_request < 1
    ):
        parser.error("concurrency and texts per request must be >= 1, duration > 0 and warm-up >= 0")
    if (args.target is None) == (args.targets is None):
        parser.error("give one target URL or --targets FILE")
    texts = [t.text for t in read_texts(args.corpus)]
    if not texts:
        parser.error(f"{args.corpus} holds no texts")
    try:
        specs = (
            read_targets(args.targets)
            if args.targets
            else [TargetSpec("target", args.target, args.admin_key, args.pid)]
        )
        for spec in specs:
            parse_target(spec.url)
    except (ValueError, KeyError, OSError) as exc:
        parser.error(str(exc))

    def report(name: str, level: Level) -> None:
        print(level_line(name, level_record(level)), flush=True)

    levels = asyncio.run(
        run_levels(
            specs,
            texts,
            args.concurrency,
            warmup_s=args.warmup,
            duration_s=args.duration,
            on_level=report,
            texts_per_request=args.texts_per_request,
        )
    )
    result = {
        "targets": {
            spec.name: {"target": spec.url, "levels": [level_record(level) for level in levels[spec.name]]}
            for spec in specs
        }
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
