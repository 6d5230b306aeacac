"""How many more real images of a class to collect: one estimate, made in one place.

The audit and ``improve`` both give this advice, so both call :func:`estimate_more`.
The only evidence for a number is a learning curve (recall of the class measured with
1/4, 1/2, 3/4 and all of its real images, as ``improve`` measures it), fitted as
``recall = a + b * log2(n)``. The range comes from the uncertainty of the slope ``b``
(its standard error from the fit and from the spread over seeds). Without a curve
(the audit alone) no number is given: a guess would contradict the measured one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CollectEstimate", "estimate_more"]

FLAT = 0.005  # recall per doubling below which more of the same images do not help
CAP = 8.0  # no estimate beyond this many times the images there are today


@dataclass(frozen=True)
class CollectEstimate:
    """More real images of one class needed to reach a recall goal, with a range."""

    target: str
    have: int  # real images of the class today
    recall: float  # recall today on held-out images (NaN when unknown)
    goal: float  # the recall aimed at
    more: int | None  # best estimate of extra images; None when no number can be given
    low: int | None  # optimistic end of the range (None: no number)
    high: int | None  # pessimistic end (None: more than CAP x today, or no number)
    text: str  # the advice in words, one sentence without a final full stop


def goal_for(recall: float) -> float:
    """The recall to aim for: 0.1 above today, at least 0.8, at most 0.95."""
    return min(0.95, max(recall + 0.1, 0.8))


def estimate_more(
    target: str,
    counts: Sequence[int] = (),
    recall: Sequence[float] = (),
    *,
    recall_std: Sequence[float] = (),
    have: int | None = None,
    recall_now: float = math.nan,
) -> CollectEstimate:
    """Estimate the extra real images of ``target`` needed for :func:`goal_for` its recall.

    ``counts``/``recall`` (and optionally ``recall_std``) are a learning curve; with fewer
    than two points, ``have`` and ``recall_now`` describe the class and no number is given.

    Examples
    --------
    >>> e = estimate_more("pit", [5, 10, 15, 20], [0.40, 0.50, 0.56, 0.60])
    >>> e.more, e.low <= e.more <= e.high
    (60, True)
    >>> e.text
    '~60 more real pit images (likely 59–61) should bring recall to ~0.80'

    >>> estimate_more("pit", have=20, recall_now=0.6).more is None
    True
    """
    if len(counts) < 2:
        have = int(counts[-1]) if counts else int(have or 0)
        now = float(recall[-1]) if len(recall) else recall_now
        text = f"collect more {target} images"
        return CollectEstimate(target, have, now, goal_for(0 if math.isnan(now) else now), None, None, None, text)
    x = np.log2(np.asarray(counts, dtype=float))
    y = np.asarray(recall, dtype=float)
    b, a = np.polyfit(x, y, 1)
    have, now = int(counts[-1]), float(y[-1])
    goal = goal_for(now)
    spread = float(np.sum((x - x.mean()) ** 2))
    residual = float(np.sum((y - (a + b * x)) ** 2) / (len(x) - 2)) if len(x) > 2 else 0.0
    noise = float(np.mean(np.square(recall_std))) / len(x) if len(recall_std) else 0.0
    se = math.sqrt((residual + noise) / spread) if spread else 0.0

    def needed(slope: float) -> int | None:
        if slope <= FLAT:
            return None
        n = 2 ** (x.mean() + (goal - y.mean()) / slope)
        return max(0, math.ceil(n) - have) if n <= CAP * have else None

    more, low, high = needed(b), needed(b + se), needed(b - se)
    if more is None:
        text = (
            f"{target} recall does not rise with more of the same images ({now:.2f} at "
            f"{counts[0]}..{have}); check its labels and look-alike classes"
            if b <= FLAT
            else f"real {target} images help (+{b:.2f} recall per doubling) but reaching "
            f"{goal:.2f} would take more than {int(CAP * have)}"
        )
    else:
        top = f"–{high}" if high is not None else f" to over {int(CAP * have) - have}"
        text = f"~{more} more real {target} images (likely {low}{top}) should bring recall to ~{goal:.2f}"
    return CollectEstimate(target, have, now, goal, more, low, high, text)
