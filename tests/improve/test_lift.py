from __future__ import annotations

import numpy as np
import pytest

from datacentric.improve import Fix, baseline_scores, keep_rule, learning_curve, measure_lift
from tests.support.fakes import fake_cross_val

CLASSES = ["ok", "scratch", "pit"]


def blobs(seed: int = 0, n_pit: int = 6):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [rng.normal((0, 0), 0.7, (40, 2)), rng.normal((3, 0), 0.7, (40, 2)), rng.normal((1.5, 2.6), 0.7, (n_pit, 2))]
    )
    y = np.array([0] * 40 + [1] * 40 + [2] * n_pit)
    return X, y


def jittered_copies(X, y, cls, per, spread, seed=1, shift=(0.0, 0.0)):
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(y == cls)
    parent = np.repeat(rows, per)
    extra = X[parent] + np.asarray(shift) + rng.normal(0, spread, (len(parent), X.shape[1]))
    return extra, np.full(len(parent), cls), parent


def test_helpful_fix_is_kept_and_harmful_one_rejected():
    X, y = blobs()
    base = baseline_scores(X, y, n_classes=3, seeds=5, folds=3, cross_val=fake_cross_val)
    ex, ey, ep = jittered_copies(X, y, 2, per=3, spread=0.3)
    good = measure_lift(
        X,
        y,
        Fix("copies", "augment", ex, ey, ep),
        classes=CLASSES,
        target_classes=["pit"],
        baseline=base,
        cross_val=fake_cross_val,
    )
    assert good.after.recall["pit"] > good.before.recall["pit"]
    assert good.kept, good.reason
    # pit-labelled rows placed on top of the ok cluster: pit "improves" by stealing ok
    bx, by, bp = jittered_copies(X, y, 2, per=10, spread=0.4, shift=(-1.5, -2.6))
    bad = measure_lift(
        X,
        y,
        Fix("mislabelled", "synthetic", bx, by, bp),
        classes=CLASSES,
        target_classes=["pit"],
        baseline=base,
        cross_val=fake_cross_val,
    )
    assert not bad.kept
    assert bad.gain["ok"] < 0


def test_fix_within_noise_is_not_kept():
    X, y = blobs()
    # more ok images do nothing for pit
    ex, ey, ep = jittered_copies(X, y, 0, per=1, spread=0.1)
    result = measure_lift(
        X,
        y,
        Fix("more ok", "augment", ex, ey, ep),
        classes=CLASSES,
        target_classes=["pit"],
        seeds=3,
        folds=3,
        cross_val=fake_cross_val,
    )
    assert not result.kept
    assert "within noise" in result.reason


def test_extra_rows_are_never_validated():
    X, y = blobs()
    seen = []

    def spy(Xa, ya, **kw):
        seen.append((len(ya), kw.get("extra_X")))
        return fake_cross_val(Xa, ya, **kw)

    ex, ey, ep = jittered_copies(X, y, 2, per=5, spread=0.3)
    result = measure_lift(
        X,
        y,
        Fix("copies", "augment", ex, ey, ep),
        classes=CLASSES,
        target_classes=["pit"],
        seeds=2,
        folds=3,
        cross_val=spy,
    )
    # every call scores exactly the N real rows; extras only ever arrive as extra_X
    assert all(n == len(y) for n, _ in seen)
    assert sum(e is not None for _, e in seen) == 2
    assert result.n_extra == len(ey)

    def leaky(Xa, ya, **kw):
        extra = kw.get("extra_X")
        return (
            fake_cross_val(np.vstack([Xa, extra]), np.concatenate([ya, kw["extra_y"]]), folds=3)
            if extra is not None
            else fake_cross_val(Xa, ya, **kw)
        )

    with pytest.raises(ValueError, match="real"):
        measure_lift(
            X,
            y,
            Fix("x", "augment", ex, ey, ep),
            classes=CLASSES,
            target_classes=["pit"],
            seeds=1,
            folds=3,
            cross_val=leaky,
        )


def test_keep_rule_rejects_when_another_class_drops():
    d_acc = np.array([0.0, 0.01, -0.01, 0.0, 0.0])
    d_rec = np.array([[-0.10, 0, 0.2], [-0.12, 0, 0.25], [-0.09, 0, 0.2], [-0.11, 0, 0.22], [-0.1, 0, 0.2]])
    kept, reason, gain, _ = keep_rule(d_acc, d_rec, CLASSES, ["pit"])
    assert not kept and "hurts ok" in reason
    kept, _, _, _ = keep_rule(d_acc, d_rec * np.array([0, 0, 1]), CLASSES, ["pit"])
    assert kept


def test_learning_curve_rises_with_more_real_images():
    X, y = blobs(n_pit=24)
    curve = learning_curve(X, y, 2, classes=CLASSES, seeds=3, folds=3, cross_val=fake_cross_val)
    assert curve.counts[0] < curve.counts[-1] == 24
    assert curve.b > 0
    assert curve.predict(48) >= curve.predict(24)


def repeated_shots(seed: int = 0):
    """Every part photographed 3 times; its label is part noise: only a sibling shot gives it away."""
    rng = np.random.default_rng(seed)
    parts = rng.normal(size=(30, 100))
    y = np.repeat(rng.integers(0, 2, 30), 3)
    X = np.repeat(parts, 3, axis=0) + rng.normal(0, 0.05, (90, 100))
    return X, y, [f"p{i // 3}" for i in range(90)]


def test_measurement_folds_keep_each_part_on_one_side():
    X, y, groups = repeated_shots()
    plain = baseline_scores(X, y, n_classes=2, seeds=2, folds=5)
    grouped = baseline_scores(X, y, n_classes=2, seeds=2, folds=5, groups=groups)
    assert plain.accuracy.mean() > 0.9 and grouped.accuracy.mean() < 0.75  # the leak is closed
    fix = Fix("copies", "augment", X[:6] + 0.01, y[:6], np.arange(6))
    lift = measure_lift(X, y, fix, classes=["a", "b"], target_classes=["a"], seeds=2, folds=5, groups=groups)
    assert lift.before.accuracy == pytest.approx(grouped.accuracy.mean(), abs=1e-3)
    assert lift.after.accuracy < 0.75  # measured on grouped folds too
    curve = learning_curve(X, y, 0, classes=["a", "b"], seeds=1, folds=5, groups=groups)
    assert max(curve.recall) < 0.9


def test_only_the_best_passing_fix_reads_kept():
    from datacentric.improve.results import ImproveResult
    from datacentric.improve.lift import LiftResult

    def fix(name: str, passed: bool) -> LiftResult:
        return LiftResult(name, "augment", ["ok"], 3, 5, None, None, {}, {}, passed, "", 10)

    fixes = [fix("augment:geometry:ok", True), fix("augment:lighting:ok", True), fix("synthetic:x:ok", False)]
    result = ImproveResult("r", None, ["ok"], fixes, "", {"ok": "augment:lighting:ok"}, 10, [])
    assert [result.verdict(f) for f in fixes] == ["passed, augment:lighting:ok gains more", "kept", "not kept"]
