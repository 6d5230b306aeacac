"""DriftCheck: the Python API runs every test family the CLI runs (#14 item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from datacentric.drift import DriftCheck, DriftDetector, combine_p_values, image_statistics
from datacentric.errors import DatacentricError
from tests.support.factories import write_image


def _pictures(rng, n, scale=1.0):
    return [(rng.integers(80, 180, size=(16, 16, 3)) * scale).astype(np.uint8) for _ in range(n)]


def test_a_darkened_batch_the_embedding_test_misses_is_caught(tmp_path):
    rng = np.random.default_rng(0)
    ref_x, batch_x = rng.normal(size=(40, 8)), rng.normal(size=(15, 8))  # embeddings: no change
    ref_images, dark = _pictures(rng, 40), _pictures(rng, 15, scale=0.5)
    paths = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(6)]
    assert not DriftDetector(n_permutations=200).fit(ref_x).score(batch_x).drift

    check = DriftCheck(n_permutations=200).fit(ref_x, images=ref_images)
    score = check.score(batch_x, images=dark)
    assert score.drift and score.changes[0] == "darker" and "brightness" in score.description
    assert score.p_value == combine_p_values(*score.p_values.values())
    assert set(score.p_values) == {"embedding", "pixel_stats"}
    assert DriftCheck().fit(images=paths).score(images=paths).drift is False


def test_the_class_mix_family_names_the_class():
    rng = np.random.default_rng(1)
    reference = rng.choice(3, size=200, p=[0.8, 0.1, 0.1])
    batch = rng.choice(3, size=40, p=[0.3, 0.6, 0.1])
    check = DriftCheck().fit(predicted=reference, classes=["ok", "scratch", "pit"])
    score = check.score(predicted=np.eye(3)[batch])  # probabilities work too
    assert score.drift and "more scratch predicted" in score.changes


def test_score_needs_the_evidence_fit_had():
    check = DriftCheck().fit(statistics=image_statistics(_pictures(np.random.default_rng(2), 10)))
    with pytest.raises(DatacentricError, match="pixel_stats missing"):
        check.score(np.zeros((5, 4)))
    with pytest.raises(DatacentricError, match="needs embeddings X"):
        DriftCheck().fit()
