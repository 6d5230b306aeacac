"""The real-image benchmark's sets and scoring, on generated embeddings (and on real cells when
the optional ``elpv-dataset`` package is installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_real as bench


def _pool(separation: float, per_grade: int = 60, seed: int = 0) -> bench.Pool:
    """Three grades as Gaussian clusters in 16 dimensions (no images needed)."""
    rng = np.random.default_rng(seed)
    grade = np.repeat([bench.OK, bench.MINOR, bench.DEFECT], per_grade)
    centres = rng.normal(size=(3, 16)) * separation
    X = (centres[grade] + rng.normal(size=(len(grade), 16))).astype(np.float32)
    return bench.Pool(paths=[Path(f"{i}.png") for i in range(len(grade))], grade=grade, X=X)


def test_flag_metrics_counts_hits_and_ranks():
    wrong = np.array([True, True, False, False, False])
    flags = np.array([True, False, True, False, False])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.2])
    m = bench.flag_metrics(flags, score, wrong)
    assert (m["flagged"], m["precision"], m["recall"]) == (2, 0.5, 0.5)
    assert m["f1"] == pytest.approx(0.5)
    assert m["auroc"] == pytest.approx(1.0)


def test_flipped_labels_are_found_when_classes_separate():
    table = bench.Table()
    bench.uniform_flips(_pool(separation=4.0), table, "(a)", 40, 8, range(2))
    ours = table.rows[("(a)", "ours")]
    assert len(ours) == 2
    assert np.mean([m["recall"] for m in ours]) >= 0.9
    assert np.mean([m["auroc"] for m in ours]) >= 0.95
    assert all(m["acc"] >= 0.95 for m in ours)  # accuracy is scored against the truth


def test_flipped_labels_are_not_found_in_noise():
    table = bench.Table()
    bench.uniform_flips(_pool(separation=0.0), table, "(a)", 40, 8, range(2))
    assert np.mean([m["auroc"] for m in table.rows[("(a)", "ours")]]) < 0.8


def test_consensus_set_names_the_sloppiest_annotator():
    table = bench.Table()
    bench.consensus(_pool(separation=4.0), table, range(1))
    (plain,), (ours,) = table.rows[("(d) 3 annotators", "plain")], table.rows[("(d) 3 annotators", "ours")]
    assert ours["sloppiest"] == 1.0
    assert 0.0 <= plain["consensus"] <= 1.0
    assert ours["vs_majority"] == pytest.approx(ours["consensus"] - plain["consensus"])


def test_biased_annotator_set_counts_flags_that_push_the_bias():
    flags = np.array([True, True, True, False])
    suggested = np.array(["ok", "minor", "ok", "ok"])
    truth = np.array([bench.MINOR, bench.MINOR, bench.DEFECT, bench.MINOR])
    given = np.array([bench.MINOR, bench.OK, bench.DEFECT, bench.MINOR])
    # only the first flag asks to turn a correctly labelled minor cell into ok
    assert bench._worsening(flags, suggested, given, truth) == pytest.approx(1 / 3)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("elpv_dataset") is None,
    reason='real EL cells need the optional extra: pip install -e ".[bench]"',
)
def test_real_cells_end_to_end(tmp_path):
    pool = bench.load_poly_pool(tmp_path, per_grade=12)
    assert sorted(np.bincount(pool.grade).tolist()) == [12, 12, 12]
    assert pool.X.shape == (36, 1280) and np.isfinite(pool.X).all()
    table = bench.Table()
    bench.clean_accuracy(pool, table, (10,), range(1))
    (ours,) = table.rows[("(e) clean 10/class", "ours")]
    assert ours["acc"] > 0.5  # better than a coin on real defects, from 10 cells per class
