"""Two-sample tests on embeddings: the MMD permutation test and per-component KS tests.

Shapes: X is n rows, Y is m rows, of the same d dimensions.

Why our own ~100 lines instead of a library
-------------------------------------------
* ``alibi-detect`` (``MMDDrift``, ``KSDrift``) is the best-known implementation, but
  since 0.12 it is under the Business Source License 1.1 (not open source, so it cannot
  ship in an AGPL toolkit) and pulls numba, opencv, pandas and transformers.
* ``torchdrift`` (``KernelMMDDriftDetector``) has had no release since 2021.
* ``scipy.stats`` has ``ks_2samp`` (used by :func:`ks_test`) but no MMD test; scikit-learn
  has the kernels we use.
So the MMD permutation test is written here on top of numpy/scikit-learn (a kernel
matrix, then every permutation's statistic as one matrix product), and the KS variant
uses scipy's ``ks_2samp`` directly. :class:`~datacentric.drift.DriftDetector` runs them on
the pooled sample reduced by :func:`pooled_components` (see :mod:`datacentric.drift.detector`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics.pairwise import euclidean_distances

__all__ = ["ks_test", "mmd_permutation_test", "pooled_components"]


def mmd_permutation_test(
    X: np.ndarray, Y: np.ndarray, *, n_permutations: int = 1000, seed: int = 0, chunk: int = 256
) -> tuple[float, float]:
    """Biased MMD^2 between samples X (n, d) and Y (m, d) with a permutation p-value.

    RBF kernel ``exp(-|a - b|^2 / (2 s^2))`` with ``s`` the median pairwise distance of
    the pooled sample. Returns ``(mmd2, p_value)``.
    """
    n, m = len(X), len(Y)
    Z = np.vstack([X, Y])
    sq = euclidean_distances(Z, squared=True)
    upper = sq[np.triu_indices(len(Z), k=1)]
    median = float(np.median(upper))
    if median <= 0:
        positive = upper[upper > 0]
        median = float(positive.mean()) if len(positive) else 1.0
    K = np.exp(-sq / (2.0 * median))
    rng = np.random.default_rng(seed)
    weights_x, weights_y = 1.0 / n, -1.0 / m

    def statistics(in_x: np.ndarray) -> np.ndarray:  # in_x: (P, n+m) bool
        W = np.where(in_x, weights_x, weights_y)  # (P, N)
        return np.einsum("pi,pi->p", W @ K, W)

    observed_mask = np.zeros((1, n + m), dtype=bool)
    observed_mask[0, :n] = True
    observed = float(statistics(observed_mask)[0])
    exceed = 0
    done = 0
    while done < n_permutations:
        size = min(chunk, n_permutations - done)
        order = np.argsort(rng.random((size, n + m)), axis=1)
        mask = np.zeros((size, n + m), dtype=bool)
        np.put_along_axis(mask, order[:, :n], True, axis=1)
        exceed += int(np.sum(statistics(mask) >= observed - 1e-12))
        done += size
    return observed, (1 + exceed) / (1 + n_permutations)


def ks_test(X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """Largest per-component KS distance and the Bonferroni-corrected smallest p-value."""
    result = stats.ks_2samp(X, Y, axis=0)
    statistic = np.atleast_1d(result.statistic)
    p_values = np.atleast_1d(result.pvalue)
    return float(statistic.max()), float(min(1.0, p_values.min() * len(p_values)))


def pooled_components(Z: np.ndarray, n_components: int) -> np.ndarray:
    """Standardise Z (N, D) and return its top principal-component scores (N, k).

    Uses the N x N Gram matrix when N <= D (embeddings: a few hundred rows, ~1000
    dimensions), else the D x D covariance: either way one small symmetric eigenproblem
    instead of an SVD of the full matrix. Permuting Z's rows permutes the scores' rows.
    """
    scale = Z.std(axis=0)
    Z = (Z - Z.mean(axis=0)) / np.where(scale > 1e-12, scale, 1.0)
    k = max(1, min(n_components, len(Z) - 1, Z.shape[1]))
    if len(Z) <= Z.shape[1]:
        values, vectors = np.linalg.eigh(Z @ Z.T)
        top = np.argsort(values)[::-1][:k]
        return vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))
    values, vectors = np.linalg.eigh(Z.T @ Z)
    top = np.argsort(values)[::-1][:k]
    return Z @ vectors[:, top]
