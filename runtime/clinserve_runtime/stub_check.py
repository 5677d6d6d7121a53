"""Exit non-zero when a Python-backend stub of the server has died (a liveness check).

    python -m clinserve_runtime.stub_check            # the server is PID 1 (in its container)
    python -m clinserve_runtime.stub_check --pid 4242

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
from pathlib import Path

from clinserve_runtime.procfs import PROC, dead_stubs


def main(argv: list[str] | None = None, proc: Path = PROC) -> int:
    """Command-line entry point (``proc``: where ``/proc`` is, for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m clinserve_runtime.stub_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pid", type=int, default=1, help="tritonserver's process id (default 1)")
    args = parser.parse_args(argv)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
