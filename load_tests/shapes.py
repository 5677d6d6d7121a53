"""Load shapes, by name: how many users run at each moment of a test.

- ``steady``: ``users`` users (started at ``spawn_rate`` per second) for the whole run;
- ``step``: a step ramp: ``steps`` equal steps up to ``users``, each lasting run time / steps;
  the step where p95 or failures turn is the service's knee;
- ``spike``: a baseline of ``spike_baseline`` x ``users``, then all ``users`` at once for the
  middle fifth of the run (from 40 % to 60 % of it), then back to the baseline: how the service
  absorbs a burst and whether it recovers.

Each shape is a pure function of the time since the test started (:meth:`Shape.tick`), so it
is tested without Locust; ``locustfile.ClinServeShape`` calls it from Locust's shape loop.
``--users``, ``--spawn-rate`` and ``--run-time`` keep their Locust meaning (peak users, users
started per second, duration), whichever shape runs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_SHAPE",
    "SHAPES",
    "Shape",
    "ShapeSettings",
    "Spike",
    "Steady",
    "StepRamp",
    "Tick",
    "make_shape",
]

#: What a shape answers for a moment: (users, spawn rate per second), or None to stop.
Tick = tuple[int, float] | None
DEFAULT_SHAPE = "steady"
SPIKE_START = 0.4
SPIKE_END = 0.6


@dataclass(frozen=True)
class ShapeSettings:
    """The numbers every shape reads.

    Attributes:
        users: Peak number of users.
        spawn_rate: Users started (or stopped) per second when the count changes.
        run_time_s: Length of the test; ``None`` runs ``steady`` until stopped.
        steps: Number of steps of the ``step`` shape.
        spike_baseline: Users outside the spike, as a fraction of ``users`` (at least one user).
    """

    users: int
    spawn_rate: float
    run_time_s: float | None = None
    steps: int = 4
    spike_baseline: float = 0.25

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"--users must be at least 1, got {self.users}")
        if not self.spawn_rate > 0:
            raise ValueError(f"--spawn-rate must be positive, got {self.spawn_rate}")
        if self.run_time_s is not None and not self.run_time_s > 0:
            raise ValueError(f"--run-time must be positive, got {self.run_time_s}")
        if self.steps < 1:
            raise ValueError(f"--shape-steps must be at least 1, got {self.steps}")
        if not 0 < self.spike_baseline <= 1:
            raise ValueError(f"--spike-baseline must be in (0, 1], got {self.spike_baseline}")


class Shape(ABC):
    """A load shape: users and spawn rate as a function of the elapsed time."""

    name: str

    def __init__(self, settings: ShapeSettings) -> None:
        self.settings = settings

    @abstractmethod
    def tick(self, elapsed_s: float) -> Tick:
        """Users and spawn rate ``elapsed_s`` seconds into the test; ``None`` once it is over."""

    @abstractmethod
    def describe(self) -> str:
        """One line for the run's banner."""

    def _over(self, elapsed_s: float) -> bool:
        return self.settings.run_time_s is not None and elapsed_s >= self.settings.run_time_s

    def _required_run_time(self) -> float:
        if self.settings.run_time_s is None:
            raise ValueError(f"the {self.name} shape needs --run-time (its phases are fractions of it)")
        return self.settings.run_time_s


class Steady(Shape):
    """The same number of users for the whole run."""

    name = "steady"

    def tick(self, elapsed_s: float) -> Tick:
        """``users`` at ``spawn_rate`` until the run time is over."""
        if self._over(elapsed_s):
            return None
        return self.settings.users, self.settings.spawn_rate

    def describe(self) -> str:
        """E.g. ``steady: 8 users (spawn rate 2/s) for 60s``."""
        s = self.settings
        duration = f"for {s.run_time_s:g}s" if s.run_time_s is not None else "until stopped"
        return f"steady: {s.users} users (spawn rate {s.spawn_rate:g}/s) {duration}"


class StepRamp(Shape):
    """``steps`` equal steps up to ``users``."""

    name = "step"

    def __init__(self, settings: ShapeSettings) -> None:
        super().__init__(settings)
        self.run_time_s = self._required_run_time()
        self.step_s = self.run_time_s / settings.steps

    def users_at_step(self, step: int) -> int:
        """Users during step ``step`` (0-based): the peak's (step + 1) / steps, at least one."""
        return max(1, math.ceil(self.settings.users * (step + 1) / self.settings.steps))

    def tick(self, elapsed_s: float) -> Tick:
        """The current step's users, until the run time is over."""
        if self._over(elapsed_s):
            return None
        step = min(int(elapsed_s // self.step_s), self.settings.steps - 1)
        return self.users_at_step(step), self.settings.spawn_rate

    def describe(self) -> str:
        """E.g. ``step: 2 -> 4 -> 6 -> 8 users, 15s per step``."""
        counts = " -> ".join(str(self.users_at_step(i)) for i in range(self.settings.steps))
        return f"step: {counts} users, {self.step_s:g}s per step (spawn rate {self.settings.spawn_rate:g}/s)"


class Spike(Shape):
    """A baseline, a burst to ``users`` from 40 % to 60 % of the run, the baseline again."""

    name = "spike"

    def __init__(self, settings: ShapeSettings) -> None:
        super().__init__(settings)
        self.run_time_s = self._required_run_time()
        self.baseline = max(1, round(settings.users * settings.spike_baseline))
        # The burst arrives (and leaves) within about a second, whatever --spawn-rate says.
        self.burst_rate = max(settings.spawn_rate, float(settings.users))

    def tick(self, elapsed_s: float) -> Tick:
        """Baseline users, or all users during the burst."""
        if self._over(elapsed_s):
            return None
        fraction = elapsed_s / self.run_time_s
        if SPIKE_START <= fraction < SPIKE_END:
            return self.settings.users, self.burst_rate
        if fraction < SPIKE_START:
            return self.baseline, self.settings.spawn_rate
        return self.baseline, self.burst_rate

    def describe(self) -> str:
        """E.g. ``spike: 2 users, 8 users from 24s to 36s, then 2 users``."""
        start, end = SPIKE_START * self.run_time_s, SPIKE_END * self.run_time_s
        return (
            f"spike: {self.baseline} users, {self.settings.users} users from {start:g}s to {end:g}s,"
            f" then {self.baseline} users until {self.run_time_s:g}s"
        )


SHAPES: Mapping[str, type[Shape]] = {"steady": Steady, "step": StepRamp, "spike": Spike}


def make_shape(name: str, settings: ShapeSettings) -> Shape:
    """The shape called ``name`` (steady, step, spike).

    Raises:
        ValueError: For an unknown name, or settings the shape cannot run with.
    """
    try:
        shape_class = SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown load shape {name!r}; the shapes are {', '.join(SHAPES)}") from None
    return shape_class(settings)
