"""Blocked neighbours and batched nearest examples give exactly what the old per-call code gave."""

import numpy as np
import pytest

from datacentric.model import neighbours as mod
from datacentric.model.neighbours import (
    find_near_duplicates,
    find_outliers,
    nearest,
    nearest_each,
    neighbours,
)


def _old_unit(embeddings):
    x = np.asarray(embeddings, dtype=np.float64)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def _old_neighbours(embeddings, k=10):
    """The implementation before the speed-up: the full N x N matrix, a stable sort per row."""
    x = _old_unit(embeddings)
    n = len(x)
    k = max(1, min(k, n - 1))
    dist = 1.0 - x @ x.T
    np.fill_diagonal(dist, np.inf)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.clip(np.take_along_axis(dist, idx, axis=1), 0.0, 2.0), idx


def _old_nearest(embeddings, query, candidates, k=2):
    """The implementation before the speed-up: normalise everything for every query."""
    x = _old_unit(embeddings)
    cand = np.asarray(candidates)
    cand = np.flatnonzero(cand) if cand.dtype == bool else cand
    cand = cand[cand != query]
    if cand.size == 0:
        return []
    sims = x[cand] @ x[query]
    return [int(c) for c in cand[np.argsort(-sims, kind="stable")[:k]]]


def _vectors(n=300, d=48, seed=0):
    """Clusters with exact duplicates (ties), scaled copies and one far point."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, d)) * 3
    x = centres[rng.integers(0, 5, n)] + rng.normal(size=(n, d))
    x[10:16] = x[3]  # six exact copies: ties at and across the k-th neighbour
    x[40] = x[41] * 2.5  # same direction
    x[50] = x[51] + 1e-7
    x[7] = -x[7] * 5
    return x


@pytest.mark.parametrize("rows", [1024, 64, 7])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_blocked_neighbours_match_the_full_matrix(monkeypatch, rows, k):
    monkeypatch.setattr(mod, "ROWS", rows)
    x = _vectors()
    dist, idx = neighbours(x, k)
    old_dist, old_idx = _old_neighbours(x, k)
    np.testing.assert_array_equal(idx, old_idx)
    np.testing.assert_allclose(dist, old_dist, rtol=0, atol=1e-12)
    if rows >= len(x):  # one block: the very same product, bit for bit
        np.testing.assert_array_equal(dist, old_dist)


def test_neighbours_of_tiny_sets():
    for n in (2, 3):
        x = _vectors()[:n]
        for new, old in zip(neighbours(x), _old_neighbours(x)):
            np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("rows", [1024, 5])
def test_nearest_each_matches_one_call_per_query(monkeypatch, rows):
    monkeypatch.setattr(mod, "ROWS", rows)
    x = _vectors()
    rng = np.random.default_rng(1)
    queries = [int(q) for q in rng.integers(0, len(x), 40)] + [3, 10, 40]
    masks = [rng.random(len(x)) < p for p in (0.02, 0.3, 0.9)]
    candidates = [masks[i % 3] for i in range(len(queries))]
    candidates[0] = np.zeros(len(x), bool)  # no candidate at all
    candidates[1] = np.array([queries[1]])  # only itself, as indices
    candidates[2] = np.arange(0, len(x), 3)  # indices
    picks = nearest_each(x, queries, candidates, k=3)
    assert picks == [_old_nearest(x, q, c, k=3) for q, c in zip(queries, candidates)]
    assert picks[0] == [] and picks[1] == []
    assert nearest(x, queries[5], candidates[5], k=3) == picks[5]


def test_a_shared_graph_changes_no_outlier_or_duplicate():
    x = _vectors()
    labels = ["a" if i % 3 else "b" for i in range(len(x))]
    folds = np.arange(len(x)) % 5
    graph = _old_neighbours(x)
    assert find_outliers(x, graph=graph) == find_outliers(x)
    assert find_near_duplicates(x, labels=labels, folds=folds, graph=graph) == find_near_duplicates(
        x, labels=labels, folds=folds
    )
    assert any(o.is_outlier and o.index == 7 for o in find_outliers(x))
    assert {(40, 41), (50, 51)} <= {tuple(d.indices) for d in find_near_duplicates(x)}
