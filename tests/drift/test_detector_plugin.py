"""A registered drift_detector plugin is the embedding test of DriftCheck (and so of `datacentric drift`)."""

from __future__ import annotations

import numpy as np
import pytest

from datacentric import plugins
from datacentric.drift import DriftCheck, DriftDetector
from datacentric.errors import DatacentricError


class Recording(DriftDetector):
    """The ks test, remembering that it was built and used."""

    made: list[dict] = []

    def __init__(self, *, alpha: float, n_permutations: int, seed: int) -> None:
        Recording.made.append({"alpha": alpha, "n_permutations": n_permutations, "seed": seed})
        super().__init__(alpha=alpha, method="ks", n_permutations=n_permutations, seed=seed)


def test_drift_check_runs_a_registered_detector_as_its_embedding_test():
    rng = np.random.default_rng(0)
    Recording.made.clear()
    with plugins.registered("drift_detector", Recording, name="recording"):
        check = DriftCheck(alpha=0.1, method="recording", n_permutations=50, seed=3).fit(rng.normal(size=(60, 8)))
        score = check.score(rng.normal(loc=3.0, size=(20, 8)))
    assert Recording.made == [{"alpha": 0.1, "n_permutations": 50, "seed": 3}]
    assert isinstance(check.detector_, Recording)
    assert score.embedding.method == "ks" and score.drift


def test_the_built_in_detectors_are_the_registered_ones_and_others_are_refused():
    assert plugins.names("drift_detector") == ["ks", "mmd"]
    X = np.random.default_rng(0).normal(size=(30, 4))
    assert DriftCheck(method="ks", n_permutations=20).fit(X).detector_.method == "ks"
    with pytest.raises(DatacentricError, match="no drift detector 'nope' \\(installed: ks, mmd\\)"):
        DriftCheck(method="nope").fit(X)
