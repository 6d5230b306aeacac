"""Per-class health: how clean each class's labels are and how well the model separates it.

Shapes: N images, K classes; ``labels`` (N,) int, ``pred_probs`` (N, K) out-of-sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix

from datacentric.stats import WEAK_MARGIN, weak_bar

__all__ = ["ClassHealth", "ClassOverlap", "class_health", "overlapping_classes"]


@dataclass
class ClassHealth:
    """One class: its size, label quality, out-of-sample precision/recall, and a verdict."""

    name: str
    n: int  # images with this (consensus) label
    label_quality: float  # cleanlab: 1 - estimated share of this class's labels that are wrong
    precision: float  # of images predicted as this class, share labelled so (NaN if none predicted)
    recall: float  # of images labelled this class, share predicted so
    weak: bool  # see class_health for the rule
    too_few: bool  # fewer than min_per_class images: not judged
    confused_with: str | None = None  # the class its images are most often predicted as instead
    reason: str = ""  # why it is weak, in words


@dataclass
class ClassOverlap:
    """Two classes whose images the model and the labels mix up (cleanlab find_overlapping_classes)."""

    a: str
    b: str
    n: int  # estimated images that belong to one class but are labelled as the other
    joint: float  # that count as a share of all images


def class_health(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    classes: Sequence[str],
    *,
    min_per_class: int = 5,
    quality_floor: float = 0.8,
) -> list[ClassHealth]:
    """Per-class precision, recall and label quality, with a "weak" verdict, in class order.

    How "weak" is decided (classes with at least ``min_per_class`` images only; smaller
    ones are marked ``too_few`` and never called weak — there is not enough to judge):

    * recall or precision is under :func:`datacentric.stats.weak_bar` of the overall
      out-of-sample accuracy: more than ``WEAK_MARGIN`` (0.10) below it, or below
      ``WEAK_FLOOR`` (0.5) while also at least half the margin below it — the model clearly
      does worse on this class than on the rest (a class is never called weak at the
      overall level: with a weak model that says nothing about the class); or
    * cleanlab's label quality score (:func:`cleanlab.dataset.rank_classes_by_label_quality`,
      1 minus the estimated share of wrong labels in the class) is below ``quality_floor``
      (0.8) *and* more than ``WEAK_MARGIN`` below the median class — its labels look clearly
      worse than the other classes' (a weak model lowers every class's score; that alone
      does not make every class weak).
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=float)
    k = len(classes)
    matrix = confusion_matrix(labels, probs.argmax(axis=1), labels=np.arange(k))
    accuracy = float(np.trace(matrix) / max(1, matrix.sum()))
    counts = matrix.sum(axis=1)
    quality = _label_quality(labels, probs, k)
    judged = [q for q, c in zip(quality, counts) if c >= min_per_class and q == q]
    quality_bar = min(quality_floor, float(np.median(judged)) - WEAK_MARGIN) if judged else quality_floor
    bar = weak_bar(accuracy)
    return [
        _one_class(
            matrix, c, classes, float(quality[c]), min_per_class=min_per_class, bars=(accuracy, bar, quality_bar)
        )
        for c in range(k)
    ]


def _one_class(
    matrix: np.ndarray,
    c: int,
    classes: Sequence[str],
    quality: float,
    *,
    min_per_class: int,
    bars: tuple[float, float, float],
) -> ClassHealth:
    """Class ``c``'s row of the table; ``bars`` are the overall accuracy, the recall/precision bar
    and the label quality bar.
    """
    n = int(matrix[c].sum())
    recall = float(matrix[c, c] / n) if n else float("nan")
    col = int(matrix[:, c].sum())
    precision = float(matrix[c, c] / col) if col else float("nan")
    row = matrix[c].copy()
    row[c] = 0
    confused = str(classes[int(row.argmax())]) if row.max() > 0 else None
    too_few = n < min_per_class
    reasons = [] if too_few else _weak_reasons(n, recall, precision, quality, *bars)
    weak = bool(reasons) and not too_few
    if confused and weak:
        reasons.append(f"often confused with {confused}")
    return ClassHealth(
        name=str(classes[c]),
        n=n,
        label_quality=quality,
        precision=precision,
        recall=recall,
        weak=weak,
        too_few=too_few,
        confused_with=confused,
        reason="; ".join(reasons),
    )


def _weak_reasons(
    n: int, recall: float, precision: float, quality: float, accuracy: float, bar: float, quality_bar: float
) -> list[str]:
    """Why a class big enough to judge is weak, in words (empty when it is not)."""
    reasons = []
    if recall < bar:
        reasons.append(f"recall {recall:.2f} vs {accuracy:.2f} overall")
    if not np.isnan(precision) and precision < bar:
        reasons.append(f"precision {precision:.2f} vs {accuracy:.2f} overall")
    if np.isnan(precision) and n > 0:
        reasons.append("never predicted")
    if quality < quality_bar:
        reasons.append(f"label quality {quality:.2f}: many labels look wrong")
    return reasons


def _label_quality(labels: np.ndarray, probs: np.ndarray, k: int) -> np.ndarray:
    """cleanlab's per-class label quality score, NaN for classes with no images."""
    from cleanlab.dataset import rank_classes_by_label_quality

    quality = np.full(k, np.nan)
    present = np.flatnonzero(np.bincount(labels, minlength=k) > 0)
    if len(present) < 2:
        quality[present] = 1.0
        return quality
    remap = -np.ones(k, dtype=np.int64)
    remap[present] = np.arange(len(present))
    sub = probs[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = rank_classes_by_label_quality(remap[labels], sub)
    for _, row in frame.iterrows():
        quality[present[int(row["Class Index"])]] = float(row["Label Quality Score"])
    return quality


def overlapping_classes(
    labels: np.ndarray, pred_probs: np.ndarray, classes: Sequence[str], *, top: int = 5
) -> list[ClassOverlap]:
    """Class pairs most often mixed up (estimated by cleanlab), most overlap first; pairs
    with no estimated overlap are left out.
    """
    from cleanlab.dataset import find_overlapping_classes

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=float)
    present = np.flatnonzero(np.bincount(labels, minlength=len(classes)) > 0)
    if len(present) < 2:
        return []
    remap = -np.ones(len(classes), dtype=np.int64)
    remap[present] = np.arange(len(present))
    sub = probs[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = find_overlapping_classes(remap[labels], sub)
    out = []
    for _, row in frame.iterrows():
        n = int(row["Num Overlapping Examples"])
        if n <= 0:
            continue
        out.append(
            ClassOverlap(
                a=str(classes[present[int(row["Class Index A"])]]),
                b=str(classes[present[int(row["Class Index B"])]]),
                n=n,
                joint=float(row["Joint Probability"]),
            )
        )
    return out[:top]
