"""Error slicing: accuracy per value of every metadata column, and which slices are worse.

A *slice* is the set of images sharing one value of one metadata column (camera=B,
shift=night). Accuracy is the share of out-of-sample predictions equal to the given label.

When a train run kept groups together (``--group-by part_id``, near-duplicate twins), the
photos of one group are not independent evidence: the slice tests count each group once
(see :func:`slice_accuracy`), so three shots of one badly lit part are not three failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from datacentric.stats import holm

__all__ = ["MISSING", "Slice", "slice_accuracy"]

MISSING = "(missing)"


@dataclass
class Slice:
    """Accuracy on one metadata value vs all other images."""

    column: str
    value: str
    n: int
    accuracy: float
    weak: bool  # significantly worse than the rest (see slice_accuracy)
    rest_n: int = 0
    rest_accuracy: float = float("nan")
    p_value: float = float("nan")  # one-sided Fisher exact test, NaN when not tested
    p_adjusted: float = float("nan")  # Holm-corrected over every tested slice
    tested: bool = False  # big enough to test (n and rest_n >= min_size; in groups when grouped)
    groups: float = float("nan")  # groups inside the slice (a split group by its share); NaN = ungrouped


def slice_accuracy(
    correct: Sequence[bool],
    metadata: Sequence[Mapping[str, str]],
    *,
    columns: Sequence[str] | None = None,
    min_size: int = 10,
    alpha: float = 0.05,
    max_values: int = 50,
    groups: Sequence[str] | None = None,
) -> list[Slice]:
    """Accuracy and count for every value of every metadata column, weak slices flagged.

    Decision rule for ``weak``: for each slice with at least ``min_size`` images (and at
    least ``min_size`` images outside it), a one-sided Fisher exact test on the 2x2 table
    (right/wrong inside vs outside the slice) asks whether the slice's error rate is higher
    than the rest's. The p-values of all tested slices (every column, every value) are
    Holm-corrected together; a slice is weak when its corrected p-value is below ``alpha``
    (0.05) and its accuracy is below the rest's. Slices smaller than ``min_size`` are
    reported with their accuracy but never flagged, so a 3-image slice with one mistake is
    not called weak on noise. Columns with a single value, or more than ``max_values``
    distinct values (ids, file names), are skipped.

    ``groups`` (one name per image: the part, lot or twin group the train run kept together)
    makes the group the unit of the test: each group weighs 1, shared evenly by its images,
    so a slice's size is its number of groups (a group straddling slices counts by its share)
    and its right/wrong counts are the groups' mean correctness; sizes and counts are rounded
    for Fisher's test. Accuracy is still reported per image.

    Returns slices grouped by column (in ``columns`` order, else sorted), worst accuracy first.
    """
    correct = np.asarray(correct, dtype=bool)
    weight = _unit_weights(groups, len(correct))
    if columns is None:
        columns = sorted({key for row in metadata for key in row})
    result: list[Slice] = []
    for column in columns:
        values = np.array([str(row.get(column, "") or MISSING) for row in metadata], dtype=object)
        distinct = sorted(set(values.tolist()))
        if 2 <= len(distinct) <= max_values:
            group = [_slice(column, value, values == value, correct, weight, groups, min_size) for value in distinct]
            result.extend(sorted(group, key=lambda s: (s.accuracy, s.value)))
    _mark_weak(result, alpha)
    return result


def _slice(
    column: str,
    value: str,
    inside: np.ndarray,
    correct: np.ndarray,
    weight: np.ndarray,
    groups: Sequence[str] | None,
    min_size: int,
) -> Slice:
    """One slice's accuracy against the rest, with Fisher's p-value when both sides are big enough."""
    from scipy.stats import fisher_exact

    k, rest = int(inside.sum()), int(len(correct) - inside.sum())
    acc = float(correct[inside].mean())
    rest_acc = float(correct[~inside].mean()) if rest else float("nan")
    item = Slice(
        column=str(column), value=str(value), n=k, accuracy=acc, weak=False, rest_n=rest, rest_accuracy=rest_acc
    )
    inside_row, rest_row = _counts(correct, weight, inside), _counts(correct, weight, ~inside)
    if groups is not None:
        item.groups = round(float(weight[inside].sum()), 2)
    if sum(inside_row) >= min_size and sum(rest_row) >= min_size:
        item.p_value = float(fisher_exact([inside_row, rest_row], alternative="less")[1])
        item.tested = True
    return item


def _mark_weak(slices: list[Slice], alpha: float) -> None:
    """Holm-correct the tested slices' p-values together; weak = below ``alpha`` and worse than the rest."""
    tested = [s for s in slices if s.tested]
    for item, adjusted in zip(tested, holm([s.p_value for s in tested])):
        item.p_adjusted = float(adjusted)
        item.weak = bool(adjusted < alpha and item.accuracy < item.rest_accuracy)


def _unit_weights(groups: Sequence[str] | None, n: int) -> np.ndarray:
    """Each image's share of its group (1 / group size); all ones without groups."""
    if groups is None:
        return np.ones(n)
    names = np.asarray([str(g) for g in groups])
    if len(names) != n:
        raise ValueError(f"{len(names)} group names for {n} images")
    _, index, sizes = np.unique(names, return_inverse=True, return_counts=True)
    return 1.0 / sizes[index]


def _counts(correct: np.ndarray, weight: np.ndarray, rows: np.ndarray) -> list[int]:
    """[right, wrong] among ``rows``, counted in units (images, or groups by their share)."""
    right = float((weight[rows] * correct[rows]).sum())
    total = float(weight[rows].sum())
    return [int(round(right)), int(round(total)) - int(round(right))]
