"""Service-level thresholds and their verdict on a load test's statistics.

Three thresholds, each configurable (``--slo-*`` options or ``LOCUST_SLO_*`` variables):

- failure ratio: failed calls / all calls, over every model (default 0: any failure breaks);
- p95 latency per model: one limit for all, with per-model (or ``model/mode``) overrides,
  e.g. ``--slo-p95-ms "1000,biomarker=3000"``; a model that got no calls at all fails too;
- minimum throughput: completed calls per second over the whole run.

The verdict is a list of :class:`Check` rows; the run fails when any row fails. The module is
pure (no Locust): ``locustfile`` turns Locust's statistics into :class:`RunStats`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

__all__ = [
    "DEFAULT_MAX_FAILURE_RATIO",
    "DEFAULT_MIN_RPS",
    "DEFAULT_P95_MS",
    "Check",
    "EndpointStats",
    "RunStats",
    "Thresholds",
    "checks_json",
    "evaluate",
    "format_checks",
    "parse_p95",
]

DEFAULT_MAX_FAILURE_RATIO = 0.0
#: Generous defaults for the demo models on a small CPU machine (the document-sized payloads of
#: biomarker and drug_development_trials cost ten times a tweet); set your own for a rollout.
DEFAULT_P95_MS = "2000,biomarker=5000,drug_development_trials=5000"
DEFAULT_MIN_RPS = 1.0
OFF = ("off", "none", "")


@dataclass(frozen=True)
class EndpointStats:
    """One statistics row: calls to one model (or model/mode)."""

    name: str
    requests: int
    failures: int
    p95_ms: float | None

    @property
    def model(self) -> str:
        """The model part of ``model/mode``."""
        return self.name.partition("/")[0]


@dataclass(frozen=True)
class RunStats:
    """What a run did: its rows and how long it ran."""

    endpoints: tuple[EndpointStats, ...]
    duration_s: float
    unexpected_exceptions: int = 0

    @property
    def requests(self) -> int:
        """Calls made, failed ones included."""
        return sum(e.requests for e in self.endpoints)

    @property
    def failures(self) -> int:
        """Calls that failed."""
        return sum(e.failures for e in self.endpoints)

    @property
    def rps(self) -> float:
        """Calls per second over the run."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


def _limit(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what}: the limit must be a positive number of milliseconds, got {text!r}")
    return value


def parse_p95(spec: str) -> tuple[float | None, dict[str, float]]:
    """Parse ``--slo-p95-ms``: ``"1000"``, ``"1000,biomarker=3000"``, ``"biomarker=3000"`` or ``"off"``.

    Returns:
        The limit for every model (``None``: no general limit) and the per-name overrides.
    """
    if spec.strip().lower() in OFF:
        return None, {}
    default: float | None = None
    overrides: dict[str, float] = {}
    for raw in spec.split(","):
        item = raw.strip()
        name, equals, value = item.partition("=")
        if not item or (equals and not name.strip()):
            raise ValueError(f"--slo-p95-ms {spec!r}: expected MS or NAME=MS items separated by commas")
        if not equals:
            if default is not None:
                raise ValueError(f"--slo-p95-ms {spec!r}: more than one limit without a model name")
            default = _limit(item, "--slo-p95-ms")
        else:
            overrides[name.strip()] = _limit(value.strip(), f"--slo-p95-ms {name.strip()}")
    return default, overrides


@dataclass(frozen=True)
class Thresholds:
    """Service-level limits (``None``: not checked)."""

    max_failure_ratio: float | None = DEFAULT_MAX_FAILURE_RATIO
    p95_ms: float | None = None
    p95_ms_by_name: Mapping[str, float] = field(default_factory=dict)
    min_rps: float | None = None

    def __post_init__(self) -> None:
        if self.max_failure_ratio is not None and not 0 <= self.max_failure_ratio <= 1:
            raise ValueError(f"--slo-max-failure-ratio must be in [0, 1], got {self.max_failure_ratio}")
        if self.min_rps is not None and (not math.isfinite(self.min_rps) or self.min_rps < 0):
            raise ValueError(f"--slo-min-rps must be a non-negative number, got {self.min_rps}")

    @classmethod
    def from_options(cls, max_failure_ratio: float | None, p95_ms: str, min_rps: float | None) -> Thresholds:
        """Thresholds from the command-line values (a negative number turns a check off)."""
        default, overrides = parse_p95(p95_ms)
        return cls(
            max_failure_ratio=None
            if max_failure_ratio is None or max_failure_ratio < 0
            else max_failure_ratio,
            p95_ms=default,
            p95_ms_by_name=overrides,
            min_rps=None if min_rps is None or min_rps < 0 else min_rps,
        )

    def p95_for(self, name: str) -> float | None:
        """The p95 limit of ``name`` (``model/mode``): its own, its model's, or the general one."""
        model = name.partition("/")[0]
        return self.p95_ms_by_name.get(name, self.p95_ms_by_name.get(model, self.p95_ms))

    def unused_overrides(self, names: Iterable[str]) -> list[str]:
        """Override names that match no statistics row (most likely a typo)."""
        names = list(names)
        models = {name.partition("/")[0] for name in names}
        return [key for key in self.p95_ms_by_name if key not in names and key not in models]

    def describe(self) -> str:
        """One line, e.g. ``failure ratio <= 0, p95 <= 2000 ms (biomarker 4000 ms), >= 1 req/s``."""
        parts = []
        if self.max_failure_ratio is not None:
            parts.append(f"failure ratio <= {self.max_failure_ratio:g}")
        if self.p95_ms is not None or self.p95_ms_by_name:
            general = f"p95 <= {self.p95_ms:g} ms" if self.p95_ms is not None else "p95"
            extra = ", ".join(f"{name} {limit:g} ms" for name, limit in self.p95_ms_by_name.items())
            parts.append(f"{general} ({extra})" if extra else general)
        if self.min_rps is not None:
            parts.append(f"throughput >= {self.min_rps:g} req/s")
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class Check:
    """One verdict row."""

    check: str
    limit: str
    observed: str
    passed: bool


def evaluate(stats: RunStats, thresholds: Thresholds, expected: Sequence[str] = ()) -> list[Check]:
    """Every check of ``thresholds`` against ``stats``; ``expected`` names must have had calls."""
    checks: list[Check] = []
    if stats.unexpected_exceptions:
        checks.append(
            Check("locustfile errors", "0", str(stats.unexpected_exceptions), passed=False),
        )
    if stats.requests == 0:
        checks.append(Check("calls made", "> 0", "0", passed=False))
    if thresholds.max_failure_ratio is not None and stats.requests:
        ratio = stats.failures / stats.requests
        checks.append(
            Check(
                "failure ratio",
                f"<= {thresholds.max_failure_ratio:g}",
                f"{ratio:.4g} ({stats.failures}/{stats.requests})",
                passed=ratio <= thresholds.max_failure_ratio,
            )
        )
    rows = {e.name: e for e in stats.endpoints}
    for name in expected:
        rows.setdefault(name, EndpointStats(name, 0, 0, None))
    for name, row in rows.items():
        limit = thresholds.p95_for(name)
        if row.requests == 0:
            checks.append(Check(f"p95 {name}", "calls > 0", "no calls", passed=False))
        elif limit is not None:
            observed = "n/a" if row.p95_ms is None else f"{row.p95_ms:g} ms"
            passed = row.p95_ms is not None and row.p95_ms <= limit
            checks.append(Check(f"p95 {name}", f"<= {limit:g} ms", observed, passed=passed))
    if thresholds.min_rps is not None:
        checks.append(
            Check(
                "throughput",
                f">= {thresholds.min_rps:g} req/s",
                f"{stats.rps:.2f} req/s",
                passed=stats.rps >= thresholds.min_rps,
            )
        )
    return checks


def format_checks(checks: Sequence[Check]) -> str:
    """An aligned table, then ``SLO PASSED`` or ``SLO FAILED: n of m checks``."""
    header = ("check", "limit", "observed", "")
    rows = [header, *((c.check, c.limit, c.observed, "ok" if c.passed else "FAILED") for c in checks)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
        for row in rows
    ]
    failed = sum(not c.passed for c in checks)
    verdict = "SLO PASSED" if not failed else f"SLO FAILED: {failed} of {len(checks)} checks"
    return "\n".join([*(line.rstrip() for line in lines), verdict])


def checks_json(checks: Sequence[Check], thresholds: Thresholds, stats: RunStats) -> str:
    """The verdict as JSON (written beside the CSV files for CI)."""
    return json.dumps(
        {
            "passed": all(c.passed for c in checks),
            "thresholds": thresholds.describe(),
            "requests": stats.requests,
            "failures": stats.failures,
            "duration_s": round(stats.duration_s, 3),
            "rps": round(stats.rps, 3),
            "checks": [asdict(c) for c in checks],
        },
        indent=2,
    )
