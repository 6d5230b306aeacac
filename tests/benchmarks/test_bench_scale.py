"""The scale benchmark on tiny sizes: every section runs in its child and prints its rows."""

from __future__ import annotations

import numpy as np

from benchmarks import bench_scale as bench


def test_synthetic_embeddings_are_seeded_and_hold_near_copies():
    x = bench.embeddings(400, 24)
    assert x.shape == (400, 24) and x.dtype == np.float32
    np.testing.assert_array_equal(x, bench.embeddings(400, 24))
    from datacentric.model.neighbours import find_near_duplicates

    assert len(find_near_duplicates(x)) >= 3  # the 4 planted copies (almost) all found


def test_the_benchmark_prints_every_section(capsys):
    bench.main(
        [
            "--sizes",
            "300,900",
            "--dim",
            "16",
            "--exact-max",
            "300",
            "--ann-max",
            "900",
            "--drift-new",
            "5000",
            "--drift-ref",
            "100",
            "--timeout",
            "120",
            "--throughput",
            "12",
            "--backbone",
            "test_efficientnet@random",
        ]
    )
    out = capsys.readouterr().out
    rows = {tuple(line.split()[:2]) for line in out.splitlines() if line[:1].isdigit()}
    assert {("300", "exact"), ("300", "ann"), ("900", "exact"), ("900", "ann")} <= rows
    assert "not run: ~" in out  # 900 exact: estimated from the 300 one
    recall = float(out.split("embeddings: ")[1].split()[0])
    assert recall >= 0.99
    drift_row = next(line for line in out.splitlines() if line.startswith("5,000"))
    assert "MB" in drift_row and "error" not in out
    local = next(line for line in out.splitlines() if line.startswith("local (1 node)"))
    assert float(local.split()[3]) > 0  # images/s
    assert "ray" in out  # a row either way: measured inside a loopback-only namespace, else skipped


def test_a_failing_case_is_a_row_not_a_crash():
    assert "error" in bench.run_case("recall", n=3, dim=-1)
