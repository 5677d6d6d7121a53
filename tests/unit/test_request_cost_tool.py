"""tools/request_cost.py: the Python steps' CPU time for the largest and most awkward requests."""

from __future__ import annotations

import re

from clinserve_runtime.build_demo import build
from tools import request_cost


def test_every_kind_of_text_at_the_limit_is_answered_or_refused_and_timed(tmp_path, capsys):
    build(tmp_path / "repository", "tiny", models=["drug_development_trials"])
    assert request_cost.main([str(tmp_path / "repository"), "--models", "drug_development_trials"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("drug_development_trials")]
    assert len(rows) == 2 * (len(request_cost.KINDS) + 1)  # two modes
    assert all(
        re.search(r"tokenizer +[\d.]+ s, post-processor +[\d.]+ s, (encoded|refused)", r) for r in rows
    )
    # The longest prose a request carries is encoded; the same kind at the character limit is not.
    assert all("encoded" in r for r in rows if "largest prose accepted" in r)
    assert re.match(r"slowest step: [\d.]+ CPU s", lines[-1])
