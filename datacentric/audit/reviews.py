"""How many flags turn out to be real errors, learned from the reviews a project already holds.

Every flag a reviewer has looked at since (``relabel``, a Label Studio review) is a verified
outcome: the label was changed (a real error) or confirmed (a false alarm). Their share,
with a uniform prior, estimates the precision of today's flags; with no reviews yet the
estimate is left out rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FlagPrecision", "flag_precision", "review_outcomes"]


@dataclass
class FlagPrecision:
    """Precision of the flags as measured on the reviewed ones, and what it predicts."""

    reviewed: int  # earlier flags a reviewer has settled since
    real: int  # of those, how many had their label changed
    expected: float  # expected real errors among today's flags
    low: float  # 90% interval of that
    high: float


def review_outcomes(flags: list[tuple[str, str, str]], reviews: list[tuple[str, str, str]]) -> tuple[int, int]:
    """(reviewed, real) from earlier flags and later reviews.

    ``flags``: (image id, the flagged label, when the audit ran); ``reviews``: (image id,
    the reviewer's label, when). The first review after an image's flag settles it: a label
    other than the flagged one is a real error. An image counts once (its latest flag).
    """
    latest: dict[str, tuple[str, str]] = {}
    for image, label, when in sorted(flags, key=lambda f: f[2]):
        latest[image] = (label, when)
    verdicts: dict[str, bool] = {}
    for image, label, when in sorted(reviews, key=lambda r: r[2]):
        flagged = latest.get(image)
        if flagged is not None and image not in verdicts and when > flagged[1]:
            verdicts[image] = label != flagged[0]
    return len(verdicts), sum(verdicts.values())


def flag_precision(n_flags: int, reviewed: int, real: int, *, level: float = 0.9) -> FlagPrecision | None:
    """Expected real errors among ``n_flags`` flags (Beta(1 + real, 1 + false alarms)); None
    without reviews.

    Examples
    --------
    >>> p = flag_precision(20, reviewed=10, real=5)
    >>> round(p.expected, 1), p.low < p.expected < p.high
    (10.0, True)
    """
    if reviewed <= 0:
        return None
    from scipy.stats import beta

    shape = (1 + real, 1 + reviewed - real)
    tail = (1 - level) / 2
    return FlagPrecision(
        reviewed=reviewed,
        real=real,
        expected=n_flags * float(beta.mean(*shape)),
        low=n_flags * float(beta.ppf(tail, *shape)),
        high=n_flags * float(beta.ppf(1 - tail, *shape)),
    )
