"""class_mix_test (predicted class mix, Monte Carlo chi-square) and the three-family verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from datacentric.drift import DriftDetector, PixelStatsTest, STATISTICS, class_mix_test, combine_p_values, check_drift
from datacentric.drift.class_mix import mix_p_value
from datacentric.errors import DatacentricError

from tests.support.factories import COLOURS, write_images

FACTORY = np.array([0.9, 0.06, 0.03, 0.01])  # most parts good, a few rare defect classes


def test_monte_carlo_p_value_is_valid_for_small_batches_where_the_asymptotic_one_is_not():
    rng = np.random.default_rng(11)
    repeats, alpha = 1500, 0.05
    mc = asymptotic = 0
    for r in range(repeats):
        ref = np.bincount(rng.choice(4, 250, p=FACTORY), minlength=4)
        batch = np.bincount(rng.choice(4, 10, p=FACTORY), minlength=4)
        _, p_mc, p_asym = mix_p_value(ref, batch, n_resamples=999, seed=r)
        mc += p_mc <= alpha
        asymptotic += p_asym <= alpha
    # standard error 0.006 at 0.05: the Monte Carlo test stays at alpha, the asymptotic one
    # false-alarms almost twice as often (measured 0.09) with 10 images and rare classes
    assert mc / repeats <= alpha + 0.015
    assert asymptotic / repeats >= 0.07


def test_statistic_is_pearsons():
    ref, batch = np.array([200, 12, 13, 12, 13]), np.array([5, 2, 1, 1, 1])
    statistic, p_value, p_asym = mix_p_value(ref, batch, n_resamples=20000, seed=0)
    classic = stats.chi2_contingency(np.vstack([ref, batch]), correction=False)
    assert statistic == pytest.approx(classic.statistic) and p_asym == pytest.approx(classic.pvalue)
    assert 0 < p_value <= 1


def test_a_rise_in_one_class_is_named_with_its_shares():
    classes = ["good", "scratch", "dent"]
    ref = np.repeat([0, 1, 2], [350, 100, 50])
    batch = np.repeat([0, 1, 2], [13, 15, 2])  # scratch 0.20 → 0.50
    result = class_mix_test(ref, batch, classes, alpha=0.05 / 3, seed=0)
    assert result["p_value"] < 0.05 / 3
    assert result["changes"][0] == "more scratch predicted"
    assert result["description"].startswith("more scratch predicted (share 0.20 → 0.50)")
    assert result["batch"]["scratch"] == 0.5 and result["reference"]["scratch"] == 0.2
    same = class_mix_test(ref, np.repeat([0, 1, 2], [21, 6, 3]), classes, alpha=0.05 / 3, seed=0)
    assert same["p_value"] > 0.5 and same["changes"] == [] and same["description"] == ""


def test_one_predicted_class_or_a_fall_in_words():
    assert mix_p_value(np.array([30, 0]), np.array([10, 0]))[1] == 1.0
    result = class_mix_test(np.repeat([0, 1], [50, 50]), np.repeat([0, 1], [20, 0]), ["ok", "defect"], seed=0)
    assert result["p_value"] < 0.001 and "fewer defect predicted" in result["changes"]


def test_combine_takes_any_number_of_p_values():
    assert combine_p_values(0.2, 0.004) == pytest.approx(0.008)
    assert combine_p_values(0.2, 0.004, 0.5) == pytest.approx(0.012)
    assert combine_p_values(0.03) == pytest.approx(0.03)
    assert combine_p_values(0.9, 0.7, 0.4) == 1.0
    with pytest.raises(DatacentricError):
        combine_p_values()
    with pytest.raises(DatacentricError):
        combine_p_values(0.5, 1.5)


def test_three_family_verdict_false_alarm_rate_stays_at_alpha():
    """Same-distribution batches; the families are dependent (labels and pixel stats follow the embeddings)."""
    rng = np.random.default_rng(5)
    alpha, repeats = 0.1, 300

    def draw(n):
        X = rng.normal(size=(n, 6))
        S = X[:, : len(STATISTICS)] + rng.normal(scale=0.5, size=(n, len(STATISTICS)))
        labels = np.digitize(X[:, 0] + rng.normal(scale=0.3, size=n), [0.8, 1.4, 2.0])  # shares ~.76/.14/.06/.03
        return X, S, labels

    X_ref, S_ref, y_ref = draw(200)
    detector = DriftDetector(alpha=alpha, n_permutations=100, seed=0).fit(X_ref)
    pixel = PixelStatsTest(alpha=alpha / 3).fit(S_ref)
    alarms = uncorrected = 0
    for r in range(repeats):
        X, S, y = draw(15)
        p = (
            detector.score(X).p_value,
            pixel.score(S).p_value,
            class_mix_test(y_ref, y, ["a", "b", "c", "d"], alpha=alpha / 3, n_resamples=999, seed=r)["p_value"],
        )
        alarms += combine_p_values(*p) < alpha
        uncorrected += min(p) < alpha
    # se 0.017 at 0.1; without the correction the three families together false-alarm far more often
    assert alarms / repeats <= alpha + 0.03
    assert uncorrected / repeats > alarms / repeats


def test_check_drift_flags_a_class_mix_shift_and_names_the_class(tiny_trained, tmp_path):
    # each image looks like a training image (the red class), but the batch is all red
    write_images(tmp_path / "reds", {"red": COLOURS["red"]}, 12, seed=81)
    result = check_drift(tiny_trained, tmp_path / "reds", n_permutations=200, pixel_stats=False)
    mix = result.class_mix
    assert mix["in_verdict"] and mix["batch"]["red"] == 1.0 and mix["p_value"] < 0.05 / 2
    assert result.drift and result.p_value == min(1.0, 2 * min(result.embedding["p_value"], mix["p_value"]))
    assert result.description.startswith("more red predicted (share 0.33 → 1.00)")
    assert result.changes[0] == "more red predicted"
    html = (tiny_trained.run(result.run_id).dir / "report.html").read_text()
    assert "more red predicted" in html and "alpha/2" in html
    full = check_drift(tiny_trained, tmp_path / "reds", n_permutations=200)  # three families
    assert full.drift and "more red predicted (share 0.33 → 1.00)" in full.description
    assert full.class_mix["alpha"] == pytest.approx(0.05 / 3)
    assert "alpha/3" in (tiny_trained.run(full.run_id).dir / "report.html").read_text()


def test_check_drift_same_distribution_names_no_class(tiny_trained, tmp_path):
    write_images(tmp_path / "new", COLOURS, 5, seed=77)
    result = check_drift(tiny_trained, tmp_path / "new", n_permutations=200)
    assert not result.drift and result.class_mix["p_value"] > 0.05 / 3
    assert result.class_mix["changes"] == [] and "predicted" not in result.description
