"""tools/int8_compare.py: the calibrated int8 graph is batch-independent, the dynamic one is not."""

from __future__ import annotations

from clinserve_runtime.build_demo import build
from clinserve_runtime.importers.batch_independence import SCORE_TOLERANCE
from tools import int8_compare


def test_the_three_graphs_are_compared_side_by_side(tmp_path, capsys):
    build(tmp_path, "tiny", models=["treatment_changes"])
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"Text {i}: " + "the dose was reduced. " * (i % 7 + 1) for i in range(40)))
    capsys.readouterr()  # the build's progress lines
    assert (
        int8_compare.main(
            [str(tmp_path), "--model", "treatment_changes", "--texts", str(texts), "--seconds", "0.1"]
        )
        == 0
    )
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "seq/s" not in line]
    assert [row.split("|")[1].strip() for row in rows] == [
        "fp32",
        "int8 static (cpu profile)",
        "int8 dynamic (before)",
    ]
    results = int8_compare.compare(tmp_path, "treatment_changes", tuple(texts.read_text().splitlines()), 0.1)
    graphs = results["graphs"]
    assert graphs["int8 static (cpu profile)"]["batch_independence"]["max_abs_score_diff"] <= SCORE_TOLERANCE
    assert graphs["int8 dynamic (before)"]["batch_independence"]["max_abs_score_diff"] > SCORE_TOLERANCE
    assert all(g["sequences_per_s"] > 0 for g in graphs.values())
