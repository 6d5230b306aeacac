"""Holm's correction, the one used by the audit's slices and drift's pixel statistics."""

from __future__ import annotations

import numpy as np

from datacentric.stats import holm


def test_holm_adjusts_step_down_keeps_the_input_order_and_caps_at_one():
    assert np.allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert np.allclose(holm([0.5, 0.001, 0.4, 0.2]), [0.8, 0.004, 0.8, 0.6])
    assert np.allclose(holm([0.6, 0.7]), [1.0, 1.0])
    assert holm([]).shape == (0,)


def test_audit_and_drift_correct_with_the_same_function():
    from datacentric.audit import slices
    from datacentric.drift import pixel_stats

    assert slices.holm is holm and pixel_stats.holm is holm
