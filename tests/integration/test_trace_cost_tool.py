"""tools/trace_cost.py compares a server without tracing and one tracing every request."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_tracing import MODEL, TRACE_REPOSITORY
from tools import trace_cost

pytestmark = pytest.mark.integration


def test_trace_cost_measures_both_servers_and_receives_every_span(tmp_path, capsys):
    from clinserve_runtime.build_demo import build

    build(TRACE_REPOSITORY, "tiny", models=[MODEL])
    requests = 3
    argv = [str(TRACE_REPOSITORY), "--requests", str(requests), "--log-dir", str(tmp_path)]
    assert trace_cost.main(argv) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(tracing [^\d]+?)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)$", out, flags=re.MULTILINE)
    assert [name for name, *_ in rows] == ["tracing off", "tracing on, every request traced"]
    # Round trips take time; the CPU column counts 10 ms clock ticks, so 3 requests may read 0.
    assert all(float(median) > 0 and float(p95) >= float(median) for _, median, p95, _ in rows)
    assert all(float(cpu) >= 0 for *_, cpu in rows)
    expected = trace_cost.SPANS_PER_REQUEST * (trace_cost.WARM_UP_REQUESTS + requests)
    assert f"spans received: {expected} of {expected} expected" in out
    joined, sent = map(int, re.search(r"requests in the caller's trace: (\d+) of (\d+)", out).groups())  # type: ignore[union-attr]
    assert sent == trace_cost.WARM_UP_REQUESTS + requests
    assert joined >= sent // 2  # most keep it; Triton ignores a few (docs/runtime.md, lesson 17)
