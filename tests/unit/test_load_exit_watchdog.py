"""A finished Locust run exits with its own code even when teardown hangs (load_tests/exit_watchdog.py).

Each case runs a real child process: the watchdog's job is to end a process, which only a
process can show.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from tests.conftest import PROJECT_ROOT

ARMED = """
import _thread, sys, threading, time
sys.path.insert(0, {root!r})
from load_tests import exit_watchdog
exit_watchdog.arm({code}, grace_s={grace}, start_thread=_thread.start_new_thread, sleep=time.sleep)
"""


def _run(body: str, *, code: int, grace: float) -> tuple[subprocess.CompletedProcess[str], float]:
    script = ARMED.format(root=str(PROJECT_ROOT), code=code, grace=grace) + textwrap.dedent(body)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - started


def test_a_process_whose_teardown_hangs_exits_with_the_runs_code_and_shows_where_it_hung():
    # A non-daemon thread that never ends blocks the interpreter's exit, as the gRPC/gevent hang did.
    done, took = _run(
        """
        def stuck_in_teardown():
            threading.Event().wait()
        threading.Thread(target=stuck_in_teardown, name="stuck").start()
        sys.exit(0)
        """,
        code=3,
        grace=0.5,
    )
    assert done.returncode == 3
    assert took < 30
    assert "did not exit within 0.5s" in done.stderr and "exiting with 3" in done.stderr
    assert "stuck_in_teardown" in done.stderr  # every thread's stack, the stuck one included


def test_a_process_that_exits_normally_keeps_its_own_code_and_does_not_wait_for_the_watchdog():
    done, took = _run("sys.exit(5)\n", code=0, grace=30)
    assert done.returncode == 5
    assert took < 20
    assert "did not exit" not in done.stderr


def test_a_killed_locust_run_takes_its_written_verdict_or_fails(tmp_path, capsys):
    from load_tests.run import verdict_of_hung_run

    verdict = tmp_path / "clinserve_slo.json"
    assert verdict_of_hung_run(verdict, 180) == 1  # no verdict: the run did not finish
    assert "wrote no verdict" in capsys.readouterr().err
    check = {"check": "failure ratio", "limit": "<= 0", "observed": "0", "passed": True}
    verdict.write_text(json.dumps({"passed": True, "thresholds": "failure ratio <= 0", "checks": [check]}))
    assert verdict_of_hung_run(verdict, 180) == 0
    printed = capsys.readouterr()
    assert "hung after its run" in printed.err
    assert "Service-level thresholds: failure ratio <= 0" in printed.out and "SLO PASSED" in printed.out
    verdict.write_text('{"passed": false, "checks": []}', encoding="utf-8")
    assert verdict_of_hung_run(verdict, 180) == 1
