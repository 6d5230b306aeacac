"""DriftDetector on plain arrays: calibration, power, sizes, novelty, bad input."""

from __future__ import annotations

import time

import numpy as np
import pytest

from datacentric.drift import DriftDetector, mmd_permutation_test
from datacentric.errors import DatacentricError


@pytest.mark.parametrize("method", ["mmd", "ks"])
def test_false_alarm_rate_near_alpha_on_same_distribution(rng, method):
    repeats, alarms = 200, 0
    for r in range(repeats):
        detector = DriftDetector(alpha=0.1, method=method, n_permutations=60, n_components=4, seed=r)
        detector.fit(rng.normal(size=(40, 6)))
        alarms += detector.score(rng.normal(size=(15, 6))).drift
    rate = alarms / repeats
    # alpha 0.1 and 200 repeats: standard error 0.021; KS with Bonferroni is conservative
    assert rate <= 0.16
    if method == "mmd":
        assert rate >= 0.04


@pytest.mark.parametrize("method", ["mmd", "ks"])
def test_detects_a_mean_shift(rng, method):
    hits = 0
    for r in range(20):
        detector = DriftDetector(method=method, n_permutations=100, seed=r).fit(rng.normal(size=(100, 10)))
        batch = rng.normal(size=(30, 10))
        batch[:, :3] += 1.0
        hits += detector.score(batch).drift
    assert hits >= 18


def test_small_batch_of_ten_gets_a_valid_answer(rng):
    detector = DriftDetector(n_permutations=200).fit(rng.normal(size=(80, 8)))
    result = detector.score(rng.normal(size=(10, 8)) + 2.0)
    assert result.n == 10 and result.n_tested == 10
    assert result.drift and result.p_value <= 1 / 201 + 1e-9
    assert result.novelty.shape == (10,) and result.novelty_percentile.shape == (10,)


def test_large_batch_is_subsampled_for_the_test_but_every_image_gets_novelty(rng):
    detector = DriftDetector(n_permutations=100, max_reference=100, max_batch=150)
    detector.fit(rng.normal(size=(400, 8)))
    start = time.perf_counter()
    result = detector.score(rng.normal(size=(5000, 8)))
    assert time.perf_counter() - start < 10
    assert result.n == 5000 and result.n_tested == 150 and result.n_reference == 100
    assert result.novelty.shape == (5000,)
    assert not result.drift


def test_same_seed_same_answer(rng):
    ref, batch = rng.normal(size=(60, 5)), rng.normal(size=(20, 5)) + 0.3
    a = DriftDetector(n_permutations=100, seed=3).fit(ref).score(batch)
    b = DriftDetector(n_permutations=100, seed=3).fit(ref).score(batch)
    assert a.p_value == b.p_value and a.statistic == b.statistic


def test_novelty_ranks_injected_outliers_first(rng):
    detector = DriftDetector().fit(rng.normal(size=(200, 12)))
    batch = rng.normal(size=(30, 12))
    outliers = [4, 17, 25]
    batch[outliers] += rng.normal(size=(3, 12)) * 0.5 + 4.0
    novelty, percentile = detector.novelty(batch)
    assert set(np.argsort(-novelty)[:3]) == set(outliers)
    assert np.all(percentile[outliers] == 1.0)
    assert np.median(percentile) < 0.9


def test_reference_novelty_is_leave_one_out(rng):
    ref = rng.normal(size=(50, 4))
    detector = DriftDetector(n_components=4).fit(ref)
    assert np.all(detector.reference_novelty_ > 0)  # no image counted as its own neighbour


def test_mmd_statistic_grows_with_the_shift(rng):
    x = rng.normal(size=(50, 3))
    small, _ = mmd_permutation_test(x, rng.normal(size=(50, 3)) + 0.2, n_permutations=10)
    large, p = mmd_permutation_test(x, rng.normal(size=(50, 3)) + 2.0, n_permutations=50)
    assert large > small and p == 1 / 51


def test_identical_points_do_not_break_the_kernel():
    x = np.zeros((10, 3))
    statistic, p = mmd_permutation_test(x, x[:5], n_permutations=20)
    assert statistic == pytest.approx(0.0) and p == 1.0


@pytest.mark.parametrize(
    "kwargs, ref, batch, message",
    [
        ({}, None, np.zeros((3, 4)), "not fitted"),
        ({}, (20, 4), np.zeros((3, 5)), "5 dimensions"),
        ({}, (20, 4), np.zeros((1, 4)), "at least 2 images"),
        ({}, (20, 4), np.full((3, 4), np.nan), "NaN"),
        ({}, (20, 4), np.zeros(4), "2-D"),
        ({}, (3, 4), None, "at least 5"),
        ({"method": "magic"}, (20, 4), None, "unknown drift method"),
        ({"alpha": 1.5}, (20, 4), None, "alpha"),
    ],
)
def test_bad_input_is_a_clear_error(rng, kwargs, ref, batch, message):
    detector = DriftDetector(**kwargs)
    with pytest.raises(DatacentricError, match=message):
        if ref is not None:
            detector.fit(rng.normal(size=ref))
        detector.score(batch)


def test_witness_ranks_the_shifted_cluster_first_even_when_not_outlying(rng):
    # reference: a wide cloud; batch: most images typical, 8 in one dense corner that the
    # reference covers only thinly (each alone is not an outlier)
    ref = rng.normal(size=(300, 2))
    batch = rng.normal(size=(22, 2))
    cluster = rng.normal(size=(10, 2)) * 0.15 + np.array([1.2, 1.2])
    detector = DriftDetector(n_components=2).fit(ref)
    X = np.vstack([batch, cluster])
    witness = detector.witness(X)
    top = np.argsort(-witness)[:8]
    # the top images all sit in the over-represented corner (a typical image there counts too)
    assert np.all(np.linalg.norm(X[top] - np.array([1.2, 1.2]), axis=1) < 0.6)
    assert len(set(top) & set(range(22, 32))) >= 7
    _, percentile = detector.novelty(cluster)
    assert np.median(percentile) < 0.95  # novelty alone would not single them out
