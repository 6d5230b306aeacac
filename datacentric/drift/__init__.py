"""Drift: does a new batch of images still look like the training data?

:class:`DriftDetector` is the estimator (``fit(reference)`` then ``score(batch)``) on plain
embedding arrays; :class:`PixelStatsTest` tests per-image pixel statistics (brightness,
contrast, sharpness, saturation, colour cast; :func:`image_statistics`) and says what
changed in words; :func:`check_drift` combines both (Bonferroni, each at alpha / 2) for a
project and a folder of new images, and stores the check (a "drift" run with ``drift.json`` and ``report.html``, plus a row in
the store's ``drift_checks`` table).
"""

from datacentric.drift._check import DriftResult, check_drift
from datacentric.drift._detector import METHODS, DriftDetector, DriftScore, mmd_permutation_test
from datacentric.drift._stats import STATISTICS, PixelStatsTest, StatsScore, combine_p_values, image_statistics

__all__ = [
    "METHODS", "STATISTICS", "DriftDetector", "DriftResult", "DriftScore", "PixelStatsTest", "StatsScore",
    "check_drift", "combine_p_values", "image_statistics", "mmd_permutation_test",
]
