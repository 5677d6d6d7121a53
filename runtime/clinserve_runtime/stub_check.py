"""Exit non-zero when a Python-backend stub of the server has died (a liveness check).

    python -m clinserve_runtime.stub_check            # the container's tritonserver process
    python -m clinserve_runtime.stub_check --pid 4242
    python -m clinserve_runtime.stub_check --live-url http://127.0.0.1:8000/v2/health/live

The Kubernetes liveness probe (deploy/k8s/base/deployment.yaml) runs the last form: one exec
probe that fails on a dead stub *or* on a server that no longer answers ``/v2/health/live``
(a probe has a single handler, so the HTTP check the probe used to make is made here).

Triton 2.51 neither restarts a Python-backend stub that dies nor reports it: the server and
the model keep answering 200 on their health and readiness endpoints while every request of
that model fails ("Stub process '<instance>' is not healthy."). It does not reap the dead
stub either, so the stub stays behind as a zombie child of ``tritonserver``; this check looks
for one (measured by ``make reliability``, docs/reliability.md). Exit status: 0 when every
stub is alive, 1 when one has died (listed on stderr), 2 when the server process is not there.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

from clinserve_runtime.procfs import PROC, dead_stubs, server_pids

LIVE_TIMEOUT_S = 3.0


def main(argv: list[str] | None = None, proc: Path = PROC) -> int:
    """Command-line entry point (``proc``: where ``/proc`` is, for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m clinserve_runtime.stub_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--pid", type=int, default=None, help="tritonserver's process id (default: find it by name)"
    )
    parser.add_argument("--live-url", default=None, help="also require HTTP 200 from this URL")
    args = parser.parse_args(argv)
    if args.pid is None:
        found = server_pids(proc)
        if not found:
            sys.stderr.write("no tritonserver process\n")
            return 2
        args.pid = found[0]
    if not (proc / str(args.pid)).is_dir():
        sys.stderr.write(f"no process {args.pid}\n")
        return 2
    dead = dead_stubs(args.pid, proc)
    if dead:
        sys.stderr.write(
            f"{len(dead)} Python-backend stub(s) of process {args.pid} died"
            f" (pid {', '.join(map(str, dead))}); their models fail every request\n"
        )
        return 1
    if args.live_url is not None:
        problem = _live_problem(args.live_url)
        if problem:
            sys.stderr.write(f"{args.live_url}: {problem}\n")
            return 1
    return 0


def _live_problem(url: str) -> str:
    """Why ``url`` does not answer 200 in time, or ``""``."""
    try:
        with urllib.request.urlopen(url, timeout=LIVE_TIMEOUT_S) as response:  # noqa: S310 (probe URL)
            return "" if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"unreachable ({exc})"


if __name__ == "__main__":
    sys.exit(main())
