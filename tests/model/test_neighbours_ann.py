"""Above ANN_THRESHOLD the k-NN lists come from an HNSW index: same rules, (almost) same answers."""

import warnings

import numpy as np
import pytest

from datacentric.model import neighbours as mod
from datacentric.model.neighbours import ann_neighbours, find_near_duplicates, find_outliers, neighbours

from tests.model.test_neighbours_batched import _old_neighbours, _vectors


@pytest.fixture
def ann_from_50(monkeypatch):
    """The approximate path from 50 images on, and the exact block search forbidden."""
    monkeypatch.setattr(mod, "ANN_THRESHOLD", 50)

    def no_exact(*args, **kwargs):
        raise AssertionError("the exact N x N block search ran above the threshold")

    monkeypatch.setattr(mod, "_first_k", no_exact)


def _recall(dist, exact_dist):
    """Share of the found neighbours within each row's exact k-th distance (ties count as found)."""
    return np.mean(dist <= exact_dist[:, -1:] + 1e-6)


def test_below_the_threshold_the_search_stays_exact(monkeypatch):
    monkeypatch.setattr(mod, "ann_neighbours", None)  # calling it would fail
    x = _vectors()
    for new, old in zip(neighbours(x), _old_neighbours(x)):
        np.testing.assert_allclose(new, old, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_hnsw_neighbours_match_the_exact_lists(ann_from_50, k):
    x = _vectors(n=400)
    dist, idx = neighbours(x, k)
    exact_dist, exact_idx = _old_neighbours(x, k)
    assert dist.shape == (400, k) and idx.shape == (400, k)
    assert not np.any(idx == np.arange(400)[:, None])  # never an image's own row
    assert _recall(dist, exact_dist) >= 0.99
    # float32 distances, nearest first
    assert np.all(np.diff(dist, axis=1) >= 0)
    np.testing.assert_allclose(np.sort(dist[:, 0]), np.sort(exact_dist[:, 0]), atol=1e-6)


def test_duplicates_and_outliers_are_the_same_on_the_approximate_path(ann_from_50):
    x = _vectors(n=400)
    exact = _old_neighbours(x)
    approx = ann_neighbours(x)
    pairs = {tuple(d.indices) for d in find_near_duplicates(x)}
    assert pairs == {tuple(d.indices) for d in find_near_duplicates(x, graph=exact)}
    assert {(40, 41), (50, 51)} <= pairs
    flagged = [o for o in find_outliers(x, graph=approx) if o.is_outlier]
    assert 7 in {o.index for o in flagged}


def _cleanlab_own_search(x: np.ndarray, k: int = 10) -> np.ndarray:
    """cleanlab's OutOfDistribution scores, cleanlab fitting and querying a scikit-learn
    cosine k-NN index itself (the reference; what the audit ran before it shared its graph)."""
    from cleanlab.outlier import OutOfDistribution
    from sklearn.neighbors import NearestNeighbors

    knn = NearestNeighbors(n_neighbors=k, metric="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OutOfDistribution(params={"knn": knn}).fit_score(features=x, verbose=False)


@pytest.mark.parametrize("ann", [False, True])
def test_scores_from_the_graph_are_cleanlabs(monkeypatch, ann):
    x = _vectors(n=400)
    exact = {o.index for o in find_outliers(x) if o.is_outlier}
    if ann:
        monkeypatch.setattr(mod, "ANN_THRESHOLD", 50)
    ours = {o.index: o for o in find_outliers(x)}
    reference = _cleanlab_own_search(x)
    np.testing.assert_allclose([ours[i].score for i in range(400)], reference, atol=1e-6)
    assert len({o.index for o in ours.values() if o.score < 0.5}) > 0  # scores that differ from 1
    assert {i for i, o in ours.items() if o.is_outlier} == exact
