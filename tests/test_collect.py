"""One estimate of how many images to collect, from one place, with its range (#14 item 10)."""

from __future__ import annotations

import re

import numpy as np

from datacentric.audit import audit_arrays
from datacentric.collect import estimate_more
from datacentric.improve.lift import LearningCurve
from datacentric.improve.workflow import _advice


def test_the_estimate_has_a_range_that_widens_with_noise():
    steady = estimate_more("pit", [5, 10, 15, 20], [0.40, 0.50, 0.56, 0.60])
    noisy = estimate_more("pit", [5, 10, 15, 20], [0.40, 0.50, 0.56, 0.60], recall_std=[0.1] * 4)
    assert steady.more == noisy.more == 60
    assert noisy.low < steady.low <= steady.more <= steady.high and noisy.high is None
    assert "likely 59–61" in steady.text and "to over 140" in noisy.text


def test_improve_advice_quotes_the_shared_estimate():
    counts, recall = [5, 10, 15, 20], [0.40, 0.50, 0.56, 0.60]
    b, a = np.polyfit(np.log2(counts), recall, 1)
    curve = LearningCurve("pit", counts, recall, [0.0] * 4, float(a), float(b))
    advice = _advice(["pit"], {}, [], {"pit": curve}, {"pit": 20})
    assert estimate_more("pit", counts, recall, recall_std=[0.0] * 4).text in advice


def test_the_audit_gives_no_competing_number_for_a_weak_class():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    probs = np.full((80, 2), 0.5)
    probs[:40, 0] = 0.9
    probs[40:, 1] = rng.choice([0.3, 0.7], 40)  # the defect class is weak
    probs /= probs.sum(1, keepdims=True)
    result = audit_arrays(labels, probs, ["ok", "defect"], project="parts/")
    step = next(s for s in result.next_steps if "Collect more defect images" in s)
    assert not re.search(r"~\d+", step) and "datacentric improve parts/ --class defect" in step
