"""The before-review estimate of real errors among flags (benchmarks/flag_trust.py), on generated
probabilities where the true posterior and the flipped labels are known."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.flag_trust import flag_trust


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
    trust, per_flag = flag_trust(y, probs, flags)
    real = int((flags & wrong).sum())
    assert trust.flags == flags.sum() == len(per_flag)
    assert trust.expected == pytest.approx(per_flag.sum())
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
    _, per_flag = flag_trust(y, probs, flags)
    hit = wrong[flags]
    assert per_flag[hit].mean() > per_flag[~hit].mean()


def test_no_flags_or_one_class():
    y, probs, _, _ = _world(50, 0.1)
    trust, per_flag = flag_trust(y, probs, np.zeros(50, dtype=bool))
    assert (trust.flags, trust.expected, len(per_flag)) == (0, 0.0, 0) and trust.precision != trust.precision
    trust, _ = flag_trust(np.zeros(50, dtype=np.int64), probs, np.ones(50, dtype=bool))
    assert trust.expected == 0.0
