"""The expected number of real errors among flags (datacentric.audit.trust), on generated
probabilities where the true posterior and the flipped labels are known."""

from __future__ import annotations

import numpy as np
import pytest

from datacentric.audit.trust import flag_trust


def _world(n: int, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(given labels, probs, flags, wrong): probs are the true posterior of 2 classes, a share
    ``rate`` of labels is flipped, the flags are the 15% least confident given labels."""
    rng = np.random.default_rng(seed)
    p1 = 1 / (1 + np.exp(-rng.normal(0, 3, n)))
    probs = np.c_[1 - p1, p1]
    truth = (rng.random(n) < p1).astype(np.int64)
    wrong = rng.random(n) < rate
    y = np.where(wrong, 1 - truth, truth)
    confidence = probs[np.arange(n), y]
    flags = confidence <= np.quantile(confidence, 0.15)
    return y, probs, flags, wrong


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_expected_precision_matches_the_flipped_share_of_flags(rate):
    y, probs, flags, wrong = _world(1500, rate)
    trust, chance = flag_trust(y, probs, flags)
    real = int((flags & wrong).sum())
    assert trust.flags == flags.sum() and len(chance) == len(y)
    assert trust.expected == pytest.approx(chance[flags].sum())
    assert abs(trust.precision - real / trust.flags) <= 0.1
    assert trust.low <= real <= trust.high
    assert trust.noise_low <= rate <= trust.noise_high


def test_clean_labels_give_a_low_noise_rate():
    y, probs, flags, _ = _world(1500, 0.0)
    trust, _ = flag_trust(y, probs, flags)
    assert trust.noise_rate < 0.05
    assert trust.precision < 0.2


def test_flipped_flags_are_likelier_wrong_than_the_rest():
    y, probs, flags, wrong = _world(1500, 0.2)
    _, chance = flag_trust(y, probs, flags)
    assert chance[flags & wrong].mean() > chance[flags & ~wrong].mean()
    assert chance[wrong].mean() > chance[~wrong].mean()


def test_no_flags_or_one_class():
    y, probs, _, _ = _world(50, 0.1)
    trust, chance = flag_trust(y, probs, np.zeros(50, dtype=bool))
    assert (trust.flags, trust.expected, trust.low, trust.high) == (0, 0.0, 0, 0)
    assert trust.precision != trust.precision and np.isfinite(chance).all() and len(chance) == 50
    trust, chance = flag_trust(np.zeros(50, dtype=np.int64), probs, np.ones(50, dtype=bool))
    assert trust.flags == 50 and trust.expected != trust.expected and np.isnan(chance).all()


def _worst_first_reviews(y, probs, flags, wrong, chance, k):
    """The k flags with the highest chance, settled: (their chance, were they real)."""
    order = np.flatnonzero(flags)[np.argsort(-chance[flags])][:k]
    return [(float(chance[i]), bool(wrong[i])) for i in order]


def test_reviews_that_find_fewer_errors_than_expected_lower_the_estimate():
    y, probs, flags, wrong = _world(600, 0.1)
    before, chance = flag_trust(y, probs, flags)
    none_real = [(c, False) for c, _ in _worst_first_reviews(y, probs, flags, wrong, chance, 10)]
    after, later = flag_trust(y, probs, flags, reviews=none_real)
    assert after.expected < before.expected and after.review_shift < 0
    assert (after.reviews, after.reviews_real) == (10, 0)
    assert (later < chance).all()
    all_real = [(c, True) for c, _ in none_real]
    assert flag_trust(y, probs, flags, reviews=all_real)[0].expected > before.expected


def test_worst_first_reviews_that_match_their_chances_barely_move_it():
    """Reviewing the likeliest flags first finds more errors than the average flag holds; each
    outcome is weighed against its own chance, so that selection alone does not raise the estimate."""
    y, probs, flags, wrong = _world(1500, 0.2, seed=3)
    before, chance = flag_trust(y, probs, flags)
    reviews = _worst_first_reviews(y, probs, flags, wrong, chance, 20)
    share = np.mean([real for _, real in reviews])
    assert share > before.precision + 0.1  # the worst flags are real more often than the rest
    after, _ = flag_trust(y, probs, flags, reviews=reviews)
    assert abs(after.precision - before.precision) < abs(share - before.precision) / 2


def test_reviews_without_a_chance_are_left_out():
    y, probs, flags, _ = _world(200, 0.1)
    trust, _ = flag_trust(y, probs, flags, reviews=[(float("nan"), True)] * 5)
    assert trust.review_shift == 0.0


def test_an_overconfident_model_is_recalibrated_before_it_is_believed():
    """Probabilities three times too sure make every disagreement look like a wrong label;
    the fitted temperature brings the forecast back near the truth."""
    y, probs, flags, wrong = _world(1500, 0.1, seed=5)
    sure = probs**3 / (probs**3).sum(axis=1, keepdims=True)
    trust, _ = flag_trust(y, sure, flags)
    real = int((flags & wrong).sum())
    assert abs(trust.precision - real / trust.flags) <= 0.15
    naive = 1 - sure[flags, y[flags]]  # the model's own word, uncalibrated
    assert abs(naive.mean() - real / trust.flags) > abs(trust.precision - real / trust.flags)


def test_a_set_larger_than_the_fit_sample_scores_every_image():
    y, probs, flags, wrong = _world(3000, 0.1, seed=8)
    sampled, chance = flag_trust(y, probs, flags, max_fit=1000)
    whole, _ = flag_trust(y, probs, flags, max_fit=3000)
    real = int((flags & wrong).sum())
    assert len(chance) == 3000 and np.isfinite(chance).all()
    assert sampled.low <= real <= sampled.high and sampled.noise_low <= 0.1 <= sampled.noise_high
    assert abs(sampled.precision - whole.precision) <= 0.05  # the sample calibrates like the whole set


def test_reviews_whose_chance_is_not_a_probability_are_not_counted():
    y, probs, flags, _ = _world(200, 0.1)
    odd = [(float("nan"), True), (7.0, True), (-1.0, False), (float("inf"), True), (0.5, True)]
    trust, _ = flag_trust(y, probs, flags, reviews=odd)
    assert (trust.reviews, trust.reviews_real) == (1, 1) and trust.review_shift > 0


@pytest.mark.parametrize(
    ("expected", "flags", "low", "high", "words"),
    [
        (7.6, 16, 4, 11, "expect about 8 of them to be real errors (90% range 4–11), the others being"),
        (0.3, 4, 0, 1, "expect at most 1 of them to be real errors (90% range 0–1)"),
        (0.02, 4, 0, 0, "expect none of them to be real errors (90% range 0–0)"),
        (3.9, 4, 3, 4, "expect about 4 of them to be real errors (90% range 3–4)"),
        (0.62, 1, 0, 1, "the chance that it is a real error is 62%"),
    ],
)
def test_the_forecast_in_words(expected, flags, low, high, words):
    from datacentric.audit.trust import FlagTrust, expected_words

    nan = float("nan")
    trust = FlagTrust(flags, expected, low, high, expected / flags, nan, nan, nan)
    said = expected_words(trust)
    assert said.startswith(words)
    assert ("the others" in said) == (0 < round(expected) < flags and flags > 1)


def test_a_large_set_looks_closer_than_the_coarse_grid():
    """With 20,000 images the noise rate's posterior is narrower than the 0.01 grid: finer rates
    are fitted around the best one, so the rate is not pinned to a grid point beside the truth."""
    y, probs, flags, _ = _world(20000, 0.1, seed=2)
    trust, _ = flag_trust(y, probs, flags)
    assert trust.noise_low <= 0.1 <= trust.noise_high  # the coarse grid alone gave 0.105-0.115
    coarse = set(np.round(np.arange(0.005, 0.5, 0.01), 3))
    assert not {round(trust.noise_low, 3), round(trust.noise_high, 3)} & coarse  # both ends finer


def test_caller_rates_are_sorted_and_deduplicated_and_must_be_noise_rates():
    y, probs, flags, _ = _world(300, 0.1)
    once, _ = flag_trust(y, probs, flags, rates=[0.1])
    assert flag_trust(y, probs, flags, rates=[0.1, 0.1])[0].expected == pytest.approx(once.expected)
    shuffled, chance = flag_trust(y, probs, flags, rates=[0.3, 0.1, 0.2])
    ordered, _ = flag_trust(y, probs, flags, rates=[0.1, 0.2, 0.3])
    assert shuffled.expected == pytest.approx(ordered.expected) and ((chance >= 0) & (chance <= 1)).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        flag_trust(y, probs, flags, rates=[0.0, 0.1])
