"""Step-by-step progress lines on stderr, with timings, for long import steps."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """Prints ``[import] step ...`` when a step starts and ``done in Xs`` when it ends."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        """Write to ``stream`` (stderr by default); ``quiet`` prints nothing."""
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.timings: dict[str, float] = {}

    def note(self, message: str) -> None:
        """One line of information."""
        if not self.quiet:
            print(f"[import] {message}", file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """One line the user must see: printed even when quiet."""
        print(f"[import] warning: {message}", file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time one step; the duration is also kept in :attr:`timings`."""
        started = time.perf_counter()
        self.note(f"{name} ...")
        try:
            yield
        except BaseException:
            self.note(f"{name} FAILED after {time.perf_counter() - started:.1f}s")
            raise
        elapsed = time.perf_counter() - started
        self.timings[name] = round(elapsed, 3)
        self.note(f"{name} done in {elapsed:.1f}s")
