"""Make a finished Locust process exit, with its own exit code, even when its teardown hangs.

Locust ends a run by firing its ``quit`` event, closing its CSV files and calling ``sys.exit``.
With gRPC under gevent (``grpc.experimental.gevent.init_gevent``, which the locustfile needs so
that one user's call does not block the others) the interpreter's teardown after that can block
for good: in clean-clone ``make test`` runs on 2026-12-06, the Locust process had printed its
final tables and then never exited, and the runner gave up after its margin
(``Locust did not finish within 180s``). gRPC's issue tracker holds gevent shutdown problems of
this kind (grpc/grpc#20299: gevent gets no chance to clean up while gRPC's core shuts down).
Nothing is lost at that point: the reports are written and the verdict is known.

:func:`arm` starts a real OS thread (not a greenlet: the gevent hub may be what is stuck) that
waits ``grace_s`` and then, if the process is still alive, prints every thread's stack (so the
next engineer sees where it hung) and ends the process with the run's exit code. A process that
exits normally never reaches it. A teardown stuck while holding the interpreter stops this
thread too; ``load_tests.run`` then kills the process and takes the verdict Locust wrote
(``verdict_of_hung_run``). This module does not import gevent, so it is unit-tested
directly; the locustfile passes it the unpatched thread and sleep functions.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

#: Seconds a finished run may take to exit by itself; Locust's own teardown takes well under one.
DEFAULT_GRACE_S = 20.0


def arm(
    exit_code: int,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    start_thread: Callable[[Callable[[], None], tuple[Any, ...]], Any],
    sleep: Callable[[float], None],
    exit_process: Callable[[int], None] = os._exit,
    stream: TextIO | None = None,
) -> None:
    """End the process with ``exit_code`` if it is still running ``grace_s`` seconds from now.

    Args:
        exit_code: The exit code Locust decided for the run.
        grace_s: How long the normal exit may take.
        start_thread: ``_thread.start_new_thread`` as the interpreter has it (not gevent's).
        sleep: ``time.sleep`` as the interpreter has it (not gevent's).
        exit_process: Ends the process at once (``os._exit``: no teardown, which is what hangs).
        stream: Where the message and the stacks go (standard error by default).
    """

    def watchdog() -> None:
        sleep(grace_s)
        out = stream or sys.stderr
        out.write(
            f"Locust's run ended but the process did not exit within {grace_s:g}s (a known gRPC/gevent"
            f" teardown hang, load_tests/exit_watchdog.py); its stacks follow; exiting with {exit_code}\n"
        )
        out.flush()
        # A stream without a file descriptor cannot take the stacks: the message is enough then.
        with contextlib.suppress(OSError, ValueError):
            faulthandler.dump_traceback(file=out, all_threads=True)
        sys.stdout.flush()
        exit_process(exit_code)

    start_thread(watchdog, ())
