"""A two-sample drift test in embedding space, and per-image novelty scores.

Shapes: the reference is N_ref rows of D-dimensional embeddings, a batch is M rows.
The two-sample tests themselves (and why they are our own) are in
:mod:`datacentric.drift.two_sample`.

The test
--------
``method="mmd"`` (default): the biased squared maximum mean discrepancy with an RBF
kernel whose bandwidth is the median pairwise distance (median heuristic), and a
permutation p-value ``(1 + #{permuted >= observed}) / (1 + n_permutations)``.
``method="ks"``: one Kolmogorov-Smirnov test per component, Bonferroni-corrected
(conservative). Both run on embeddings standardised and reduced by PCA to
``n_components`` dimensions, where standardisation, PCA and bandwidth are fitted on the
*pooled* sample (reference + batch). That matters: a PCA fitted on the reference alone
fits the reference's own noise, so fresh images from the same distribution look
different from it and the false-alarm rate climbs far above alpha (measured: 0.6 at
alpha 0.05 for batches of 100). Fitted on the pooled sample, every step is a symmetric
function of the pooled images, so the permutation test stays exact: with no change,
P(p <= alpha) <= alpha for any sample sizes, batches of 10 included.

Cost
----
The kernel matrix is (n_ref + m)^2 and each permutation costs one matrix-vector
product, so above ``max_reference`` reference rows and ``max_batch`` batch rows the test
uses a seeded random subsample of that size (500 each by default: well under a second
for 1000 permutations on 2 cores); at 500 images the test's power is already far beyond
what any visible shift needs. The pooled PCA is one small eigenproblem (Gram matrix). Novelty is
computed for every batch image (nearest neighbours, linear in M). The KS test is
O((n + m) log(n + m)) and never subsamples the batch. Novelty and witness are computed
:data:`SCORE_CHUNK` batch rows at a time, so their distance blocks are (chunk, N_ref), not
(M, N_ref); :meth:`DriftDetector.score_batches` takes the batch as a stream of chunks
and keeps only its reduced rows (1M new embeddings against 2k reference ones: see
``benchmarks/bench_scale.py``; with ``method="ks"`` it keeps every raw row, use mmd there).

Novelty and witness
-------------------
Each batch image's novelty is its mean distance to its ``n_neighbors`` nearest reference
neighbours (after the reference's own standardisation and PCA); ``novelty_percentile`` places it among the reference
images' own leave-one-out novelties (0.99 = more unusual than 99% of training images).
Novelty finds lone oddities (an unseen defect) but ranks images in sparse parts of the
training data high too. The *witness* (see :meth:`DriftDetector.witness`) points at the
images a collective shift is made of: on the demo's lighting shift it ranks the darkest
images first (correlation with brightness -0.92) where novelty ranks bright textured
ones first (+0.75); on unseen defects both find the new defect type (5 of 5 on top).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.neighbors import NearestNeighbors

from datacentric.errors import DatacentricError
from datacentric.estimator import Params
from datacentric.drift.two_sample import ks_test, mmd_permutation_test, pooled_components

__all__ = ["METHODS", "DriftDetector", "DriftScore"]

METHODS = ("mmd", "ks")
SCORE_CHUNK = 4096  # batch rows scored at once: bounds the (rows, N_ref) distance blocks


@dataclass
class DriftScore:
    """The answer of :meth:`DriftDetector.score` for one batch of M images."""

    drift: bool  # p_value < alpha
    p_value: float  # how sure: the chance of a statistic this large with no change
    statistic: float  # how strong: MMD^2 (method mmd) or the largest KS distance (ks)
    n: int  # batch images scored
    method: str  # mmd | ks
    alpha: float  # false-alarm rate the decision was made at
    novelty: np.ndarray = field(repr=False)  # (M,) mean distance to nearest reference images
    novelty_percentile: np.ndarray = field(repr=False)  # (M,) share of reference images less novel
    witness: np.ndarray = field(repr=False)  # (M,) how much each image's region gained: batch - reference density
    n_reference: int = 0  # reference rows used by the test (after subsampling)
    n_tested: int = 0  # batch rows used by the test (after subsampling)


class DriftDetector(Params):
    """Two-sample drift test of a batch of embeddings against a reference set.

    This is one of the three test families of ``datacentric drift``; a lighting change
    can leave embeddings close enough to pass it. :class:`~datacentric.drift.DriftCheck`
    runs all three (embeddings, pixel statistics, predicted class mix).

    Parameters
    ----------
    alpha : float, default 0.05
        False-alarm rate: ``drift`` is ``p_value < alpha``.
    method : {"mmd", "ks"}, default "mmd"
        Kernel MMD with a permutation test, or per-component KS with Bonferroni correction.
    n_permutations : int, default 1000
        Permutations for the MMD p-value (the smallest p-value is 1 / (n_permutations + 1)).
    n_components : int, default 16
        PCA dimensions the embeddings are reduced to (at most N_ref - 1 and D).
    max_reference, max_batch : int, default 500
        Above these sizes the MMD test uses a seeded random subsample (bounded cost).
    n_neighbors : int, default 5
        Reference neighbours averaged for each image's novelty.
    seed : int, default 0
        Seed for subsampling and permutations (same inputs, same answer).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> detector = DriftDetector(alpha=0.05, n_permutations=200).fit(rng.normal(size=(200, 8)))
    >>> detector.score(rng.normal(size=(30, 8)) + 1.0).drift
    True
    """

    def __init__(
        self,
        alpha: float = 0.05,
        method: str = "mmd",
        *,
        n_permutations: int = 1000,
        n_components: int = 16,
        max_reference: int = 500,
        max_batch: int = 500,
        n_neighbors: int = 5,
        seed: int = 0,
    ) -> None:
        self.alpha = alpha
        self.method = method
        self.n_permutations = n_permutations
        self.n_components = n_components
        self.max_reference = max_reference
        self.max_batch = max_batch
        self.n_neighbors = n_neighbors
        self.seed = seed

    # -- fitting -------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: object = None) -> "DriftDetector":
        """Learn the reference: the rows to test against, a neighbour index, novelty calibration.

        Parameters
        ----------
        X : array (N_ref, D)
            Reference embeddings (the training images); at least 5 rows.
        """
        if not 0.0 < self.alpha < 1.0:
            raise DatacentricError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.method not in METHODS:
            raise DatacentricError(f"unknown drift method '{self.method}' (choose from {', '.join(METHODS)})")
        if self.n_permutations < 1:
            raise DatacentricError("n_permutations must be at least 1")
        X = _as_matrix(X, "reference")
        if len(X) < 5:
            raise DatacentricError(f"the reference needs at least 5 images, got {len(X)}")
        self.n_features_in_ = X.shape[1]
        # novelty lives in the reference's own reduced space (a fixed map, not a test)
        self.mean_, self.scale_, self.pca_ = _reducer(X, self.n_components)
        reference = self.transform(X)
        k = max(1, min(self.n_neighbors, len(X) - 1))
        self.neighbors_ = NearestNeighbors(n_neighbors=k + 1).fit(reference)
        distances, _ = self.neighbors_.kneighbors(reference, n_neighbors=k + 1)
        # leave-one-out: drop each image's zero distance to itself (column 0)
        self.reference_scores_ = distances[:, 1:].mean(axis=1)  # per reference row, fit order
        self.reference_novelty_ = np.sort(self.reference_scores_)
        self.reduced_reference_ = reference
        sample = reference[: min(len(reference), 1000)]
        squared = euclidean_distances(sample, squared=True)
        self.bandwidth_ = float(np.sqrt(max(np.median(squared[np.triu_indices(len(sample), k=1)]), 1e-12)))
        self.k_ = k
        rng = np.random.default_rng(self.seed)
        if len(X) > self.max_reference:
            X = X[np.sort(rng.choice(len(X), self.max_reference, replace=False))]
        self.test_reference_ = X  # raw rows the two-sample test compares batches with
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardise and reduce embeddings with the reference's statistics: (M, D) -> (M, d)."""
        self._check_fitted()
        X = self._check_batch(X)
        return self.pca_.transform((X - self.mean_) / self.scale_)

    # -- scoring -------------------------------------------------------------------
    def novelty(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-image novelty (mean distance to nearest reference images) and its percentile."""
        return self._novelty_reduced(self._transform_chunks(X))

    def _transform_chunks(self, X: np.ndarray) -> np.ndarray:
        """:meth:`transform` a chunk of :data:`SCORE_CHUNK` rows at a time: no (M, D) float64 copy."""
        if len(X) <= SCORE_CHUNK:
            return self.transform(X)
        return np.vstack([self.transform(X[start : start + SCORE_CHUNK]) for start in range(0, len(X), SCORE_CHUNK)])

    def _novelty_reduced(self, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Novelty and percentile of already reduced rows, a chunk at a time."""
        novelty = np.concatenate(
            [
                self.neighbors_.kneighbors(B[start : start + SCORE_CHUNK], n_neighbors=self.k_)[0].mean(axis=1)
                for start in range(0, len(B), SCORE_CHUNK)
            ]
        )
        below = np.searchsorted(self.reference_novelty_, novelty, side="left")
        return novelty, below / len(self.reference_novelty_)

    def witness(self, X: np.ndarray) -> np.ndarray:
        """Per-image MMD witness: mean kernel to the other batch images minus mean kernel to the reference.

        Positive where the batch has more images than the reference would predict, so the
        images at the top are the ones the shift is made of (e.g. the darkest ones after a
        lighting change), even where each alone is not unusual. Computed in the reference's
        reduced space with its median-distance bandwidth; above ``max_batch`` images the
        batch side uses a seeded subsample.
        """
        return self._witness_reduced(self._transform_chunks(X))

    def _witness_reduced(self, B: np.ndarray) -> np.ndarray:
        """:meth:`witness` of already reduced rows; kernels a chunk of rows at a time."""
        cols = np.arange(len(B))
        if len(B) > self.max_batch:
            cols = np.sort(np.random.default_rng(self.seed).choice(len(B), self.max_batch, replace=False))
        return np.concatenate([self._witness_rows(B, start, cols) for start in range(0, len(B), SCORE_CHUNK)])

    def _witness_rows(self, B: np.ndarray, start: int, cols: np.ndarray) -> np.ndarray:
        """Witness of rows ``start:start + SCORE_CHUNK`` of B: (chunk, len(cols) + N_ref) kernels."""
        gamma = 1.0 / (2.0 * self.bandwidth_**2)
        rows = B[start : start + SCORE_CHUNK]
        to_batch = np.exp(-gamma * euclidean_distances(rows, B[cols], squared=True))
        own = (cols >= start) & (cols < start + len(rows))
        to_batch[cols[own] - start, np.flatnonzero(own)] = np.nan  # leave each image's own kernel out
        to_reference = np.exp(-gamma * euclidean_distances(rows, self.reduced_reference_, squared=True))
        with np.errstate(invalid="ignore"):
            return np.nanmean(to_batch, axis=1) - to_reference.mean(axis=1)

    def score(self, X: np.ndarray) -> DriftScore:
        """Test one batch against the reference.

        Parameters
        ----------
        X : array (M, D)
            Batch embeddings; at least 2 rows.
        """
        self._check_fitted()
        X = self._check_batch(X)
        if len(X) < 2:
            raise DatacentricError(f"a drift test needs at least 2 images, got {len(X)}")
        novelty, percentile = self.novelty(X)
        rng = np.random.default_rng(self.seed)
        batch = X
        if self.method == "mmd" and len(batch) > self.max_batch:
            batch = batch[np.sort(rng.choice(len(batch), self.max_batch, replace=False))]
        # the pooled sample is reduced in _decide: symmetric in its rows, so the test stays exact
        return self._decide(batch, len(X), novelty, percentile, self.witness(X))

    def score_batches(self, batches: Iterable[np.ndarray]) -> DriftScore:
        """:meth:`score` for a batch too large for memory, given as chunks of rows (in order).

        Each chunk is reduced at once (the reference's standardisation and PCA: M x
        ``n_components`` floats are kept, 128 MB for 1M images at 16), so no (M, D) array
        and no (M, N_ref) matrix is ever built. Novelty and witness are those :meth:`score`
        gives; the two-sample test draws its ``max_batch`` rows by a seeded reservoir
        (uniform, the same for any chunking) instead of ``choice``, so its p-value can differ
        from :meth:`score` on the same rows when M > ``max_batch``.
        """
        self._check_fitted()
        reduced: list[np.ndarray] = []
        sample = _Reservoir(self.max_batch if self.method == "mmd" else None, self.seed)
        for chunk in batches:
            chunk = self._check_batch(chunk)
            reduced.append(self.pca_.transform((chunk - self.mean_) / self.scale_))
            sample.add(chunk)
        B = np.vstack(reduced) if reduced else np.empty((0, self.pca_.n_components_))
        if len(B) < 2:
            raise DatacentricError(f"a drift test needs at least 2 images, got {len(B)}")
        return self._decide(sample.rows(), len(B), *self._novelty_reduced(B), self._witness_reduced(B))

    def _decide(
        self, batch: np.ndarray, n: int, novelty: np.ndarray, percentile: np.ndarray, witness: np.ndarray
    ) -> DriftScore:
        """The two-sample test of ``batch`` (raw rows, subsampled) against the reference."""
        reference = self.test_reference_
        reduced = pooled_components(np.vstack([reference, batch]), self.n_components)
        ref_part, batch_part = reduced[: len(reference)], reduced[len(reference) :]
        if self.method == "ks":
            statistic, p_value = ks_test(ref_part, batch_part)
        else:
            statistic, p_value = mmd_permutation_test(
                ref_part, batch_part, n_permutations=self.n_permutations, seed=self.seed
            )
        return DriftScore(
            drift=bool(p_value < self.alpha),
            p_value=float(p_value),
            statistic=float(statistic),
            n=n,
            method=self.method,
            alpha=float(self.alpha),
            novelty=novelty,
            novelty_percentile=percentile,
            witness=witness,
            n_reference=len(reference),
            n_tested=len(batch),
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "pca_"):
            raise DatacentricError("this DriftDetector is not fitted yet: call fit(reference) first")

    def _check_batch(self, X: np.ndarray) -> np.ndarray:
        X = _as_matrix(X, "batch")
        if X.shape[1] != self.n_features_in_:
            raise DatacentricError(
                f"batch embeddings have {X.shape[1]} dimensions, the reference {self.n_features_in_}"
            )
        return X


class _Reservoir:
    """A seeded uniform sample of ``size`` rows from a stream of chunks (all rows if None).

    Every row gets a random key in stream order (one generator, so the keys do not depend
    on how the rows are chunked); the rows with the ``size`` smallest keys are kept, then
    returned in stream order.
    """

    def __init__(self, size: int | None, seed: int) -> None:
        self.size, self.rng = size, np.random.default_rng(seed)
        self.keys, self.order, self.kept = np.empty(0), np.empty(0, dtype=np.int64), []
        self.seen = 0

    def add(self, chunk: np.ndarray) -> None:
        keys = self.rng.random(len(chunk))
        order = np.arange(self.seen, self.seen + len(chunk))
        self.seen += len(chunk)
        rows = np.vstack(self.kept + [chunk]) if self.kept else chunk
        keys, order = np.concatenate([self.keys, keys]), np.concatenate([self.order, order])
        if self.size is not None and len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            rows, keys, order = rows[keep], keys[keep], order[keep]
        self.kept, self.keys, self.order = [rows], keys, order

    def rows(self) -> np.ndarray:
        """The kept rows, in stream order."""
        return self.kept[0][np.argsort(self.order)] if self.kept else np.empty((0, 0))


def _as_matrix(X: np.ndarray, what: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DatacentricError(f"{what} embeddings must be a 2-D array (images x dimensions), got shape {X.shape}")
    if len(X) == 0:
        raise DatacentricError(f"{what} embeddings are empty")
    if not np.all(np.isfinite(X)):
        raise DatacentricError(f"{what} embeddings contain NaN or infinite values")
    return X


def _reducer(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, PCA]:
    """Standardisation (mean, scale) and a PCA fitted on X."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    n_components = max(1, min(n_components, len(X) - 1, X.shape[1]))
    pca = PCA(n_components=n_components, svd_solver="full").fit((X - mean) / scale)
    return mean, scale, pca
