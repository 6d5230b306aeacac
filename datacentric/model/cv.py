"""Cross-validated out-of-sample probabilities (N real images, K classes).

Every real image gets probabilities from a model that never saw its label.
Augmented and synthetic rows ("extra" rows) only ever train: a fold uses an
extra row when its parent real image is in that fold's training part (or when it
has no parent), so no copy of a validation image leaks into training.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.estimator import Params

__all__ = [
    "CrossValResult",
    "FoldPlan",
    "ProbeClassifier",
    "cross_val_probs",
    "cross_validate",
    "default_repeats",
    "plan_folds",
    "run_folds",
]

SMALL_SET = 200  # below this many real images, CV is repeated over seeds


def default_repeats(n: int) -> int:
    """How many times to repeat K-fold CV for a set of n images (3 when small, else 1)."""
    return 3 if n < SMALL_SET else 1


SCALE_FLOOR = 0.25  # smallest feature spread used, as a fraction of the median spread


DEFAULT_C = 0.03  # inverse L2 strength on standardised embeddings; 0.01-0.1 measured best on demo data


class ProbeClassifier(Params):
    """Regularised multinomial logistic regression on standardised features.

    The learned model is one linear map on the *raw* features (standardisation
    folded in): ``probs = softmax(X @ weight_.T + bias_)``, which is what a timm
    classifier head computes, so it can be copied into one.

    Parameters
    ----------
    C
        Inverse L2 strength of scikit-learn's LogisticRegression on standardised features.
    n_classes
        Number of classes K (columns of ``predict_proba``); None = ``max(y) + 1``.
    max_iter
        Solver iterations.
    """

    def __init__(self, C: float = DEFAULT_C, n_classes: int | None = None, max_iter: int = 2000) -> None:
        self.C = C
        self.n_classes = n_classes
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> "ProbeClassifier":
        """Fit on features X (N, D) and integer labels y (N,)."""
        # No cyclic GC passes over the ~10^5 objects that importing sklearn (scipy.stats, pandas)
        # makes: a fit makes arrays, not cycles. 0.2-0.3 of the cached probe's ~3 CPU-s.
        collecting = gc.isenabled()
        gc.disable()
        try:
            import sklearn.linear_model  # noqa: F401 - loaded before the limit below, see there
            from threadpoolctl import threadpool_limits

            # One BLAS thread: these small SVDs and solves ran 20-60x slower with two threads
            # fighting each other (and anything else on the machine); the result is the same.
            # The limit reaches only libraries already loaded: sklearn (scipy's BLAS, OpenMP) is
            # imported first, or the process's first fit thrashes unlimited (1.5 CPU-s here).
            with threadpool_limits(limits=1):
                return self._fit(X, y)
        finally:
            if collecting:
                gc.enable()

    def _fit(self, X: np.ndarray, y: np.ndarray) -> "ProbeClassifier":
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
            raise DatacentricError(f"need X (N, D) and y (N,), got {X.shape} and {y.shape}", "probe")
        k = int(self.n_classes if self.n_classes is not None else y.max() + 1)
        mean = X.mean(axis=0)
        # Floor each feature's spread at a fraction of the typical one: near-constant
        # features would otherwise get huge folded weights (fragile, and int8-hostile).
        spread = X.std(axis=0)
        typical = float(np.median(spread[spread > 1e-8])) if (spread > 1e-8).any() else 1.0
        scale = np.maximum(spread, SCALE_FLOOR * typical)
        present = np.unique(y)
        weight = np.zeros((k, X.shape[1]))
        bias = np.full(k, -30.0)  # a class never seen in training gets ~0 probability
        if len(present) == 1:
            bias[present[0]] = 0.0
        else:
            Z = (X - mean) / scale
            # With fewer rows than features the L2 solution lies in the rows' span: solve
            # there (same optimum, N instead of D dimensions) and map back.
            basis = np.linalg.svd(Z, full_matrices=False)[2] if Z.shape[0] < Z.shape[1] else None
            lr = LogisticRegression(C=self.C, max_iter=self.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lr.fit(Z if basis is None else Z @ basis.T, y)
            coef, intercept = lr.coef_, lr.intercept_
            if basis is not None:
                coef = coef @ basis
            if len(present) == 2:  # binary: sklearn keeps one row for the positive class
                coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
                intercept = np.array([0.0, intercept[0]])
            w = coef / scale
            weight[lr.classes_] = w
            bias[lr.classes_] = intercept - w @ mean
        self.classes_ = np.arange(k)
        self.mean_, self.scale_ = mean, scale
        self.weight_ = weight.astype(np.float32)
        self.bias_ = bias.astype(np.float32)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits (N, K)."""
        return np.asarray(X, dtype=np.float64) @ self.weight_.T.astype(np.float64) + self.bias_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K), rows summing to 1."""
        z = self.decision_function(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class index per row."""
        return self.predict_proba(X).argmax(axis=1)


@dataclass(frozen=True)
class FoldPlan:
    """Which validation fold each real row falls in, per repeat."""

    folds: int  # K-fold actually used (reduced when a class is small)
    assignments: np.ndarray  # (repeats, N) fold index of each row
    too_few: list[int]  # class indices with fewer examples than the folds asked for

    def splits(self, repeat: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train indices, validation indices) for every fold of one repeat."""
        a = self.assignments[repeat]
        return [(np.flatnonzero(a != f), np.flatnonzero(a == f)) for f in range(self.folds)]


def plan_folds(
    y: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    repeats: int = 1,
    groups: Sequence[str] | None = None,
) -> FoldPlan:
    """Stratified fold assignment, repeated with seeds ``seed, seed+1, ...``.

    When a class has fewer examples than ``folds``, the fold count drops to the
    smallest class count that is at least 2 (never below 2); a class with a
    single example is validated by a model that never saw that class.

    ``groups`` (one name per row, e.g. the physical part or lot each photo shows) keeps
    every group on one side of every split, so a model is never validated on another
    photo of a part it trained on (scikit-learn's ``StratifiedGroupKFold``). Fewer
    groups than folds is refused.
    """
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    if n < 2:
        raise DatacentricError(f"cross-validation needs at least 2 labelled images, got {n}", "train")
    if folds < 2:
        raise DatacentricError(f"folds must be at least 2, got {folds}", "train")
    counts = np.bincount(y)
    present = counts[counts > 0]
    eligible = present[present >= 2]
    k = int(min(folds, eligible.min())) if eligible.size else 2
    k = max(2, min(k, n))
    too_few = [int(c) for c in np.flatnonzero((counts > 0) & (counts < folds))]
    if groups is not None:
        return FoldPlan(folds=k, assignments=_group_assignments(y, groups, k, seed, repeats), too_few=too_few)
    assignments = np.zeros((max(1, repeats), n), dtype=np.int64)
    for r in range(max(1, repeats)):
        rng = np.random.default_rng([seed, r])
        order = []
        for c in rng.permutation(len(counts)):  # class order varies, so singletons spread
            members = np.flatnonzero(y == c)
            order.extend(rng.permutation(members).tolist())
        start = int(rng.integers(k))
        for pos, index in enumerate(order):
            assignments[r, index] = (start + pos) % k
    return FoldPlan(folds=k, assignments=assignments, too_few=too_few)


def _group_assignments(y: np.ndarray, groups: Sequence[str], k: int, seed: int, repeats: int) -> np.ndarray:
    """(repeats, N) fold of each row with whole groups per fold (StratifiedGroupKFold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    names = np.asarray([str(g) for g in groups])
    if len(names) != len(y):
        raise DatacentricError(f"{len(names)} group names for {len(y)} images", "train")
    distinct, sizes = np.unique(names, return_counts=True)
    if len(distinct) < k:
        raise DatacentricError(
            f"only {len(distinct)} groups for {k} folds: every fold needs a group of its own "
            f"(use fewer --folds or a finer --group-by column)",
            "train",
        )
    if sizes.max() > len(y) / 2:
        raise DatacentricError(
            f"group '{distinct[sizes.argmax()]}' holds {sizes.max()} of {len(y)} images: more than "
            f"half the set cannot be kept in one fold",
            "train",
        )
    assignments = np.zeros((max(1, repeats), len(y)), dtype=np.int64)
    for r in range(max(1, repeats)):
        seed_r = int(np.random.default_rng([seed, r]).integers(2**31 - 1))
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed_r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "least populated class has fewer members than n_splits"
            for f, (_, val) in enumerate(splitter.split(np.zeros(len(y)), y, names)):
                assignments[r, val] = f
    return assignments


@dataclass
class CrossValResult:
    """Out-of-sample probabilities and how they were made."""

    probs: np.ndarray  # (N, K) float32, averaged over repeats
    folds: int  # folds used
    repeats: int
    fold_accuracies: list[float]  # accuracy of each (repeat, fold) model on its validation rows
    too_few: list[int]  # class indices with fewer examples than the folds asked for
    extra: dict = field(default_factory=dict)  # mode-specific details (e.g. finetune epochs and fold losses)
    assignments: np.ndarray | None = None  # (repeats, N) validation fold of each row

    @property
    def accuracy(self) -> float:
        """Mean accuracy over folds."""
        return float(np.mean(self.fold_accuracies))

    @property
    def accuracy_std(self) -> float:
        """Spread (standard deviation) of accuracy over folds."""
        return float(np.std(self.fold_accuracies))


FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def run_folds(
    y: np.ndarray,
    fit_predict: FitPredict,
    *,
    n_classes: int,
    folds: int = 5,
    seed: int = 0,
    repeats: int = 1,
    extra_parent: Sequence[int] | None = None,
    description: str | None = None,
    groups: Sequence[str] | None = None,
) -> CrossValResult:
    """Run ``fit_predict(train_idx, extra_idx, val_idx) -> probs (len(val_idx), K)`` per fold.

    ``extra_idx`` indexes the extra rows allowed in that fold's training part; ``groups``
    keeps each group on one side of every split (see :func:`plan_folds`).
    """
    from datacentric.progress import track

    y = np.asarray(y, dtype=np.int64)
    plan = plan_folds(y, folds=folds, seed=seed, repeats=repeats, groups=groups)
    parent = np.asarray(extra_parent if extra_parent is not None else [], dtype=np.int64)
    probs = np.zeros((len(y), n_classes), dtype=np.float64)
    accuracies = []
    jobs = [(r, tr, va) for r in range(plan.assignments.shape[0]) for tr, va in plan.splits(r)]
    for _, train_idx, val_idx in track(jobs, description or "cross-validation", total=len(jobs)):
        in_train = np.zeros(len(y), dtype=bool)
        in_train[train_idx] = True
        extra_idx = np.flatnonzero((parent < 0) | in_train[np.clip(parent, 0, None)]) if len(parent) else parent
        p = np.asarray(fit_predict(train_idx, extra_idx, val_idx), dtype=np.float64)
        probs[val_idx] += p
        accuracies.append(float((p.argmax(axis=1) == y[val_idx]).mean()))
    probs /= plan.assignments.shape[0]
    return CrossValResult(
        probs=probs.astype(np.float32),
        folds=plan.folds,
        repeats=plan.assignments.shape[0],
        fold_accuracies=accuracies,
        too_few=plan.too_few,
        assignments=plan.assignments,
    )


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    repeats: int = 1,
    extra_X: np.ndarray | None = None,
    extra_y: np.ndarray | None = None,
    extra_parent: Sequence[int] | None = None,
    n_classes: int | None = None,
    C: float = 0.03,
    groups: Sequence[str] | None = None,
) -> CrossValResult:
    """K-fold probe on embeddings: :func:`cross_val_probs` with fold accuracies and details."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if len(X) != len(y):
        raise DatacentricError(f"X has {len(X)} rows but y has {len(y)}", "cross-validation")
    has_extra = extra_X is not None and len(extra_X) > 0
    if has_extra:
        extra_X = np.asarray(extra_X, dtype=np.float32)
        extra_y = np.asarray(extra_y, dtype=np.int64)
        extra_parent = np.asarray(
            extra_parent if extra_parent is not None else np.full(len(extra_X), -1), dtype=np.int64
        )
        if not (len(extra_X) == len(extra_y) == len(extra_parent)):
            raise DatacentricError("extra_X, extra_y and extra_parent differ in length", "cross-validation")
        if extra_parent.max(initial=-1) >= len(y):
            raise DatacentricError("extra_parent points past the real rows", "cross-validation")
    k = int(n_classes if n_classes is not None else max(y.max(), extra_y.max() if has_extra else 0) + 1)

    def fit_predict(train_idx, extra_idx, val_idx):
        Xt, yt = X[train_idx], y[train_idx]
        if has_extra and len(extra_idx):
            Xt = np.concatenate([Xt, extra_X[extra_idx]])
            yt = np.concatenate([yt, extra_y[extra_idx]])
        return ProbeClassifier(C=C, n_classes=k).fit(Xt, yt).predict_proba(X[val_idx])

    return run_folds(
        y,
        fit_predict,
        n_classes=k,
        folds=folds,
        seed=seed,
        repeats=repeats,
        extra_parent=extra_parent if has_extra else None,
        groups=groups,
    )


def cross_val_probs(
    X: np.ndarray,
    y: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    repeats: int = 1,
    extra_X: np.ndarray | None = None,
    extra_y: np.ndarray | None = None,
    extra_parent: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
) -> np.ndarray:
    """Out-of-sample probabilities (N, K) for N real rows from a K-fold linear probe.

    Parameters
    ----------
    X, y
        Real rows: features (N, D) and integer labels (N,).
    folds
        K of stratified K-fold (reduced when a class is smaller, see :func:`plan_folds`).
    seed, repeats
        Fold shuffling seed; repeats > 1 averages probabilities over seeds.
    extra_X, extra_y, extra_parent
        Training-only rows (augmented/synthetic) and the index of each one's parent
        real row (-1 = none). An extra row trains a fold only when its parent is in
        that fold's training part; extra rows are never validated.
    groups
        One name per real row: each group stays on one side of every split (see :func:`plan_folds`).

    Examples
    --------
    >>> X = np.r_[np.zeros((6, 2)), np.ones((6, 2))] + np.random.default_rng(0).normal(0, .1, (12, 2))
    >>> cross_val_probs(X, np.r_[[0] * 6, [1] * 6], folds=3).argmax(1).tolist() == [0] * 6 + [1] * 6
    True
    """
    return cross_validate(
        X,
        y,
        folds=folds,
        seed=seed,
        repeats=repeats,
        extra_X=extra_X,
        extra_y=extra_y,
        extra_parent=extra_parent,
        groups=groups,
    ).probs
