"""Likely label errors from out-of-sample predicted probabilities (confident learning).

Shapes: N images, K classes. ``labels`` is an int array (N,) indexing ``classes``;
``pred_probs`` is (N, K), each row predicted by a model that never saw that image's
label (cross-validation), so a confident disagreement is evidence against the label.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LabelIssue", "class_counts", "label_issues"]


@dataclass
class LabelIssue:
    """One image's label check (every image gets one; ``is_issue`` marks the flagged)."""

    image: str  # path as imported (or the index as text when no paths are known)
    given: str  # the label it has now (consensus)
    suggested: str  # what the out-of-sample model thinks it is
    quality: float  # label quality score in [0, 1]: low = likely wrong
    is_issue: bool  # flagged by confident learning (and the classes are big enough to judge)
    judged: bool = True  # False when the given or suggested class has too few images to judge
    index: int = -1  # row in the arrays the audit ran on
    id: str = ""  # image id (content hash) when known
    confidence: float = 0.0  # predicted probability of the suggested label
    reason: str = ""  # why flagged: "model", "annotators" (CROWDLAB consensus differs) or both
    nearest_given: list[str] = field(default_factory=list)  # closest well-labelled images of the given class
    nearest_suggested: list[str] = field(default_factory=list)  # ... and of the suggested class


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Number of images per class, shape (K,)."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)


def label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    classes: Sequence[str],
    *,
    images: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    min_per_class: int = 5,
    filter_by: str | None = None,
    method: str = "self_confidence",
) -> list[LabelIssue]:
    """Check every label; return one :class:`LabelIssue` per image, worst first.

    Flags come from :func:`cleanlab.filter.find_label_issues` (``filter_by``), scores
    from :func:`cleanlab.rank.get_label_quality_scores` (``method``). The suggested label
    is the most probable class other than the given one for a flagged image, else the
    most probable class.

    By default (``filter_by=None``) the flagged images are the worst-scored ones, as many
    as :func:`cleanlab.count.num_label_issues` estimates (cleanlab's ``"low_<method>"``):
    the flags then agree with the worst-first order, and the count comes from the
    confident joint's off-diagonal, which weak or overconfident models inflate less than
    the calibrated noise-rate estimate behind ``"prune_by_noise_rate"`` (cleanlab's default).

    Classes with fewer than ``min_per_class`` images are too small to judge: an image
    whose given or suggested class is that small is never flagged (``judged=False``),
    because the model has not seen enough of the class to contradict a person.

    Parameters
    ----------
    labels : (N,) int array
    pred_probs : (N, K) float array, out-of-sample
    classes : K class names
    images, ids : N paths / ids used to name the images in the result
    min_per_class : int, default 5
    filter_by, method : passed to cleanlab; ``filter_by=None`` means ``"low_" + method``
        for the methods cleanlab supports that way, else ``"prune_by_noise_rate"``.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=np.float64)
    n, k = probs.shape
    if len(labels) != n or len(classes) != k:
        raise ValueError(f"labels ({len(labels)}), pred_probs {probs.shape} and classes ({len(classes)}) disagree")
    if n == 0:
        return []
    probs = probs / probs.sum(axis=1, keepdims=True)
    filter_by = filter_by or _default_filter(method)
    counts = class_counts(labels, k)
    small = counts < min_per_class
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality = get_label_quality_scores(labels, probs, method=method)
        present = counts > 0
        if present.sum() >= 2 and n > present.sum():
            flags = _find(find_label_issues, labels, probs, filter_by)
        else:  # one class only: nothing to contradict
            flags = np.zeros(n, dtype=bool)
    other = probs.copy()
    other[np.arange(n), labels] = -1.0
    suggested = np.where(flags, other.argmax(axis=1), probs.argmax(axis=1))
    judged = ~small[labels] & ~small[suggested]
    is_issue = flags & judged
    reasons = np.where(is_issue, "model", "")
    order = np.lexsort((np.arange(n), quality))  # worst first, stable
    result = []
    for i in order:
        result.append(
            LabelIssue(
                image=str(images[i]) if images is not None else str(i),
                given=str(classes[labels[i]]),
                suggested=str(classes[suggested[i]]),
                quality=float(quality[i]),
                is_issue=bool(is_issue[i]),
                judged=bool(judged[i]),
                index=int(i),
                id=str(ids[i]) if ids is not None else "",
                confidence=float(probs[i, suggested[i]]),
                reason=str(reasons[i]),
            )
        )
    return result


def _default_filter(method: str) -> str:
    """Flag the lowest scores of the ranking shown (when cleanlab can), else its default."""
    # Measured on the demo (6 seeds): precision of the flags 0.48 -> 0.63 at recall 0.86 -> 0.83.
    return f"low_{method}" if method in ("self_confidence", "normalized_margin") else "prune_by_noise_rate"


def _find(find_label_issues, labels: np.ndarray, probs: np.ndarray, filter_by: str) -> np.ndarray:
    """cleanlab's flags, restricted to the classes present (absent columns confuse it)."""
    present = np.flatnonzero(np.bincount(labels, minlength=probs.shape[1]) > 0)
    remap = -np.ones(probs.shape[1], dtype=np.int64)
    remap[present] = np.arange(len(present))
    sub = probs[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    return np.asarray(find_label_issues(remap[labels], sub, filter_by=filter_by), dtype=bool)
