"""Drift: does a new batch of images still look like the training data?

:class:`DriftCheck` is the whole check of ``datacentric drift`` on your own arrays or image
files (embeddings, pixel statistics and predicted classes, as many as you give);
:class:`DriftDetector` is its embedding test alone (``fit(reference)`` then ``score(batch)``
on plain embedding arrays), which misses changes the pixel statistics see (lighting);
:class:`PixelStatsTest` tests per-image pixel statistics (brightness, contrast, sharpness,
saturation, colour cast; :func:`image_statistics`) and says what changed in words;
:func:`class_mix_test` tests the model's predicted class mix (chi-square
with a Monte Carlo p-value, valid for small batches; "more scratch predicted"), the test
that sees a rise in the defect rate. :func:`check_drift` combines the three families for a
project and a folder of new images (Bonferroni over the m families run, each at alpha / m:
:func:`combine_p_values`), and stores the check (a "drift" run with ``drift.json`` and
``report.html``, plus a row in the store's ``drift_checks`` table).
"""

from collections.abc import Callable

from datacentric.drift.check import DriftCheck, DriftCheckScore
from datacentric.drift.class_mix import class_mix_test
from datacentric.drift.detector import METHODS, DriftDetector, DriftScore
from datacentric.drift.from_project import check_drift
from datacentric.drift.pixel_stats import (
    STATISTICS,
    PixelStatsTest,
    StatsScore,
    combine_p_values,
    image_statistics,
)
from datacentric.drift.result import DriftResult
from datacentric.drift.two_sample import mmd_permutation_test


def register_drift_detectors(register: Callable[..., None]) -> None:
    """Built-in drift detectors: the embedding tests ``DriftCheck(method=...)`` can run (mmd, ks)."""
    from functools import partial

    register(partial(DriftDetector, method="mmd"), name="mmd")
    register(partial(DriftDetector, method="ks"), name="ks")


__all__ = [
    "METHODS",
    "STATISTICS",
    "DriftCheck",
    "DriftCheckScore",
    "DriftDetector",
    "DriftResult",
    "DriftScore",
    "PixelStatsTest",
    "StatsScore",
    "check_drift",
    "class_mix_test",
    "combine_p_values",
    "image_statistics",
    "mmd_permutation_test",
]
