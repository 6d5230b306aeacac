"""Per-image drift scores a chunk at a time: same answers, memory bounded by the chunk."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from datacentric.drift import DriftDetector
from datacentric.drift import detector as mod
from datacentric.errors import DatacentricError


def _fitted(rng, n_ref=300, d=8, **kwargs):
    return DriftDetector(n_permutations=50, **kwargs).fit(rng.normal(size=(n_ref, d)))


def _chunks(X, sizes):
    start = 0
    for size in sizes:
        yield X[start : start + size]
        start += size
    if start < len(X):
        yield X[start:]


@pytest.mark.parametrize("chunk", [7, 64])
def test_chunked_novelty_and_witness_equal_the_whole_batch(rng, monkeypatch, chunk):
    detector = _fitted(rng)
    X = rng.normal(size=(700, 8)) + 0.3
    whole = detector.score(X)
    monkeypatch.setattr(mod, "SCORE_CHUNK", chunk)
    chunked = detector.score(X)
    np.testing.assert_allclose(chunked.novelty, whole.novelty, rtol=0, atol=1e-12)
    np.testing.assert_allclose(chunked.witness, whole.witness, rtol=0, atol=1e-12)
    assert chunked.p_value == whole.p_value


@pytest.mark.parametrize("method", ["mmd", "ks"])
def test_streamed_batch_scores_like_the_array_below_max_batch(rng, method):
    detector = _fitted(rng, method=method)
    X = rng.normal(size=(120, 8)) + 0.5
    whole = detector.score(X)
    streamed = detector.score_batches(_chunks(X, [1, 50, 13]))
    np.testing.assert_allclose(streamed.novelty, whole.novelty, rtol=0, atol=1e-12)
    np.testing.assert_allclose(streamed.witness, whole.witness, rtol=0, atol=1e-12)
    assert (streamed.p_value, streamed.n, streamed.n_tested) == (whole.p_value, 120, 120)


def test_the_streamed_test_sample_does_not_depend_on_chunking(rng):
    detector = _fitted(rng, max_batch=40)
    X = rng.normal(size=(500, 8))
    a = detector.score_batches(_chunks(X, [100] * 5))
    b = detector.score_batches(_chunks(X, [3, 250, 17]))
    assert (a.p_value, a.statistic, a.n_tested) == (b.p_value, b.statistic, 40)
    np.testing.assert_allclose(a.witness, detector.witness(X), rtol=0, atol=1e-12)


def test_streamed_scoring_sees_a_shift_and_refuses_too_few_rows(rng):
    detector = _fitted(rng, max_batch=100)
    assert detector.score_batches(_chunks(rng.normal(size=(2000, 8)) + 1.0, [300] * 7)).drift
    with pytest.raises(DatacentricError, match="at least 2"):
        detector.score_batches([rng.normal(size=(1, 8))])


def test_memory_grows_with_the_chunk_not_with_batch_times_reference(rng, monkeypatch):
    detector = _fitted(rng, n_ref=400, max_batch=200)
    monkeypatch.setattr(mod, "SCORE_CHUNK", 256)
    n, reference_row = 12_000, (400 + 200) * 8  # bytes of one batch row's kernel rows
    chunks = (rng.normal(size=(500, 8)) for _ in range(n // 500))
    tracemalloc.start()
    score = detector.score_batches(chunks)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert score.n == n
    assert peak < n * reference_row / 4  # the (M, N_ref + max_batch) kernels: 57 MB
