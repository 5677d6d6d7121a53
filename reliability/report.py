"""Scenario results and the table the runner prints (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reliability.outcomes import Tally

COLUMNS = ("scenario", "sent", "answered", "failed", "lost", "wrong", "p50 ms", "p99 ms", "result")
#: Error kinds listed per row under the table (the rest are counted in the JSON report).
MAX_KINDS_SHOWN = 4


@dataclass(frozen=True)
class Check:
    """One property a scenario asserts, with the measured value that decided it."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Row:
    """One line of the table: the calls of one client (or one phase) of a scenario."""

    label: str
    tally: Tally


@dataclass
class ScenarioResult:
    """What one scenario measured and whether it holds.

    Attributes:
        name: Scenario name (``overload``, ``sigterm``, ...).
        rows: Table rows (a scenario may drive several clients).
        checks: Properties asserted.
        facts: Measured values worth reporting (capacity, exit time, memory growth, ...).
        notes: Observations in words (what the server did).
        duration_s: Wall time of the scenario.
        baseline: A reference measurement of a setting this project does not ship (shown for
            comparison; its checks do not decide the run).
    """

    name: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    baseline: bool = False

    @property
    def passed(self) -> bool:
        """True when every check passed (and at least one was made); a baseline always passes."""
        return self.baseline or (bool(self.checks) and all(check.passed for check in self.checks))

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL`` or ``baseline``."""
        if self.baseline:
            return "baseline"
        return "PASS" if self.passed else "FAIL"

    def check(self, name: str, passed: bool, detail: str) -> bool:
        """Record a check; returns ``passed``."""
        self.checks.append(Check(name, bool(passed), detail))
        return bool(passed)

    def check_nothing_lost(self) -> None:
        """The two checks every scenario makes on every row: no lost and no wrong answer."""
        for row in self.rows:
            self.check(f"{row.label}: lost = 0", row.tally.lost == 0, f"lost {row.tally.lost}")
            self.check(f"{row.label}: wrong = 0", row.tally.wrong == 0, f"wrong {row.tally.wrong}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table_rows(results: Sequence[ScenarioResult]) -> list[tuple[str, ...]]:
    """The table's cells, one tuple per row, header first."""
    rows: list[tuple[str, ...]] = [COLUMNS]
    for result in results:
        verdict = result.verdict
        for row in result.rows:
            t = row.tally
            rows.append(
                (
                    row.label,
                    str(t.sent),
                    str(t.answered),
                    str(t.failed),
                    str(t.lost),
                    str(t.wrong),
                    _ms(t.p50_ms),
                    _ms(t.p99_ms),
                    verdict,
                )
            )
    return rows


def render_table(results: Sequence[ScenarioResult]) -> str:
    """A Markdown table (readable as plain text too) of every row of every scenario."""
    rows = table_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    separator = "|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(rows[0]), separator, *(line(r) for r in rows[1:])])


def render_details(results: Sequence[ScenarioResult]) -> str:
    """Facts, notes, failed checks and error kinds of each scenario, as plain text."""
    lines: list[str] = []
    for result in results:
        lines.append(f"{result.name} ({result.duration_s:.0f} s): {result.verdict}")
        for key, value in result.facts.items():
            lines.append(f"  {key}: {value}")
        for note in result.notes:
            lines.append(f"  note: {note}")
        for row in result.rows:
            for kind, count in list(row.tally.kinds.items())[:MAX_KINDS_SHOWN]:
                lines.append(f"  {row.label}: {count} x {kind}")
        for check in result.checks:
            if not check.passed:
                lines.append(f"  FAILED CHECK {check.name}: {check.detail}")
    return "\n".join(lines)


def to_json(results: Sequence[ScenarioResult], **meta: Any) -> str:
    """Every result, check and count as JSON (the runner writes it next to the logs)."""
    payload = {
        **meta,
        "passed": all(r.passed for r in results),
        "scenarios": [{**asdict(r), "passed": r.passed, "verdict": r.verdict} for r in results],
    }
    return json.dumps(payload, indent=2, sort_keys=False)
