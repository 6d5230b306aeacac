"""Outliers and near-duplicates in embedding space.

Shapes: ``embeddings`` (N, D) float, one row per image (from the frozen backbone).
Distances are cosine distances (1 - cosine similarity), the natural geometry of
CNN embeddings.

Exact up to :data:`ANN_THRESHOLD` images, approximate above
-----------------------------------------------------------
Up to ``ANN_THRESHOLD`` (10,000) images, :func:`neighbours` is exact: blocks of the cosine
matrix, memory O(ROWS x N). Above it the exact search is quadratic in time (100k images of
1280 dimensions: ~1.3e13 multiply-adds), so the k nearest neighbours come from a
Hierarchical Navigable Small World graph (``faiss.IndexHNSWFlat``, inner product on unit
vectors): memory O(N x D) for the index, time ~N log N. Its distances are float32 inner
products (within ~1e-7 of the float64 ones; an exact float64 re-rank of the candidates
cost more than the search itself), sorted with ties to the lower index as on the exact
path, and the same rules (:func:`find_near_duplicates`, :func:`find_outliers`) apply to
them unchanged; only a rarely missed neighbour differs.

Why faiss-cpu (over hnswlib and usearch): it installs as one abi3 wheel for every
CPython >= 3.10 (hnswlib ships only a source archive for this Python, so it needs a C++
compiler at install time); it has the exact search (``IndexFlatIP``) and the approximate
ones in one library, so the benchmark compares like with like; and measured here on
20,000 clustered 1280-d vectors, 2 cores, faiss's HNSW built and searched in 6 s with
recall@10 = 1.0, usearch's (``metric="cos"``, f32) took 40 s for the same recall.
The graph is built with several threads, so on very large sets a borderline neighbour
can differ between runs; below the threshold results are bit-for-bit reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ANN_THRESHOLD",
    "NearDuplicate",
    "Outlier",
    "ann_neighbours",
    "find_near_duplicates",
    "find_outliers",
    "nearest",
    "nearest_each",
    "neighbours",
    "unit_rows",
]


@dataclass
class Outlier:
    """An image unlike the others (odd framing, wrong part, blank, another product)."""

    image: str
    score: float  # cleanlab outlier score in [0, 1]: low = more unusual
    is_outlier: bool
    distance: float = 0.0  # mean cosine distance to its k nearest neighbours
    index: int = -1


@dataclass
class NearDuplicate:
    """Two images that are (almost) the same picture."""

    images: list[str]  # the two images
    distance: float  # cosine distance between them
    same_label: bool  # both carry the same label (if not, one label is wrong)
    leaks_across_folds: bool | None  # in different cross-validation folds (None = folds unknown)
    indices: list[int] = None  # type: ignore[assignment]
    labels: list[str] = None  # type: ignore[assignment]


ROWS = 1024  # at most this many rows per (rows, N) distance block in neighbours
BLOCK_BYTES = 32 * 2**20  # and at most this much per (rows, N) float64 block (neighbours, nearest_each)
ANN_THRESHOLD = 10_000  # above this many images, neighbours come from an HNSW index
HNSW_M = 16  # graph degree: more links, higher recall, slower build (4 * 2M bytes per image)
HNSW_EF_CONSTRUCTION = 40  # candidate list while building the graph
HNSW_EF_SEARCH = 64  # candidate list per query (at least the k + 1 asked for)
FLOAT32_ZERO = 1e-6  # float32 inner products of identical unit vectors miss 1 by up to ~2e-7
ANN_CHUNK = 2048  # rows normalised, added or searched at once on the approximate path


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """The rows scaled to unit length, as float64 (N, D): what every exact search here works on.

    Compute it once and hand it to :func:`neighbours`, :func:`find_outliers` and
    :func:`nearest_each` as ``unit=``: each would otherwise make its own (N, D) float64 copy.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def _block_rows(n: int, limit: int = ROWS) -> int:
    """Rows per (rows, n) float64 block: at most ``limit`` and :data:`BLOCK_BYTES`."""
    return max(1, min(limit, BLOCK_BYTES // (8 * max(1, n))))


def _first_k(dist: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` smallest values, as ``argsort(kind="stable")[:, :k]``.

    A partial sort per row (linear in N); rows with a tie at the k-th value, where the
    partition could pick a different one of the tied columns, fall back to the stable sort.
    """
    part = np.argpartition(dist, k - 1, axis=1)[:, :k].copy()  # not a view: the (rows, N) result is freed
    vals = np.take_along_axis(dist, part, axis=1)
    order = np.lexsort((part, vals), axis=1)  # by value, ties by column: the stable order
    idx = np.take_along_axis(part, order, axis=1)
    kth = np.take_along_axis(vals, order[:, -1:], axis=1)
    tied = np.flatnonzero((dist <= kth).sum(axis=1) > k)
    if tied.size:
        idx[tied] = np.argsort(dist[tied], axis=1, kind="stable")[:, :k]
    return idx


def neighbours(embeddings: np.ndarray, k: int = 10, *, unit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other images of each image, nearest first.

    Returns (distances (N, k), indices (N, k)).

    Normalises once (or takes ``unit``, :func:`unit_rows` of ``embeddings``) and works
    through blocks of at most :data:`ROWS` rows and :data:`BLOCK_BYTES`, so memory stays
    O(N) instead of O(N^2); ties are broken by the lower index. Above
    :data:`ANN_THRESHOLD` images the lists come from an HNSW index (see the module notes).
    """
    if len(embeddings) > ANN_THRESHOLD:
        return ann_neighbours(embeddings, k)
    x = unit_rows(embeddings) if unit is None else unit
    n = len(x)
    k = max(1, min(k, n - 1))
    dist_out = np.empty((n, k))
    idx_out = np.empty((n, k), dtype=np.intp)
    step = _block_rows(n)
    for start in range(0, n, step):
        dist = x[start : start + step] @ x.T
        np.subtract(1.0, dist, out=dist)  # in place: no second (rows, N) block
        rows = np.arange(len(dist))
        dist[rows, start + rows] = np.inf
        idx = _first_k(dist, k)
        idx_out[start : start + step] = idx
        dist_out[start : start + step] = np.clip(np.take_along_axis(dist, idx, axis=1), 0.0, 2.0)
        del dist
    return dist_out, idx_out


def ann_neighbours(embeddings: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbours` from an approximate HNSW index (float32 distances, ~1e-7 off).

    Memory: the index's float32 copy of the unit vectors plus one chunk at a time, never a
    float64 copy of the whole input.
    """
    embeddings = np.asarray(embeddings)
    n = len(embeddings)
    k = max(1, min(k, n - 1))
    index = _hnsw_index(embeddings)
    index.hnsw.efSearch = max(HNSW_EF_SEARCH, k + 1)
    dist_out = np.empty((n, k))
    idx_out = np.empty((n, k), dtype=np.intp)
    for start in range(0, n, ANN_CHUNK):
        rows = np.arange(start, min(n, start + ANN_CHUNK))
        sims, cand = index.search(_unit32(embeddings[rows]), min(n, k + 1))
        dist_out[rows], idx_out[rows] = _others_first_k(rows, sims, cand, k)
    return dist_out, idx_out


def _unit32(rows: np.ndarray) -> np.ndarray:
    """Unit rows as contiguous float32, what faiss takes."""
    x = np.asarray(rows, dtype=np.float32)
    return np.ascontiguousarray(x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None))


def _hnsw_index(embeddings: np.ndarray):
    """An inner-product HNSW index over the unit rows, filled a chunk at a time."""
    import faiss

    index = faiss.IndexHNSWFlat(embeddings.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    for start in range(0, len(embeddings), ANN_CHUNK):
        index.add(_unit32(embeddings[start : start + ANN_CHUNK]))
    return index


def _others_first_k(rows: np.ndarray, sims: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances from faiss's inner products; the ``k`` nearest others, ties to the lower index.

    The query itself and faiss's -1 (no candidate) are dropped. Distances below
    :data:`FLOAT32_ZERO` are 0: identical images must not form a "typical distance" of their
    own in the local rule of :func:`find_near_duplicates` (float64 gives them ~1e-16).
    """
    valid = (cand >= 0) & (cand != rows[:, None])
    safe = np.where(valid, cand, rows[:, None])
    dist = np.where(valid, 1.0 - sims.astype(np.float64), np.inf)
    dist[dist < FLOAT32_ZERO] = 0.0  # copies: 1 - ip is float32 rounding (~1e-7), not a distance
    order = np.lexsort((safe, dist), axis=1)[:, :k]
    return np.clip(np.take_along_axis(dist, order, axis=1), 0.0, 2.0), np.take_along_axis(safe, order, axis=1)


def nearest(embeddings: np.ndarray, query: int, candidates: np.ndarray, k: int = 2) -> list[int]:
    """Indices of the ``k`` candidates (boolean mask or indices) closest to image ``query``."""
    return nearest_each(embeddings, [query], [candidates], k=k)[0]


def nearest_each(
    embeddings: np.ndarray,
    queries: Sequence[int],
    candidates: Sequence[np.ndarray],
    *,
    k: int = 2,
    unit: np.ndarray | None = None,
) -> list[list[int]]:
    """:func:`nearest` for many queries at once: normalises once, one product per block.

    ``candidates[i]`` (boolean mask or indices) are the images that may answer
    ``queries[i]``; returns, per query, the indices of its ``k`` closest candidates.
    ``unit`` is :func:`unit_rows` of ``embeddings`` when the caller has it already.
    """
    x = unit_rows(embeddings) if unit is None else unit
    rows = _block_rows(len(x))  # (rows, N) float64 block
    picks: list[list[int]] = []
    for start in range(0, len(queries), rows):
        block = list(queries[start : start + rows])
        sims = x[block] @ x.T
        for row, query in enumerate(block):
            cand = np.asarray(candidates[start + row])
            cand = np.flatnonzero(cand) if cand.dtype == bool else cand
            cand = cand[cand != query]
            order = np.argsort(-sims[row, cand], kind="stable")[:k]
            picks.append([int(c) for c in cand[order]])
    return picks


def find_outliers(
    embeddings: np.ndarray,
    *,
    images: Sequence[str] | None = None,
    k: int = 10,
    threshold: float = 0.37037,
    graph: tuple[np.ndarray, np.ndarray] | None = None,
    unit: np.ndarray | None = None,
) -> list[Outlier]:
    """Score every image for how unusual it is; return all, most unusual first.

    Scores come from :class:`cleanlab.outlier.OutOfDistribution` (mean distance to the
    ``k`` nearest neighbours, mapped to [0, 1]). An image is flagged with the rule cleanlab's
    Datalab uses: its mean neighbour distance exceeds Q3 + (1/threshold - 1) x IQR of all
    images' mean distances (with the default, Q3 + 1.7 IQR — a box-plot whisker).
    ``graph`` is ``neighbours(embeddings, k)`` and ``unit`` is :func:`unit_rows` of
    ``embeddings`` when the caller has them already. cleanlab scores from that graph (exact
    up to :data:`ANN_THRESHOLD` images, approximate above) rather than searching again.
    """
    n = len(embeddings)
    images = [str(s) for s in images] if images is not None else [str(i) for i in range(n)]
    if n < 3:
        return [Outlier(image=images[i], score=1.0, is_outlier=False, index=i) for i in range(n)]
    graph = graph if graph is not None else neighbours(embeddings, k, unit=unit)
    mean = graph[0].mean(axis=1)
    q1, q3 = np.percentile(mean, [25, 75])
    cut = q3 + (1.0 / threshold - 1.0) * (q3 - q1)
    scores = _cleanlab_scores(embeddings, graph, min(k, n - 1))
    order = np.lexsort((np.arange(n), scores))
    return [
        Outlier(
            image=images[i],
            score=float(scores[i]),
            is_outlier=bool(mean[i] > cut),
            distance=float(mean[i]),
            index=int(i),
        )
        for i in order
    ]


class _KnnGraph:
    """A k-NN graph already computed, offered to cleanlab as a fitted ``NearestNeighbors``.

    cleanlab queries its index with the training features, so each image is its own
    nearest neighbour at distance 0: :meth:`kneighbors` answers that way, followed by the
    ``k - 1`` nearest others of the graph.
    """

    metric = "cosine"

    def __init__(self, dist: np.ndarray, idx: np.ndarray, k: int) -> None:
        n = len(dist)
        self.n_neighbors = k
        self._dist = np.hstack([np.zeros((n, 1)), dist[:, : k - 1]])
        self._idx = np.hstack([np.arange(n)[:, None], idx[:, : k - 1]])

    def kneighbors(self, features: object = None) -> tuple[np.ndarray, np.ndarray]:
        return self._dist, self._idx


def _cleanlab_scores(embeddings: np.ndarray, graph: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """cleanlab's ``OutOfDistribution`` feature scores, on the k-NN ``graph`` we already have.

    (cleanlab's own search would be a second O(N^2) pass over the same vectors.)
    """
    from cleanlab.outlier import OutOfDistribution

    dist, idx = graph
    return OutOfDistribution(params={"knn": _KnnGraph(dist, idx, k)}).score(features=np.asarray(embeddings))


def find_near_duplicates(
    embeddings: np.ndarray,
    *,
    images: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    folds: np.ndarray | Sequence[int] | None = None,
    threshold: float = 0.13,
    k: int = 10,
    graph: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[NearDuplicate]:
    """Pairs of images much closer to each other than images usually are, closest first.

    Two rules, both must hold:

    * global (as cleanlab Datalab's near-duplicate check): their distance is below
      ``threshold`` (0.13) times the median nearest-neighbour distance in the data set;
    * local: the pair stands out from its own neighbourhood. Its distance divided by the
      typical distance of either image to its other near neighbours (median of the 2nd to
      ``k``-th) is far out among all images' such ratios (on a log scale, below Q1 - 3 IQR:
      Tukey's far-out fence). Without it, a dense cluster -- a dark, flat camera whose
      photos all embed close together -- reads as dozens of "duplicates" of different parts.

    With ``folds`` (the cross-validation fold of each image, (N,)
    or (repeats, N)) a pair in two different folds (in any repeat) is marked
    ``leaks_across_folds``: the model validated on one had trained on its twin, so its
    accuracy there is flattering. ``graph`` is ``neighbours(embeddings, k)`` when the caller
    has it already.
    """
    n = len(embeddings)
    if n < 2:
        return []
    images = [str(s) for s in images] if images is not None else [str(i) for i in range(n)]
    fold_rows = None if folds is None else np.atleast_2d(np.asarray(folds))
    dist, idx = graph if graph is not None else neighbours(np.asarray(embeddings), k)
    median = max(float(np.median(dist[:, 0])), 1e-12)
    stands_out = _stands_out_locally(dist)
    pairs: dict[tuple[int, int], float] = {}
    for i in range(n):
        for d, j in zip(dist[i], idx[i]):
            if d < threshold * median and stands_out(d, i, int(j)):
                key = (min(i, int(j)), max(i, int(j)))
                pairs[key] = float(d)
    out = []
    for (a, b), d in sorted(pairs.items(), key=lambda item: (item[1], item[0])):
        same = labels is None or labels[a] == labels[b]
        leak = None if fold_rows is None else bool(np.any(fold_rows[:, a] != fold_rows[:, b]))
        out.append(
            NearDuplicate(
                images=[images[a], images[b]],
                distance=d,
                same_label=bool(same),
                leaks_across_folds=leak,
                indices=[a, b],
                labels=[str(labels[a]), str(labels[b])] if labels is not None else [],
            )
        )
    return out


def _stands_out_locally(dist: np.ndarray):
    """The local rule of :func:`find_near_duplicates`: ``(distance, i, j) -> bool``."""
    if dist.shape[1] < 3:  # too few neighbours for a local scale: the global rule alone
        return lambda d, i, j: True
    local = np.clip(np.median(dist[:, 1:], axis=1), 1e-12, None)
    # ratios are scales: judge them on a log scale, where the fence never falls below zero
    log_ratios = np.log(np.clip(dist[:, 0], 1e-12, None) / local)
    q1, q3 = np.percentile(log_ratios, [25, 75])
    cut = float(np.exp(q1 - 3.0 * (q3 - q1)))
    return lambda d, i, j: d / min(local[i], local[j]) <= cut
