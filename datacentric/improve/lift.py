"""The lift experiment: does a fix help the class it targets, measured on real images only?

N real images with embeddings ``X`` (N, D) and labels ``y`` (N,), K classes.
A :class:`Fix` is M extra training rows (augmented or synthetic images'
embeddings), each with the index of the real image it came from. For each of
``seeds`` fold splits, out-of-sample probabilities for the N real rows are
computed twice with the same folds, without and with the extra rows
(``datacentric.model.cross_val_probs``: an extra row joins a fold's training
part only when its parent does, and is never validated). Per-class recall and
accuracy are compared seed by seed (paired), so split-to-split noise cancels.
With ``groups`` (the part, lot or twin group of each real row, as the train run kept
them), every split keeps a group on one side, so a fix is never measured on a photo
whose sibling it trained on.

The keep rule (:func:`keep_rule`): with per-seed differences ``d`` and their
noise ``2·sd(d)/sqrt(seeds)``, a fix is kept when the target classes' mean
recall gain exceeds ``max(noise, min_gain)`` and no class's recall, nor the
accuracy, drops by more than ``max(noise, tolerance)``. Use at least 3 seeds;
with one seed only the fixed margins apply.

:func:`learning_curve` answers the other question: how many more *real* images
of a class would help, from recall measured on subsamples of the class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Baseline",
    "Fix",
    "LearningCurve",
    "LiftResult",
    "Scores",
    "baseline_scores",
    "keep_rule",
    "learning_curve",
    "measure_lift",
]

CrossVal = Callable[..., np.ndarray]


def _default_cross_val() -> CrossVal:
    from datacentric.model import cross_val_probs

    return cross_val_probs


def _grouped(groups: Sequence[str] | None, rows: np.ndarray | None = None) -> dict:
    """The ``groups=`` argument for a cross_val call on ``rows`` (nothing when ungrouped)."""
    if groups is None:
        return {}
    names = np.asarray([str(g) for g in groups])
    return {"groups": (names if rows is None else names[rows]).tolist()}


@dataclass
class Fix:
    """Extra training-only rows: M embeddings with labels and parent indices."""

    name: str
    kind: str  # augment | synthetic
    X: np.ndarray  # (M, D)
    y: np.ndarray  # (M,) int class index
    parent: np.ndarray  # (M,) int index into the N real rows; -1 = none
    details: dict = field(default_factory=dict)


@dataclass
class Scores:
    """Mean and spread over seeds of accuracy and per-class recall, on real images."""

    accuracy: float
    accuracy_std: float
    recall: dict[str, float]
    recall_std: dict[str, float]

    def brief(self) -> dict:
        """The ``{"accuracy", "recall"}`` form used in JSON output."""
        return {
            "accuracy": self.accuracy,
            "recall": self.recall,
            "accuracy_std": self.accuracy_std,
            "recall_std": self.recall_std,
        }


@dataclass
class Baseline:
    """Per-seed scores without any fix (reused across the fixes tried)."""

    seeds: list[int]
    folds: int
    accuracy: np.ndarray  # (S,)
    recall: np.ndarray  # (S, K); NaN for a class with no real images


@dataclass
class LiftResult:
    """One fix measured against the baseline."""

    name: str
    kind: str
    targets: list[str]
    seeds: int
    folds: int
    before: Scores
    after: Scores
    gain: dict[str, float]  # mean paired recall difference per class (+ "accuracy")
    noise: dict[str, float]  # 2 * standard error of that difference
    kept: bool
    reason: str
    n_extra: int
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The entry of ``improve --json``'s "fixes" list."""
        return {
            "name": self.name,
            "kind": self.kind,
            "before": self.before.brief(),
            "after": self.after.brief(),
            "seeds": self.seeds,
            "kept": self.kept,
            "reason": self.reason,
            "gain": self.gain,
            "noise": self.noise,
            "n_extra": self.n_extra,
            "details": self.details,
        }


def _scores(probs: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[float, np.ndarray]:
    pred = probs.argmax(1)
    recall = np.full(n_classes, np.nan)
    for k in range(n_classes):
        rows = y == k
        if rows.any():
            recall[k] = float((pred[rows] == k).mean())
    return float((pred == y).mean()), recall


def _summary(acc: np.ndarray, rec: np.ndarray, classes: Sequence[str]) -> Scores:
    def _r(v: float) -> float:
        return round(float(v), 4) if np.isfinite(v) else float("nan")

    return Scores(
        accuracy=_r(acc.mean()),
        accuracy_std=_r(acc.std()),
        recall={
            c: _r(np.nanmean(rec[:, k])) if np.isfinite(rec[:, k]).any() else float("nan")
            for k, c in enumerate(classes)
        },
        recall_std={
            c: _r(np.nanstd(rec[:, k])) if np.isfinite(rec[:, k]).any() else float("nan") for k, c in enumerate(classes)
        },
    )


def baseline_scores(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_classes: int,
    seeds: int = 5,
    folds: int = 5,
    seed: int = 0,
    cross_val: CrossVal | None = None,
    groups: Sequence[str] | None = None,
) -> Baseline:
    """Accuracy and per-class recall over ``seeds`` fold splits, real rows only (``groups`` kept whole)."""
    cross_val = cross_val or _default_cross_val()
    seed_list = [seed + i for i in range(seeds)]
    acc, rec = [], []
    for s in seed_list:
        a, r = _scores(cross_val(X, y, folds=folds, seed=s, **_grouped(groups)), y, n_classes)
        acc.append(a)
        rec.append(r)
    return Baseline(seeds=seed_list, folds=folds, accuracy=np.array(acc), recall=np.array(rec))


def keep_rule(
    d_accuracy: np.ndarray,
    d_recall: np.ndarray,
    classes: Sequence[str],
    targets: Sequence[str],
    *,
    min_gain: float = 0.02,
    tolerance: float = 0.02,
) -> tuple[bool, str, dict[str, float], dict[str, float]]:
    """Decide from per-seed differences (after - before): keep?, why, gains, noise.

    ``d_accuracy`` has shape (S,), ``d_recall`` (S, K).
    """
    s = len(d_accuracy)

    def noise_of(d: np.ndarray) -> float:
        d = d[np.isfinite(d)]
        return float(2 * d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0

    gain = {
        c: round(float(np.nanmean(d_recall[:, k])), 4)
        for k, c in enumerate(classes)
        if np.isfinite(d_recall[:, k]).any()
    }
    noise = {c: round(noise_of(d_recall[:, k]), 4) for k, c in enumerate(classes) if c in gain}
    gain["accuracy"] = round(float(d_accuracy.mean()), 4)
    noise["accuracy"] = round(noise_of(d_accuracy), 4)
    idx = [classes.index(t) for t in targets if t in gain]
    if not idx:
        return False, "no real images of the target classes to measure on", gain, noise
    target_d = np.nanmean(d_recall[:, idx], axis=1)
    target_gain, target_noise = float(target_d.mean()), noise_of(target_d)
    bar = max(target_noise, min_gain)
    names = ", ".join(classes[i] for i in idx)
    if target_gain <= bar:
        return False, (f"{names} recall {target_gain:+.3f} is within noise (needs > {bar:.3f}, {s} seeds)"), gain, noise
    hurt = [
        f"{c} {gain[c]:+.3f}" for c in list(classes) + ["accuracy"] if c in gain and gain[c] < -max(noise[c], tolerance)
    ]
    if hurt:
        return False, f"{names} recall {target_gain:+.3f}, but it hurts {', '.join(hurt)}", gain, noise
    return True, f"{names} recall {target_gain:+.3f} (beyond noise, > {bar:.3f}), nothing else hurt", gain, noise


def measure_lift(
    X: np.ndarray,
    y: np.ndarray,
    fix: Fix,
    *,
    classes: Sequence[str],
    target_classes: Sequence[str],
    seeds: int = 5,
    folds: int = 5,
    seed: int = 0,
    baseline: Baseline | None = None,
    cross_val: CrossVal | None = None,
    min_gain: float = 0.02,
    tolerance: float = 0.02,
    groups: Sequence[str] | None = None,
) -> LiftResult:
    """Measure one fix: baseline vs with-fix, per-class recall and accuracy on the real rows.

    Parameters
    ----------
    X, y : real images' embeddings (N, D) and class indices (N,).
    fix : the extra training-only rows to try.
    classes : K class names; ``y`` indexes into it.
    target_classes : the classes the fix is meant to help.
    seeds, folds, seed : fold splits ``seed .. seed+seeds-1`` with ``folds`` folds.
    baseline : from :func:`baseline_scores` with the same seeds and folds (computed if None).
    cross_val : ``cross_val_probs``-compatible function (default ``datacentric.model``'s).
    min_gain, tolerance : fixed margins of :func:`keep_rule`.
    groups : one name per real row; each group stays on one side of every split.
    """
    classes = list(classes)
    cross_val = cross_val or _default_cross_val()
    if baseline is None:
        baseline = baseline_scores(
            X, y, n_classes=len(classes), seeds=seeds, folds=folds, seed=seed, cross_val=cross_val, groups=groups
        )
    acc_after, rec_after = _scores_with_fix(X, y, fix, baseline, cross_val, groups, len(classes))
    kept, reason, gain, noise = keep_rule(
        acc_after - baseline.accuracy,
        rec_after - baseline.recall,
        classes,
        target_classes,
        min_gain=min_gain,
        tolerance=tolerance,
    )
    return LiftResult(
        name=fix.name,
        kind=fix.kind,
        targets=list(target_classes),
        seeds=len(baseline.seeds),
        folds=baseline.folds,
        before=_summary(baseline.accuracy, baseline.recall, classes),
        after=_summary(acc_after, rec_after, classes),
        gain=gain,
        noise=noise,
        kept=kept,
        reason=reason,
        n_extra=int(len(fix.y)),
        details=dict(fix.details),
    )


def _scores_with_fix(
    X: np.ndarray,
    y: np.ndarray,
    fix: Fix,
    baseline: Baseline,
    cross_val: CrossVal,
    groups: Sequence[str] | None,
    n_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy (S,) and per-class recall (S, K) on the real rows, the fix's rows added to training.

    The same fold splits as ``baseline``, seed by seed, so the differences are paired.
    """
    acc, rec = [], []
    for s in baseline.seeds:
        probs = cross_val(
            X,
            y,
            folds=baseline.folds,
            seed=s,
            extra_X=fix.X,
            extra_y=fix.y,
            extra_parent=fix.parent,
            **_grouped(groups),
        )
        if probs.shape[0] != len(y):
            raise ValueError("cross_val returned probabilities for rows other than the real ones")
        a, r = _scores(probs, y, n_classes)
        acc.append(a)
        rec.append(r)
    return np.array(acc), np.array(rec)


@dataclass
class LearningCurve:
    """Recall of one class against how many real images of it there are.

    Fitted as ``recall = a + b * log2(n)``: each doubling of the class's real
    images adds ``b`` recall, until 1.0. Honest and crude: extrapolating far
    beyond the measured range is flagged by :meth:`needed` returning None.
    """

    target: str
    counts: list[int]  # images of the class used (whole data set, before the fold split)
    recall: list[float]  # mean recall over seeds at each count
    recall_std: list[float]
    a: float
    b: float  # recall gained per doubling

    def predict(self, n: float) -> float:
        """Expected recall with ``n`` real images of the class."""
        return float(np.clip(self.a + self.b * math.log2(max(n, 1)), 0.0, 1.0))

    def needed(self, goal: float, *, cap: float = 8.0) -> int | None:
        """Real images of the class needed for recall ``goal`` (None if beyond ``cap`` x today)."""
        have = self.counts[-1]
        if self.predict(have) >= goal:
            return have
        if self.b <= 0.005:
            return None
        n = 2 ** ((goal - self.a) / self.b)
        return int(math.ceil(n)) if n <= cap * have else None


def learning_curve(
    X: np.ndarray,
    y: np.ndarray,
    target: int,
    *,
    classes: Sequence[str],
    seeds: int = 3,
    folds: int = 5,
    seed: int = 0,
    cross_val: CrossVal | None = None,
    groups: Sequence[str] | None = None,
) -> LearningCurve:
    """Measure recall of class ``target`` with 1/4, 1/2, 3/4 and all of its real images (``groups`` kept whole)."""
    cross_val = cross_val or _default_cross_val()
    members = np.flatnonzero(y == target)
    others = np.flatnonzero(y != target)
    n_all = len(members)
    counts = sorted({max(3, round(n_all * f)) for f in (0.25, 0.5, 0.75)} | {n_all})
    counts = [c for c in counts if c <= n_all]
    means, stds = [], []
    for count in counts:
        values = []
        for i in range(seeds):
            rng = np.random.default_rng(seed + 1000 * i + count)
            keep = np.sort(np.concatenate([others, rng.choice(members, size=count, replace=False)]))
            ys = y[keep]
            probs = cross_val(X[keep], ys, folds=max(2, min(folds, count)), seed=seed + i, **_grouped(groups, keep))
            rows = ys == target
            values.append(float((probs[rows].argmax(1) == target).mean()))
        means.append(float(np.mean(values)))
        stds.append(float(np.std(values)))
    if len(counts) >= 2:
        b, a = np.polyfit(np.log2(counts), means, 1)
    else:
        a, b = means[0], 0.0
    return LearningCurve(
        target=classes[target], counts=list(map(int, counts)), recall=means, recall_std=stds, a=float(a), b=float(b)
    )
