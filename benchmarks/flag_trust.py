"""How many flags are real label errors, estimated before anyone reviews them (issue #15, part 1).

MEASUREMENT CODE, NOT WIRED INTO THE AUDIT. ``bench_real.py`` prints this estimate beside the
observed precision of the audit's flags. It meets the target on sets (a), (b) and (c), but not
on the untuned sets (f) with 10 % flips: 0.50 predicted for 0.31 observed at 120 images, 0.13
for 0.38 at 200, with intervals that miss; so ``datacentric audit`` does not show it (a
misleading number is worse than none); the audit keeps measuring precision from reviews
(:mod:`datacentric.audit.reviews`).

Shapes: N images, K classes; ``labels`` (N,) int, ``pred_probs`` (N, K) out-of-sample.

The model behind the flags was trained on the given labels, so a flag is either a wrong
label or the model's own mistake on a correct one; a flag's score alone cannot say which.
This module fits a small noisy-label model to all images at once:

* the true class follows the model's probabilities after a temperature and per-class
  bias (``softmax(exp(t) * log p + b)``; prior ``t, b ~ N(0, 1)``, i.e. shrunk toward the
  model's own probabilities);
* the given label is the true class with probability ``1 - rate`` and each other class with
  ``rate / (K - 1)`` (uniform label noise; prior on ``rate``: Jeffreys, Beta(1/2, 1/2), cut to (0, 1/2)).

For every noise rate on a grid the calibration is fitted (maximum a posteriori) and each
image gets P(its label is wrong | its probabilities, its label) by Bayes; the grid points
are weighted by how well they explain the labels. The expected number of real errors among
the flags is the sum of their probabilities; its interval mixes, over the noise rate, the
exact distribution of a sum of independent Bernoullis.

Why it is fragile: with one annotator the noise rate is only weakly identified (a label that a
weak model contradicts may be wrong or hard); on small sets the likelihood is flat and the
weak priors keep the interval wide, on larger sets the (misspecified) calibration family makes
the likelihood concentrate on a wrong rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FlagTrust", "flag_trust"]

RATE_GRID = np.round(np.arange(0.005, 0.5, 0.01), 3)  # noise rates considered (the prior's support)
CALIBRATION_SD = 1.0  # prior sd of the log-temperature and the class biases
MAX_FIT = 2000  # images the model is fitted on at most (a seeded sample; all flags are scored)


@dataclass
class FlagTrust:
    """Expected real label errors among the flags, before any review."""

    flags: int  # how many images are flagged
    expected: float  # expected real errors among them
    low: int  # ``level`` interval of that count
    high: int
    precision: float  # expected / flags (NaN without flags)
    noise_rate: float  # estimated share of wrong labels in the whole set
    noise_low: float
    noise_high: float
    level: float = 0.9


def flag_trust(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    flags: np.ndarray,
    *,
    level: float = 0.9,
    rates: np.ndarray | None = None,
    calibration_sd: float = CALIBRATION_SD,
    max_fit: int = MAX_FIT,
    seed: int = 0,
) -> tuple[FlagTrust, np.ndarray]:
    """Expected real errors among the flagged images, and P(label wrong) of each flagged image.

    Parameters
    ----------
    labels : (N,) int, the given labels
    pred_probs : (N, K) float, out-of-sample
    flags : (N,) bool, the flagged images
    level : float, default 0.9
        Probability mass of the interval on the count.
    rates, calibration_sd : the grid of noise rates and the calibration prior (module docstring)
    max_fit : int
        The model is fitted on at most this many images (a seeded sample); all are scored.

    Returns
    -------
    (FlagTrust, (F,) float): the estimate, and each flagged image's posterior P(label wrong)
    in the order of ``np.flatnonzero(flags)``.
    """
    from scipy.optimize import minimize
    from scipy.special import log_softmax
    from scipy.stats import beta

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=np.float64)
    flags = np.asarray(flags, dtype=bool)
    grid = RATE_GRID if rates is None else np.asarray(rates, dtype=np.float64)
    present = np.flatnonzero(np.bincount(labels, minlength=probs.shape[1]) > 0)
    n, k, f = len(labels), len(present), int(flags.sum())
    if f == 0 or k < 2:
        return FlagTrust(
            flags=f,
            expected=0.0,
            low=0,
            high=0,
            precision=float("nan"),
            noise_rate=float("nan"),
            noise_low=float("nan"),
            noise_high=float("nan"),
            level=level,
        ), np.zeros(f)
    remap = np.full(probs.shape[1], -1)
    remap[present] = np.arange(k)
    y = remap[labels]
    sub = probs[:, present]
    logp = np.log(np.clip(sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None), 1e-6, 1.0))
    fit_rows = np.arange(n)
    if n > max_fit:
        fit_rows = np.sort(np.random.default_rng(seed).choice(n, max_fit, replace=False))

    def log_joint(theta: np.ndarray, rate: float, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log P(true class, given label | x) (R, K) and the given-label mask."""
        log_c = log_softmax(np.exp(theta[0]) * logp[rows] + np.r_[0.0, theta[1:]], axis=1)
        given = np.zeros((len(rows), k), dtype=bool)
        given[np.arange(len(rows)), y[rows]] = True
        return log_c + np.where(given, np.log1p(-rate), np.log(rate / (k - 1))), given

    def objective(theta: np.ndarray, rate: float) -> float:
        joint, _ = log_joint(theta, rate, fit_rows)
        top = joint.max(axis=1, keepdims=True)
        loglik = float((top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))).sum())
        return -loglik + 0.5 * float(theta @ theta) / calibration_sd**2

    theta = np.zeros(k)
    flagged = np.flatnonzero(flags)
    wrong = np.empty((len(grid), f))  # P(label wrong) of each flagged image at each rate
    logpost = np.empty(len(grid))
    for g, rate in enumerate(grid):
        fit = minimize(
            objective, theta, args=(rate,), method="L-BFGS-B", bounds=[(-4.0, 3.0)] + [(-10.0, 10.0)] * (k - 1)
        )
        theta = fit.x  # warm start at the next rate
        joint, given = log_joint(theta, rate, flagged)
        joint = np.exp(joint - joint.max(axis=1, keepdims=True))
        wrong[g] = np.clip(1.0 - joint[given] / joint.sum(axis=1), 0.0, 1.0)
        logpost[g] = -fit.fun * n / len(fit_rows) + beta.logpdf(rate, 0.5, 0.5)
    weights = np.exp(logpost - logpost.max())
    weights /= weights.sum()

    pmf = np.zeros((len(grid), f + 1))  # exact sum of independent Bernoullis at every rate
    pmf[:, 0] = 1.0
    for j in range(f):
        pmf[:, 1:] = pmf[:, 1:] * (1 - wrong[:, j : j + 1]) + pmf[:, :-1] * wrong[:, j : j + 1]
        pmf[:, 0] *= 1 - wrong[:, j]
    tail = (1 - level) / 2
    cdf = np.cumsum(weights @ pmf)
    rate_cdf = np.cumsum(weights)
    per_flag = weights @ wrong
    expected = float(per_flag.sum())
    trust = FlagTrust(
        flags=f,
        expected=expected,
        low=int(np.searchsorted(cdf, tail)),
        high=int(min(np.searchsorted(cdf, 1 - tail), f)),
        precision=expected / f,
        noise_rate=float(weights @ grid),
        noise_low=float(grid[min(np.searchsorted(rate_cdf, tail), len(grid) - 1)]),
        noise_high=float(grid[min(np.searchsorted(rate_cdf, 1 - tail), len(grid) - 1)]),
        level=level,
    )
    return trust, per_flag
