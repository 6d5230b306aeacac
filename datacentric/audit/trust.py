"""How many flags are real label errors: an expected count with an interval, and each image's chance.

Shapes: N images, K classes; ``labels`` (N,) int, ``pred_probs`` (N, K) out-of-sample.

The model behind the flags was trained on the given labels, so a flag is either a wrong
label or the model's own mistake on a correct one; a flag's score alone cannot say which.
This module fits a small noisy-label model to all images at once:

* the true class follows the model's probabilities after a temperature and per-class
  bias (``softmax(exp(t) * log p + b)``; prior ``t, b ~ N(0, 1)``, i.e. shrunk toward the
  model's own probabilities);
* the given label is the true class with probability ``1 - rate`` and each other class with
  ``rate / (K - 1)`` (uniform label noise; prior on ``rate``: Jeffreys, Beta(1/2, 1/2), cut to
  (0, 1/2)).

For every noise rate on a grid the calibration is fitted (maximum a posteriori) and each
image gets P(its label is wrong | its probabilities, its label) by Bayes; the grid points
are weighted by how well they explain the labels (on a large set, where one grid point would
hold most of that weight, finer rates around it are fitted too). The expected number of real errors among
the flags is the sum of their chances; its interval mixes, over the noise rate, the exact
distribution of a sum of independent Bernoullis.

Reviews correct it. Every earlier flag a reviewer settled is a verified outcome (label
changed: a real error; kept: a false alarm), and its audit recorded the chance it gave that
flag. One shift of every chance on the log-odds scale is fitted to those outcomes (prior
N(0, 1): no shift without reviews). Because each outcome is compared with that flag's own
chance, reviewing the worst flags first does not bias the shift, where the plain share of
real errors among reviewed flags would (reviewers take the likeliest first).

Measured (``benchmarks/bench_real.py``; the README's real-image table): on real solar-cell photos
with one annotator, the mean forecast over seeds is within 0.10 of the observed share of real
errors on every set with label errors, and the 90 % range holds the count on 80-100 % of seeds.
It is too high on a set without any label error (about 0.14) and with several annotators (0.31
for 0.18), and one flag's chance is spread wider than it should be (flags given 0.8-1.0 were
real errors about 70 % of the time). One set's forecast swings by about as much as its observed
share does (± 0.13 over 15-25 flags).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from datacentric.words import plural

__all__ = ["FlagTrust", "expected_words", "flag_trust", "has_forecast", "shifted"]

RATE_GRID = np.round(np.arange(0.005, 0.5, 0.01), 3)  # noise rates considered (the prior's support)
CALIBRATION_SD = 1.0  # prior sd of the log-temperature and the class biases
REVIEW_SD = 1.0  # prior sd of the reviews' shift of every chance, on the log-odds scale
MAX_FIT = 2000  # images the model is fitted on at most (a seeded sample; all are scored)
LEVEL = 0.9  # probability mass of the interval on the count


@dataclass
class FlagTrust:
    """How many of the flags are expected to be real label errors."""

    flags: int  # how many images are flagged
    expected: float  # expected real errors among them
    low: int  # ``level`` interval of that count
    high: int
    precision: float  # expected / flags (NaN without flags)
    noise_rate: float  # estimated share of wrong labels in the whole set
    noise_low: float
    noise_high: float
    level: float = LEVEL
    reviews: int = 0  # settled earlier flags the estimate is corrected by
    reviews_real: int = 0  # ... of which were real errors
    review_shift: float = 0.0  # the reviews' shift of every chance, log-odds (0: none)


def has_forecast(trust: FlagTrust | None) -> bool:
    """Whether there is a forecast to state: flags, and an expected count (two classes or more)."""
    return trust is not None and trust.flags > 0 and trust.expected == trust.expected


def expected_words(trust: FlagTrust) -> str:
    """The forecast in words, for after a flag count ("16 images look mislabelled; ..."):
    'expect about 8 of them to be real errors (90% range 4–11), the others being the model's
    own mistakes'; for one flag, its chance. Lower case, no full stop.
    """
    level = f"{100 * trust.level:.0f}%"
    by = f", corrected by {plural(trust.reviews, 'reviewed flag')}" if trust.reviews else ""
    if trust.flags == 1:
        return f"the chance that it is a real error is {100 * trust.expected:.0f}%" + (f" ({by[2:]})" if by else "")
    count = math.floor(trust.expected + 0.5)
    if count:
        head = f"expect about {count} of them to be real errors"
    else:
        head = (
            f"expect at most {trust.high} of them to be real errors"
            if trust.high
            else "expect none of them to be real errors"
        )
    rest = ", the others being the model's own mistakes" if 0 < count < trust.flags else ""
    return f"{head} ({level} range {trust.low}–{trust.high}{by}){rest}"


def flag_trust(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    flags: np.ndarray,
    *,
    reviews: Sequence[tuple[float, bool]] = (),
    level: float = LEVEL,
    rates: np.ndarray | None = None,
    calibration_sd: float = CALIBRATION_SD,
    max_fit: int = MAX_FIT,
    seed: int = 0,
) -> tuple[FlagTrust, np.ndarray]:
    """Expected real errors among the flagged images, and each image's chance its label is wrong.

    Parameters
    ----------
    labels : (N,) int, the given labels
    pred_probs : (N, K) float, out-of-sample
    flags : (N,) bool, the flagged images
    reviews : (chance given when flagged, was it a real error) for each earlier flag a
        reviewer settled; they shift every chance (module docstring).
    level : float, default 0.9
        Probability mass of the interval on the count.
    rates, calibration_sd : the grid of noise rates and the calibration prior (module docstring)
    max_fit : int
        The model is fitted on at most this many images (a seeded sample); all are scored.

    Returns
    -------
    (FlagTrust, (N,) float): the estimate, and each image's chance that its label is wrong
    (NaN for every image when there are fewer than two classes among the labels).

    Example
    -------
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]] * 10)
    >>> labels = np.array([0, 1, 1, 1] * 10)  # every third image contradicts a sure model
    >>> flags = probs[np.arange(40), labels] < 0.5
    >>> trust, chance = flag_trust(labels, probs, flags)
    >>> trust.flags, trust.low <= trust.expected <= trust.high, bool(chance[2] > chance[0])
    (10, True, True)
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=np.float64)
    flags = np.asarray(flags, dtype=bool)
    grid = RATE_GRID if rates is None else np.unique(np.asarray(rates, dtype=np.float64))
    if not len(grid) or grid[0] <= 0 or grid[-1] >= 1:
        raise ValueError(f"rates must be noise rates between 0 and 1 (exclusive), got {rates!r}")
    used = _usable(reviews)
    present = np.flatnonzero(np.bincount(labels, minlength=probs.shape[1]) > 0)
    n, k, f = len(labels), len(present), int(flags.sum())
    if k < 2:
        return _nothing(f, level, used), np.full(n, np.nan)
    remap = np.full(probs.shape[1], -1)
    remap[present] = np.arange(k)
    y = remap[labels]
    sub = probs[:, present]
    logp = np.log(np.clip(sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None), 1e-6, 1.0))
    per_rate = _PerRate(logp, y, calibration_sd=calibration_sd, max_fit=max_fit, seed=seed)
    wrong, logpost = per_rate(grid)
    if rates is None:
        grid, wrong, logpost = _refined(per_rate, grid, wrong, logpost)
    weights = _weights(grid, logpost)
    shift = _review_shift(used)
    if shift:
        wrong = shifted(wrong, shift)
    chance = weights @ wrong
    trust = _count(wrong[:, flags], weights, grid, level)
    trust.reviews, trust.reviews_real = len(used), sum(real for _, real in used)
    trust.review_shift = shift
    return trust, chance


def _usable(reviews: Sequence[tuple[float, bool]]) -> list[tuple[float, bool]]:
    """The reviews whose recorded chance is a probability (others say nothing about the forecast)."""
    return [(float(c), bool(real)) for c, real in reviews if 0.0 <= float(c) <= 1.0]


FINE_STEP = 0.001  # where the noise rate's posterior sits on one grid point, look closer


def _refined(per_rate, grid: np.ndarray, wrong: np.ndarray, logpost: np.ndarray):
    """The grid with finer points across the noise rate's 90% range when that range spans only a
    few grid points (large sets): a coarse grid would otherwise pin the rate, and the range on the
    count, to the nearest points.
    """
    lo, hi = _range(_weights(grid, logpost), LEVEL)
    if hi - lo > 3:
        return grid, wrong, logpost
    step = float(np.min(np.diff(grid)))
    fine = np.round(np.arange(grid[lo] - step + FINE_STEP, grid[hi] + step, FINE_STEP), 6)
    fine = fine[(fine > 0) & (fine < 0.5) & ~np.isin(fine, grid)]
    if not len(fine):
        return grid, wrong, logpost
    more_wrong, more_logpost = per_rate(fine)
    order = np.argsort(np.r_[grid, fine])
    return np.r_[grid, fine][order], np.r_[wrong, more_wrong][order], np.r_[logpost, more_logpost][order]


def _range(weights: np.ndarray, level: float) -> tuple[int, int]:
    """Indices of the ends of the central ``level`` interval of a distribution over sorted points."""
    cdf, tail = np.cumsum(weights), (1 - level) / 2
    last = len(weights) - 1
    return min(int(np.searchsorted(cdf, tail)), last), min(int(np.searchsorted(cdf, 1 - tail)), last)


def _weights(grid: np.ndarray, logpost: np.ndarray) -> np.ndarray:
    """Posterior weight of each grid point: its density times the width of the rates it stands for."""
    edges = np.r_[grid[0], (grid[1:] + grid[:-1]) / 2, grid[-1]] if len(grid) > 1 else np.array([0.0, 1.0])
    widths = np.diff(edges)
    if len(grid) > 1:  # an end point stands for a whole cell, as its inner half cell suggests
        widths[0], widths[-1] = 2 * widths[0], 2 * widths[-1]
    weights = np.exp(logpost - logpost.max()) * widths
    return weights / weights.sum()


class _PerRate:
    """For given noise rates: P(label wrong) of every image (R, N) and the log posterior of each rate (R,)."""

    def __init__(self, logp: np.ndarray, y: np.ndarray, *, calibration_sd: float, max_fit: int, seed: int) -> None:
        n, k = logp.shape
        self.logp, self.k, self.sd = logp, k, calibration_sd
        self.fit_rows = np.arange(n)
        if n > max_fit:
            self.fit_rows = np.sort(np.random.default_rng(seed).choice(n, max_fit, replace=False))
        self.given = np.zeros((n, k), dtype=bool)
        self.given[np.arange(n), y] = True

    def __call__(self, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.optimize import minimize
        from scipy.special import logsumexp
        from scipy.stats import beta

        theta = np.zeros(self.k)
        wrong = np.empty((len(rates), len(self.logp)))
        logpost = np.empty(len(rates))
        bounds = [(-4.0, 3.0)] + [(-10.0, 10.0)] * (self.k - 1)
        for g, rate in enumerate(rates):
            fit = minimize(self._objective, theta, args=(rate,), jac=True, method="L-BFGS-B", bounds=bounds)
            theta = fit.x  # warm start at the next rate
            joint = self._log_joint(theta, rate)  # every image, also those the fit sampled out
            per_image = logsumexp(joint, axis=1)  # log P(given label | x)
            loglik = float(per_image.sum())
            wrong[g] = np.clip(1.0 - np.exp(joint[self.given] - per_image), 0.0, 1.0)
            # the profile posterior: the calibration at its best for this rate (with its prior)
            logpost[g] = loglik - 0.5 * float(theta @ theta) / self.sd**2 + beta.logpdf(rate, 0.5, 0.5)
        return wrong, logpost

    def _noise(self, rate: float, given: np.ndarray) -> np.ndarray:
        """log P(given label | true class) for each true class."""
        return np.where(given, np.log1p(-rate), np.log(rate / (self.k - 1)))

    def _log_joint(self, theta: np.ndarray, rate: float) -> np.ndarray:
        """log P(true class, given label | x) of every image, (N, K)."""
        from scipy.special import log_softmax

        log_c = log_softmax(np.exp(theta[0]) * self.logp + np.r_[0.0, theta[1:]], axis=1)
        return log_c + self._noise(rate, self.given)

    def _objective(self, theta: np.ndarray, rate: float) -> tuple[float, np.ndarray]:
        """Negative log posterior of the calibration at one noise rate on the fit rows, and its gradient."""
        from scipy.special import logsumexp, softmax

        logp = self.logp[self.fit_rows]
        z = np.exp(theta[0]) * logp + np.r_[0.0, theta[1:]]
        noisy = z + self._noise(rate, self.given[self.fit_rows])
        loglik = float((logsumexp(noisy, axis=1) - logsumexp(z, axis=1)).sum())
        push = softmax(noisy, axis=1) - softmax(z, axis=1)  # d loglik / d z
        grad = np.r_[np.exp(theta[0]) * float((push * logp).sum()), push[:, 1:].sum(axis=0)]
        return -loglik + 0.5 * float(theta @ theta) / self.sd**2, -grad + theta / self.sd**2


def _review_shift(pairs: list[tuple[float, bool]]) -> float:
    """The log-odds shift that best explains the reviewed flags' outcomes (MAP, prior N(0, REVIEW_SD))."""
    if not pairs:
        return 0.0
    from scipy.optimize import minimize_scalar
    from scipy.special import log_expit

    odds = _odds(np.array([c for c, _ in pairs]))
    real = np.array([r for _, r in pairs], dtype=float)

    def loss(shift: float) -> float:
        x = odds + shift  # log P(real) = log_expit(x), log P(false alarm) = log_expit(-x)
        return -float(real @ log_expit(x) + (1 - real) @ log_expit(-x)) + 0.5 * shift**2 / REVIEW_SD**2

    return float(minimize_scalar(loss, bounds=(-6.0, 6.0), method="bounded").x)


def shifted(chances: np.ndarray, shift: float) -> np.ndarray:
    """Every chance moved by ``shift`` on the log-odds scale (a negative shift undoes a positive one)."""
    from scipy.special import expit

    return expit(_odds(np.asarray(chances, dtype=np.float64)) + shift)


def _odds(chances: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), kept finite."""
    from scipy.special import logit

    return logit(np.clip(chances, 1e-6, 1 - 1e-6))


def _count(wrong: np.ndarray, weights: np.ndarray, grid: np.ndarray, level: float) -> FlagTrust:
    """The expected count of real errors among the flags and its interval, mixed over the noise rate."""
    f = wrong.shape[1]
    pmf = np.zeros((len(grid), f + 1))  # exact sum of independent Bernoullis at every rate
    pmf[:, 0] = 1.0
    for j in range(f):
        pmf[:, 1:] = pmf[:, 1:] * (1 - wrong[:, j : j + 1]) + pmf[:, :-1] * wrong[:, j : j + 1]
        pmf[:, 0] *= 1 - wrong[:, j]
    expected = float((weights @ wrong).sum())
    low, high = _range(weights @ pmf, level)  # on the count 0..f
    rate_low, rate_high = _range(weights, level)
    return FlagTrust(
        flags=f,
        expected=expected,
        low=low,
        high=high,
        precision=expected / f if f else float("nan"),
        noise_rate=float(weights @ grid),
        noise_low=float(grid[rate_low]),
        noise_high=float(grid[rate_high]),
        level=level,
    )


def _nothing(flags: int, level: float, used: list[tuple[float, bool]]) -> FlagTrust:
    """No estimate: fewer than two classes among the labels."""
    nan = float("nan")
    return FlagTrust(
        flags=flags,
        expected=nan,
        low=0,
        high=flags,
        precision=nan,
        noise_rate=nan,
        noise_low=nan,
        noise_high=nan,
        level=level,
        reviews=len(used),
        reviews_real=sum(real for _, real in used),
    )
