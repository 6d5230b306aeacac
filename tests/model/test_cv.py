"""Cross-validated out-of-sample probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from datacentric.errors import DatacentricError
from datacentric.model import ProbeClassifier, cross_val_probs, cross_validate, plan_folds


def blobs(counts, d=8, seed=0, spread=0.4):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c, n in enumerate(counts):
        centre = rng.normal(0, 2, d)
        X.append(centre + rng.normal(0, spread, (n, d)))
        y += [c] * n
    return np.vstack(X).astype(np.float32), np.array(y)


def test_probs_are_out_of_sample_and_sensible():
    X, y = blobs([20, 20, 20])
    probs = cross_val_probs(X, y, folds=5, seed=0)
    assert probs.shape == (60, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == y).mean() > 0.95
    # a flipped label is not memorised: its own label gets low probability
    y2 = y.copy()
    y2[0] = 1
    p2 = cross_val_probs(X, y2, folds=5, seed=0)
    assert p2[0, 1] < 0.2 and p2[0].argmax() == 0


def test_repeatable_with_seed_and_repeats_average():
    X, y = blobs([10, 10], spread=2.0)
    a = cross_validate(X, y, folds=5, seed=3, repeats=3)
    b = cross_validate(X, y, folds=5, seed=3, repeats=3)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert len(a.fold_accuracies) == 15 and a.repeats == 3
    c = cross_validate(X, y, folds=5, seed=4, repeats=3)
    assert not np.array_equal(a.probs, c.probs)


def test_folds_are_stratified_and_cover_every_row():
    y = np.array([0] * 10 + [1] * 15 + [2] * 5)
    plan = plan_folds(y, folds=5, seed=0, repeats=2)
    assert plan.folds == 5 and plan.too_few == []
    for r in range(2):
        for f in range(5):
            members = y[plan.assignments[r] == f]
            assert list(np.bincount(members, minlength=3)) == [2, 3, 1]


@pytest.mark.parametrize("small", [1, 2])
def test_tiny_class_never_crashes_and_is_reported(small):
    X, y = blobs([12, 12, small])
    result = cross_validate(X, y, folds=5, seed=0, repeats=2)
    assert result.probs.shape == (24 + small, 3)
    assert np.isfinite(result.probs).all()
    assert result.too_few == [2]
    assert result.folds == (5 if small == 1 else 2)
    if small == 1:
        # its model never saw class 2, so it gets ~0 probability for its own label
        assert result.probs[-1, 2] < 1e-6


def test_only_singletons_and_too_few_rows():
    X, y = blobs([1, 1, 1])
    probs = cross_val_probs(X, y, folds=5)
    assert probs.shape == (3, 3) and np.isfinite(probs).all()
    with pytest.raises(DatacentricError, match="at least 2"):
        cross_val_probs(X[:1], y[:1])


def test_extra_rows_train_only_with_their_parent_in_training():
    X, y = blobs([10, 10], spread=1.5)
    # one extra row per real row: an exact copy of it, with a *wrong* label. If a copy
    # ever trained the fold that validates its parent, that row would look mislabelled.
    extra_X, extra_y, parent = X.copy(), 1 - y, np.arange(20)
    seen = []
    import datacentric.model.cv as cv

    real_run = cv.run_folds

    def spy(y_, fit_predict, **kw):
        def wrapped(train_idx, extra_idx, val_idx):
            assert not set(parent[extra_idx]) & set(val_idx)  # no extra row's parent validated
            assert set(parent[extra_idx]) == set(train_idx)  # every allowed extra row used
            seen.append(len(extra_idx))
            return fit_predict(train_idx, extra_idx, val_idx)

        return real_run(y_, wrapped, **kw)

    cv.run_folds = spy
    try:
        probs = cross_val_probs(X, y, folds=5, extra_X=extra_X, extra_y=extra_y, extra_parent=parent)
    finally:
        cv.run_folds = real_run
    assert seen == [16] * 5
    assert probs.shape == (20, 2)  # probabilities for real rows only
    orphan = cross_val_probs(X, y, folds=5, extra_X=X[:2], extra_y=y[:2], extra_parent=[-1, -1])
    assert orphan.shape == (20, 2)


def test_bad_input_is_a_clear_error():
    X, y = blobs([5, 5])
    with pytest.raises(DatacentricError, match="rows"):
        cross_val_probs(X, y[:-1])
    with pytest.raises(DatacentricError, match="past the real rows"):
        cross_val_probs(X, y, extra_X=X[:1], extra_y=y[:1], extra_parent=[99])
    with pytest.raises(DatacentricError, match="folds"):
        cross_val_probs(X, y, folds=1)


@pytest.mark.parametrize("k", [2, 4])
def test_probe_folds_standardisation_into_one_linear_map(k):
    X, y = blobs([15] * k, d=6, spread=1.5)
    X = X * np.arange(1, 7) + 5  # unequal scales and offsets
    probe = ProbeClassifier(C=0.3).fit(X, y)
    Z = (X - probe.mean_) / probe.scale_  # standardised with the probe's floored spreads
    reference = LogisticRegression(C=0.3, max_iter=2000).fit(Z, y)
    np.testing.assert_allclose(probe.predict_proba(X), reference.predict_proba(Z), atol=1e-4)


def test_probe_floors_tiny_feature_spreads_so_weights_stay_small():
    """Near-constant features must not get huge folded weights (they broke int8 export)."""
    X, y = blobs([15, 15], d=6, spread=1.5)
    X[:, 0] = 1e-4 * X[:, 0]  # a feature that barely varies
    probe = ProbeClassifier(C=0.3).fit(X, y)
    assert probe.scale_[0] >= 0.25 * np.median(X.std(axis=0)) * (1 - 1e-5)
    assert np.abs(probe.weight_).max() < 10


@pytest.mark.parametrize("k", [2, 3])
def test_probe_with_more_features_than_rows_matches_sklearn(k):
    """The row-space shortcut (N < D) finds the same optimum as plain sklearn."""
    X, y = blobs([10] * k, d=80, spread=3.0)
    probe = ProbeClassifier(C=0.05).fit(X, y)
    Z = (X - probe.mean_) / probe.scale_
    reference = LogisticRegression(C=0.05, max_iter=5000, tol=1e-8).fit(Z, y)
    np.testing.assert_allclose(probe.predict_proba(X), reference.predict_proba(Z), atol=2e-3)


def test_probe_keeps_columns_for_classes_missing_from_training():
    X, y = blobs([6, 6, 6])
    probe = ProbeClassifier(n_classes=4).fit(X[y != 1], y[y != 1])
    p = probe.predict_proba(X)
    assert p.shape == (18, 4) and p[:, [1, 3]].max() < 1e-6


def test_group_folds_keep_every_group_on_one_side():
    y = np.repeat([0, 1], 30)
    groups = [f"part{i // 3}" for i in range(60)]  # three shots of each part
    plan = plan_folds(y, folds=5, seed=0, repeats=2, groups=groups)
    for r in range(2):
        for g in set(groups):
            rows = [i for i, name in enumerate(groups) if name == g]
            assert len(set(plan.assignments[r, rows].tolist())) == 1, g
        assert sorted(set(plan.assignments[r].tolist())) == [0, 1, 2, 3, 4]
    assert not np.array_equal(plan.assignments[0], plan.assignments[1])  # repeats reshuffle


def test_repeated_shots_flatter_plain_folds_and_groups_close_the_leak():
    # every part photographed 3 times: its shots are near copies, the label is part noise
    rng = np.random.default_rng(0)
    parts = rng.normal(size=(30, 200))
    y = np.repeat(rng.integers(0, 2, 30), 3)
    X = np.repeat(parts, 3, axis=0) + rng.normal(0, 0.05, (90, 200))
    groups = [f"p{i // 3}" for i in range(90)]
    plain = cross_validate(X, y, folds=5, seed=0).accuracy
    grouped = cross_validate(X, y, folds=5, seed=0, groups=groups).accuracy
    assert plain > 0.9  # a twin in the training part gives the label away
    assert grouped < 0.75  # with the twins kept together there is nothing to learn


@pytest.mark.parametrize(
    "groups, message",
    [
        (["a", "b", "a", "b", "a", "b"], "only 2 groups for 3 folds"),
        (["a", "a", "a", "a", "b", "c"], "holds 4 of 6 images"),
    ],
)
def test_groups_that_cannot_fill_the_folds_are_refused(groups, message):
    with pytest.raises(DatacentricError, match=message):
        plan_folds(np.array([0, 1, 0, 1, 0, 1]), folds=3, groups=groups)


def test_merge_groups_joins_twins_across_parts_transitively():
    from datacentric.model.grouping import merge_groups

    parts = ["b", "b", "c", "d", "a", "e"]
    assert merge_groups(6, [(1, 2), (3, 4)], parts) == ["b", "b", "b", "a", "a", "e"]
    assert merge_groups(3, []) == ["0", "1", "2"]


def test_run_groups_places_new_images_with_their_stored_part():
    from datacentric.model.grouping import run_groups

    stored = {"i1": "p1", "i2": "p1", "i3": "p3"}  # p2 was merged into p1 by a twin
    meta = [{"part": "p1"}, {"part": "p2"}, {"part": "p3"}, {"part": "p2"}, {"part": "p9"}, {}]
    ids = ["i1", "i2", "i3", "new1", "new2", "new3"]
    assert run_groups(stored, ids, meta, "part") == ["p1", "p1", "p3", "p1", "p9", "new3"]
    assert run_groups({}, ids, meta, None) is None


def test_the_first_probe_fit_of_a_process_runs_on_one_thread():
    """The thread limit reaches only libraries already loaded: sklearn's (scipy's BLAS,
    OpenMP) must be loaded before it, also in a process whose first fit imports them."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import numpy as np, threadpoolctl\n"
        "from datacentric.model.cv import ProbeClassifier\n"
        "seen = []\n"
        "inner = ProbeClassifier._fit\n"
        "def spy(self, X, y):\n"
        "    seen.extend(p['num_threads'] for p in threadpoolctl.threadpool_info())\n"
        "    return inner(self, X, y)\n"
        "ProbeClassifier._fit = spy\n"
        "X = np.random.default_rng(0).normal(size=(20, 30))\n"
        "ProbeClassifier().fit(X, np.arange(20) % 2)\n"
        "print(seen)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
    }
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert len(counts) >= 3 and set(counts) == {1}  # numpy's BLAS, scipy's BLAS, sklearn's OpenMP


def test_a_probe_fit_pauses_the_cyclic_gc_and_leaves_it_as_it_was(monkeypatch):
    """The fit runs without cyclic GC passes (they walk every object sklearn's import made),
    and the collector is back as the caller had it afterwards, also when the fit fails."""
    import gc

    seen = []
    inner = ProbeClassifier._fit

    def spy(self, X, y):
        seen.append(gc.isenabled())
        return inner(self, X, y)

    monkeypatch.setattr(ProbeClassifier, "_fit", spy)
    X, y = np.random.default_rng(0).normal(size=(20, 30)), np.arange(20) % 2
    assert gc.isenabled()
    ProbeClassifier().fit(X, y)
    assert gc.isenabled()
    with pytest.raises(DatacentricError):
        ProbeClassifier().fit(X[:, 0], y)  # 1-d X: refused inside the fit
    assert gc.isenabled()
    gc.disable()
    try:
        ProbeClassifier().fit(X, y)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False, False, False]
