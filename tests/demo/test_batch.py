"""generate_batch: determinism and shifts that move the pixels the way they claim to."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from datacentric.demo import SHIFTS, generate_batch
from datacentric.errors import DatacentricError

N = 12


def _pixels(paths):
    return np.stack([np.asarray(Image.open(p), dtype=np.float64) / 255 for p in paths])


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    root = tmp_path_factory.mktemp("batches")
    return {s: generate_batch(root / s, N, seed=5, shift=s, image_size=48) for s in SHIFTS}


def test_batches_are_deterministic_and_write_only_their_images(batches, tmp_path):
    again = generate_batch(tmp_path / "again", N, seed=5, shift="unseen_defect", image_size=48)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in batches["unseen_defect"]]
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == [f"img_{i:04d}.png" for i in range(N)]
    other = generate_batch(tmp_path / "other", N, seed=6, shift="unseen_defect", image_size=48)
    assert [p.read_bytes() for p in other] != [p.read_bytes() for p in again]


def test_every_shift_changes_the_images(batches):
    base = _pixels(batches["none"])
    for shift in SHIFTS[1:]:
        assert len(batches[shift]) == N
        assert np.abs(_pixels(batches[shift]) - base).mean() > 0.005, shift


def test_lighting_darkens(batches):
    assert _pixels(batches["lighting"]).mean() < 0.7 * _pixels(batches["none"]).mean()


def test_blur_removes_fine_detail(batches):
    def detail(images):  # band-pass energy: texture and edges, not sensor noise
        grey = images.mean(axis=-1)
        return np.mean([(ndimage.gaussian_filter(g, 1) - ndimage.gaussian_filter(g, 3)).var() for g in grey])

    blurred, sharp = _pixels(batches["blur"]), _pixels(batches["none"])
    assert detail(blurred) < 0.6 * detail(sharp)
    assert abs(blurred.mean() - sharp.mean()) < 0.01  # same parts, same light


def test_new_camera_casts_warm(batches):
    def warmth(images):
        return images[..., 0].mean() / images[..., 2].mean()

    assert warmth(_pixels(batches["new_camera"])) > 1.1 * warmth(_pixels(batches["none"]))


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(DatacentricError, match="unknown shift"):
        generate_batch(tmp_path, 3, shift="fog")
    with pytest.raises(DatacentricError, match="at least 1"):
        generate_batch(tmp_path, 0)
