"""Where the servers are: one target, a ``dns:///`` name for many, or an explicit list.

Two ways to spread calls over replicas:

- a gRPC target that resolves to several addresses (``dns:///svc.ns:8001`` for a Kubernetes
  headless Service, or ``ipv4:10.0.0.1:8001,10.0.0.2:8001``): one channel, gRPC's own
  ``round_robin`` load-balancing policy keeps a connection to every address;
- an explicit list of endpoints: one channel each, picked in turn by :class:`EndpointPool`,
  which skips an endpoint for a while after it was found unavailable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Callable, Generic, TypeVar

__all__ = ["URI_SCHEMES", "EndpointPool", "parse_targets"]

C = TypeVar("C")
#: Target prefixes gRPC resolves itself; such a target is never split on commas.
URI_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:")


def parse_targets(url: str | Sequence[str]) -> list[str]:
    """Normalise what the caller passed into a list of gRPC targets.

    ``"h1:8001,h2:8001"`` is a list of two endpoints; a target with a gRPC URI scheme
    (``dns:///...``, ``ipv4:a,b``) is one target whatever it contains.

    Raises:
        ValueError: When no target is given or one is blank or has a URL scheme gRPC does not
            dial (``http://``).
    """
    if isinstance(url, str):
        stripped = url.strip()
        items = [stripped] if stripped.startswith(URI_SCHEMES) else stripped.split(",")
    else:
        items = list(url)
    targets = [item.strip() for item in items]
    if not targets or any(not t for t in targets):
        raise ValueError(
            f"no server address in {url!r}; expected host:port, a list of them, or dns:///host:port"
        )
    for target in targets:
        if "://" in target and not target.startswith(URI_SCHEMES):
            raise ValueError(
                f"{target!r}: give the gRPC address as host:port (or dns:///host:port), not an http(s) URL"
            )
    return targets


class EndpointPool(Generic[C]):
    """Round-robin over per-endpoint clients, skipping endpoints recently found unavailable.

    Thread-safe. When every endpoint is cooling down, the one whose cooldown ends first is
    tried anyway: a call never fails only because of the pool's bookkeeping.
    """

    def __init__(
        self,
        endpoints: Sequence[tuple[str, C]],
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self._endpoints = list(endpoints)
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._down_until = {name: 0.0 for name, _ in endpoints}
        self._next = 0
        self._lock = threading.Lock()

    @property
    def endpoints(self) -> list[tuple[str, C]]:
        """Every ``(target, client)`` pair, in the configured order."""
        return list(self._endpoints)

    def __len__(self) -> int:
        return len(self._endpoints)

    def pick(self) -> tuple[str, C]:
        """The next endpoint in turn that is not cooling down."""
        with self._lock:
            now = self._clock()
            count = len(self._endpoints)
            for step in range(count):
                index = (self._next + step) % count
                name, client = self._endpoints[index]
                if self._down_until[name] <= now:
                    self._next = (index + 1) % count
                    return name, client
            name, client = min(self._endpoints, key=lambda item: self._down_until[item[0]])
            return name, client

    def mark_unavailable(self, name: str) -> None:
        """Skip ``name`` for the cooldown period."""
        with self._lock:
            self._down_until[name] = self._clock() + self._cooldown_s

    def mark_available(self, name: str) -> None:
        """``name`` answered: take it back into rotation at once."""
        with self._lock:
            self._down_until[name] = 0.0

    def has_available(self) -> bool:
        """True when some endpoint is not cooling down (the next attempt can go there at once)."""
        with self._lock:
            now = self._clock()
            return any(until <= now for until in self._down_until.values())
