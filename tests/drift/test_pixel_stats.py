"""PixelStatsTest and image_statistics on tiny generated images and arrays: calibration, power, words."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from datacentric.drift import STATISTICS, PixelStatsTest, image_statistics
from datacentric.drift.pixel_stats import holm
from datacentric.errors import DatacentricError


def scenes(rng, n, *, size=48, exposure=1.0, blur=0.0, cast=(1.0, 1.0, 1.0)):
    """Random rectangles on a random background, through a tiny camera (exposure, blur, cast, noise)."""
    out = []
    for _ in range(n):
        img = np.empty((size, size, 3))
        img[:] = rng.uniform(60, 200, 3)
        for _ in range(rng.integers(3, 7)):
            y, x = rng.integers(0, size - 8, 2)
            h, w = rng.integers(4, size // 2, 2)
            img[y : y + h, x : x + w] = rng.uniform(20, 240, 3)
        pil = Image.fromarray(img.astype(np.uint8))
        if blur:
            pil = pil.filter(ImageFilter.GaussianBlur(blur))
        img = np.asarray(pil, float) * exposure * np.array(cast) + rng.normal(0, 3, (size, size, 3))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def test_statistics_move_the_way_their_names_say(rng):
    base = scenes(np.random.default_rng(1), 20)
    S = image_statistics(base, size=48)
    assert S.shape == (20, len(STATISTICS))
    dark = image_statistics(scenes(np.random.default_rng(1), 20, exposure=0.5), size=48)
    blurry = image_statistics(scenes(np.random.default_rng(1), 20, blur=2.0), size=48)
    warm = image_statistics(scenes(np.random.default_rng(1), 20, cast=(1.15, 1.0, 0.8)), size=48)
    col = {name: j for j, name in enumerate(STATISTICS)}
    assert np.all(dark[:, col["brightness"]] < 0.6 * S[:, col["brightness"]])
    # relative contrast is (nearly) blind to exposure: a lighting change reads as one word
    assert np.allclose(dark[:, col["contrast"]], S[:, col["contrast"]], rtol=0.1)
    assert np.all(blurry[:, col["sharpness"]] < S[:, col["sharpness"]])
    assert np.all(warm[:, col["red_green"]] > S[:, col["red_green"]])
    assert np.all(warm[:, col["blue_green"]] < S[:, col["blue_green"]])


def test_false_alarm_rate_near_alpha_on_same_distribution():
    rng = np.random.default_rng(7)
    ref = image_statistics(scenes(rng, 60, size=32), size=32)
    pool = image_statistics(scenes(rng, 400, size=32), size=32)
    repeats, alarms, alpha = 300, 0, 0.1
    tester = PixelStatsTest(alpha=alpha).fit(ref)
    for _ in range(repeats):
        alarms += tester.score(pool[rng.choice(len(pool), 15, replace=False)]).p_value < alpha
    # Holm over 6 correlated statistics is conservative; never above alpha beyond noise (se 0.017)
    assert alarms / repeats <= alpha + 0.04


def test_lighting_and_blur_detected_and_described():
    rng = np.random.default_rng(3)
    tester = PixelStatsTest(alpha=0.025).fit(image_statistics(scenes(rng, 60), size=48))
    dark = tester.score(image_statistics(scenes(rng, 10, exposure=0.5), size=48))
    assert dark.p_value < 0.001 and dark.changes[0] == "darker"
    assert (
        dark.description.startswith("darker (brightness ") and "lower than 100% of training images" in dark.description
    )
    blurry = tester.score(image_statistics(scenes(rng, 15, blur=2.0), size=48))
    assert blurry.p_value < 0.01 and blurry.changes[0] == "less sharp" and "darker" not in blurry.changes
    same = tester.score(image_statistics(scenes(rng, 10), size=48))
    assert same.p_value > 0.025 and same.changes == [] and same.description == ""


def test_holm_adjusts_step_down_and_keeps_order():
    assert np.allclose(holm(np.array([0.01, 0.04, 0.03, 0.5])), [0.04, 0.09, 0.09, 0.5])


def test_paths_pil_and_arrays_give_the_same_statistics(tmp_path):
    image = scenes(np.random.default_rng(5), 1, size=40)[0]
    path = tmp_path / "a.png"
    Image.fromarray(image).save(path)
    a, b, c = (image_statistics([x], size=40) for x in (path, Image.fromarray(image), image))
    assert np.allclose(a, b) and np.allclose(a, c)


def test_bad_input_is_a_clear_error():
    with pytest.raises(DatacentricError, match="at least 5"):
        PixelStatsTest().fit(np.zeros((3, len(STATISTICS))))
    tester = PixelStatsTest().fit(np.random.default_rng(0).normal(size=(10, len(STATISTICS))))
    with pytest.raises(DatacentricError, match="shape"):
        tester.score(np.zeros((4, 3)))
    with pytest.raises(DatacentricError, match="not fitted"):
        PixelStatsTest().score(np.zeros((4, len(STATISTICS))))
