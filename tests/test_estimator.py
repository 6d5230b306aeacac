"""Our estimators honour the scikit-learn contract: get/set_params, clone, learned state ends in ``_``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from datacentric.drift import DriftCheck, DriftDetector
from datacentric.drift.pixel_stats import PixelStatsTest
from datacentric.model import ProbeClassifier
from datacentric.model.finetune import FineTuner

ESTIMATORS = [
    (ProbeClassifier(C=0.5, n_classes=3), {"C": 0.5, "n_classes": 3, "max_iter": 2000}),
    (DriftDetector(alpha=0.1, method="ks", seed=4), {"alpha": 0.1, "method": "ks", "seed": 4}),
]


def _fit(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 6))
    return estimator.fit(X, np.arange(30) % 3)


def _learned(estimator) -> set[str]:
    return {name for name in vars(estimator) if name.endswith("_")}


@pytest.mark.parametrize(("estimator", "expected"), ESTIMATORS, ids=["ProbeClassifier", "DriftDetector"])
def test_clone_gives_the_same_settings_and_no_learned_state(estimator, expected):
    assert expected.items() <= estimator.get_params().items()
    fitted = _fit(estimator)
    learned = _learned(fitted)
    assert learned and set(vars(fitted)) - learned == set(fitted.get_params())  # the rest: parameters
    copy = clone(fitted)
    assert type(copy) is type(fitted) and copy is not fitted
    assert copy.get_params() == fitted.get_params() and not _learned(copy)


def test_set_params_changes_settings_and_refuses_unknown_names():
    probe = ProbeClassifier()
    assert probe.set_params(C=2.0, max_iter=10) is probe and probe.get_params()["C"] == 2.0
    assert clone(probe).max_iter == 10
    with pytest.raises(ValueError, match="invalid parameter 'gamma'"):
        probe.set_params(gamma=1.0)


@pytest.mark.parametrize(
    "estimator",
    [
        DriftCheck(alpha=0.01, method="ks", n_permutations=50, seed=3),
        PixelStatsTest(alpha=0.2),
        FineTuner("test_efficientnet@random", n_classes=3, epochs=2, lr=0.01, seed=5),
    ],
    ids=["DriftCheck", "PixelStatsTest", "FineTuner"],
)
def test_every_other_estimator_clones_with_its_settings(estimator):
    copy = clone(estimator)
    assert type(copy) is type(estimator) and copy is not estimator
    assert copy.get_params() == estimator.get_params() and set(copy.get_params()) == set(vars(estimator))
