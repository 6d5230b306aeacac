"""Corrections for testing many hypotheses at once (the audit's slices, drift's pixel statistics),
and the bar under which a class is weak (the audit's class table and the train report).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["WEAK_FLOOR", "WEAK_MARGIN", "holm", "weak_bar"]

WEAK_MARGIN = 0.10  # how far below the model overall a class must fall to be called weak
WEAK_FLOOR = 0.5  # below this, half the margin is enough


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate under any dependence).

    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    k = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (k - np.arange(k))))
    out = np.empty(k)
    out[order] = adjusted
    return out


def weak_bar(accuracy: float, *, margin: float = WEAK_MARGIN, floor: float = WEAK_FLOOR) -> float:
    """The recall or precision under which a class does clearly worse than the model overall:
    more than ``margin`` below ``accuracy``, or below ``floor`` while also ``margin / 2`` below it
    (so a class is never weak at the overall level, whatever that level is).
    """
    return min(max(floor, accuracy - margin), accuracy - margin / 2)
