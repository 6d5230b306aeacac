"""An interpretable drift test on cheap per-image pixel statistics.

The embedding test (:class:`~datacentric.drift.DriftDetector`) answers "do the new images
look different to the model?" but not *how*. This test answers how, in the words people
use for camera and lighting problems: darker, lower contrast, blurrier, colour-shifted.

The statistics (one number each per image, on the image resized to ``size`` x ``size``)
------------------------------------------------------------------------------------
``brightness``  mean luminance (Rec. 601, 0-255).
``contrast``    RMS contrast: std of luminance / mean luminance.
``sharpness``   variance of the 4-neighbour Laplacian of luminance / variance of luminance,
                at half resolution (2x2 averages): the share of the image's variation that is
                fine detail. At full resolution sensor noise dominates the Laplacian and a
                focus loss on the demo was not detectable at n = 30 (p = 0.09; half: 0.0008).
``saturation``  mean HSV saturation (0-100 %).
``red_green``   mean chromaticity r - g (x100; r = R / (R + G + B)).
``blue_green``  mean chromaticity b - g (x100).
Contrast, sharpness and colour are *relative* (divided by the brightness or the overall
variation) so that each change reads as one word: halving the light makes images
darker, not "darker, lower contrast, less sharp, less red" (with absolute std and
Laplacian variance all of these would move together).

The test
--------
Each statistic: a two-sided Mann-Whitney U test, batch vs reference (a rank test:
no distribution assumed, and most powerful for the "shifted up or down" changes these
words describe; KS would also catch pure spread changes but with less power on shifts).
The six p-values are Holm-corrected; the family's p-value is the smallest corrected
p-value (equal to Bonferroni's ``6 * min p``), so with no change P(p <= alpha) <= alpha
whatever the correlation between statistics (brightness and saturation are correlated).
A statistic is reported as changed when its Holm-corrected p-value is below ``alpha``.

How :func:`check_drift` combines it with the other tests
-------------------------------------------------------
``p = min(1, m * min(p_embedding, p_stats, p_class_mix))`` (:func:`combine_p_values`):
Bonferroni over the m families run (embedding test, these pixel statistics, the predicted
class mix of :mod:`datacentric.drift.class_mix`; m = 3 by default), i.e. each family tested at
alpha / m. Bonferroni is valid under any dependence, and the tests are strongly dependent
(a lighting change moves both the embeddings and the pixel statistics), so Fisher's or
Stouffer's combination (which assume independence) would raise the false-alarm rate above
alpha. The price: each test alone runs at alpha / m instead of alpha (a little less power
for a change that only one family sees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy import stats

from datacentric.errors import DatacentricError
from datacentric.estimator import Params
from datacentric.stats import holm

__all__ = ["STATISTICS", "PixelStatsTest", "StatsScore", "combine_p_values", "image_statistics"]

STATISTICS = ("brightness", "contrast", "sharpness", "saturation", "red_green", "blue_green")
# how each statistic's rise / fall reads in words
_WORDS = {
    "brightness": ("brighter", "darker"),
    "contrast": ("higher contrast", "lower contrast"),
    "sharpness": ("sharper or noisier", "less sharp"),
    "saturation": ("more colourful", "less colourful"),
    "red_green": ("redder", "greener"),
    "blue_green": ("bluer", "yellower"),
}
_FORMAT = {
    "brightness": ".0f",
    "contrast": ".2f",
    "sharpness": ".3g",
    "saturation": ".0f",
    "red_green": ".1f",
    "blue_green": ".1f",
}


def image_statistics(images: Iterable, *, size: int = 128) -> np.ndarray:
    """Per-image pixel statistics, one row per image and one column per name in ``STATISTICS``.

    Parameters
    ----------
    images : iterable of paths, PIL images or (H, W, 3) uint8 arrays
        Paths are read with :func:`datacentric.data.images.load_image` (orientation, modes).
    size : int, default 128
        Images are resized to ``size`` x ``size`` first, so sharpness does not depend on
        the resolution of the files.

    Returns
    -------
    array (N, 6) float64
    """
    from PIL import Image

    from datacentric.data.images import load_image

    rows = []
    for image in images:
        if isinstance(image, (str, Path)):
            image = load_image(image)
        if isinstance(image, np.ndarray):
            image = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
        image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.BILINEAR)
        rows.append(_statistics(np.asarray(image, dtype=np.float64)))
    if not rows:
        return np.zeros((0, len(STATISTICS)))
    return np.vstack(rows)


def _statistics(rgb: np.ndarray) -> np.ndarray:
    R, G, B = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * R + 0.587 * G + 0.114 * B
    brightness = float(lum.mean())
    variance = float(lum.var())
    contrast = np.sqrt(variance) / max(brightness, 1.0)
    h, w = (lum.shape[0] // 2) * 2, (lum.shape[1] // 2) * 2
    half = lum[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # 2x2 average: cancels sensor noise
    lap = 4 * half[1:-1, 1:-1] - half[:-2, 1:-1] - half[2:, 1:-1] - half[1:-1, :-2] - half[1:-1, 2:]
    sharpness = float(lap.var()) / max(float(half.var()), 1.0)
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    saturation = 100.0 * float(np.mean(np.where(high > 0, (high - low) / np.maximum(high, 1e-9), 0.0)))
    total = np.maximum(R + G + B, 1.0)
    red_green = 100.0 * float(np.mean((R - G) / total))
    blue_green = 100.0 * float(np.mean((B - G) / total))
    return np.array([brightness, contrast, sharpness, saturation, red_green, blue_green])


@dataclass
class StatsScore:
    """The answer of :meth:`PixelStatsTest.score` for one batch."""

    p_value: float  # family p-value: smallest Holm-corrected p-value
    n: int
    alpha: float
    statistics: list[dict] = field(default_factory=list)  # per statistic, see PixelStatsTest.score
    changes: list[str] = field(default_factory=list)  # words for the changed statistics, strongest first
    description: str = ""  # e.g. "darker (brightness 100 → 51, lower than 97% of training images), less sharp"


class PixelStatsTest(Params):
    """Mann-Whitney tests of per-image pixel statistics, batch vs reference, Holm-corrected.

    Parameters
    ----------
    alpha : float, default 0.05
        A statistic counts as changed when its Holm-corrected p-value is below alpha.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal([100, 0.3, 0.5, 40, 0, 0], [10, 0.05, 0.1, 5, 1, 1], size=(100, 6))
    >>> batch = rng.normal([50, 0.3, 0.5, 40, 0, 0], [10, 0.05, 0.1, 5, 1, 1], size=(20, 6))
    >>> PixelStatsTest().fit(ref).score(batch).changes
    ['darker']
    """

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def fit(self, S: np.ndarray, y: object = None) -> "PixelStatsTest":
        """Store the reference statistics S (N_ref, 6) from :func:`image_statistics`."""
        S = _as_stats(S, "reference")
        if len(S) < 5:
            raise DatacentricError(f"the reference needs at least 5 images, got {len(S)}")
        self.reference_ = S
        return self

    def score(self, S: np.ndarray) -> StatsScore:
        """Test batch statistics S (M, 6) against the reference.

        Each entry of ``statistics``: name, reference and batch medians and quantiles
        (``reference_quantiles``, ``batch_quantiles`` at :data:`QUANTILES`), ``percentile``
        (share of reference images below the batch median), ``p_value`` (raw),
        ``p_adjusted`` (Holm), ``changed`` and ``word`` (e.g. "darker", "" if unchanged).
        """
        if not hasattr(self, "reference_"):
            raise DatacentricError("this PixelStatsTest is not fitted yet: call fit(reference) first")
        S = _as_stats(S, "batch")
        if len(S) < 2:
            raise DatacentricError(f"a drift test needs at least 2 images, got {len(S)}")
        R = self.reference_
        raw = np.array([_mann_whitney(R[:, j], S[:, j]) for j in range(S.shape[1])])
        adjusted = holm(raw)
        entries = []
        for j, name in enumerate(STATISTICS):
            ref_median, batch_median = float(np.median(R[:, j])), float(np.median(S[:, j]))
            up = batch_median > ref_median
            changed = bool(adjusted[j] < self.alpha) and batch_median != ref_median
            entries.append(
                {
                    "name": name,
                    "reference": round(ref_median, 4),
                    "batch": round(batch_median, 4),
                    "percentile": round(float(np.mean(R[:, j] < batch_median)), 4),
                    "reference_quantiles": _quantiles(R[:, j]),
                    "batch_quantiles": _quantiles(S[:, j]),
                    "p_value": float(raw[j]),
                    "p_adjusted": float(adjusted[j]),
                    "changed": changed,
                    "word": _WORDS[name][0 if up else 1] if changed else "",
                }
            )
        strongest = sorted((e for e in entries if e["changed"]), key=lambda e: (e["p_adjusted"], e["p_value"]))
        return StatsScore(
            p_value=float(adjusted.min()),
            n=len(S),
            alpha=float(self.alpha),
            statistics=entries,
            changes=[e["word"] for e in strongest],
            description=describe(strongest),
        )


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)  # what the report draws: whiskers, box and median


def _quantiles(values: np.ndarray) -> list[float]:
    return [round(float(q), 4) for q in np.quantile(values, QUANTILES)]


def describe(changed: list[dict], limit: int = 3) -> str:
    """Words for the first ``limit`` changed statistics, the first with its numbers.

    E.g. "darker (brightness 100 → 51, lower than 97% of training images), less sharp".
    """
    if not changed:
        return ""
    first = changed[0]
    fmt = _FORMAT[first["name"]]
    up = first["batch"] > first["reference"]
    share = first["percentile"] if up else 1.0 - first["percentile"]
    detail = (
        f"{first['name'].replace('_', '-')} {first['reference']:{fmt}} → {first['batch']:{fmt}}, "
        f"{'higher' if up else 'lower'} than {share:.0%} of training images"
    )
    return ", ".join([f"{first['word']} ({detail})"] + [e["word"] for e in changed[1:limit]])


def combine_p_values(*p_values: float) -> float:
    """Bonferroni over the test families run: ``min(1, m * min(p_1, ..., p_m))``.

    E.g. ``combine_p_values(p_embedding, p_stats, p_class_mix)``; each family is then judged
    at alpha / m and the verdict's false-alarm rate stays at most alpha under any
    dependence between the families. One p-value is returned unchanged (m = 1).
    """
    if not p_values:
        raise DatacentricError("combine_p_values needs at least one p-value")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise DatacentricError(f"p-values must be numbers in [0, 1], got {list(p_values)}")
    return float(min(1.0, len(p) * p.min()))


def _mann_whitney(reference: np.ndarray, batch: np.ndarray) -> float:
    if np.ptp(np.concatenate([reference, batch])) == 0:
        return 1.0  # constant statistic (e.g. flat grey test images): no evidence either way
    return float(stats.mannwhitneyu(batch, reference, alternative="two-sided").pvalue)


def _as_stats(S: np.ndarray, what: str) -> np.ndarray:
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[1] != len(STATISTICS):
        raise DatacentricError(f"{what} statistics must have shape (images, {len(STATISTICS)}), got {S.shape}")
    if not np.all(np.isfinite(S)):
        raise DatacentricError(f"{what} statistics contain NaN or infinite values")
    return S
