"""Synthetic images for a failing class, and the built-in copy-paste generator.

A generator (subclass :class:`Generator`) turns real images into new images of
a target class: ``generate(target, defects, backgrounds, n, seed=...)`` where
``defects`` are real images of the target class and ``backgrounds`` real images
of the defect-free class (e.g. ``ok``). Each result names its parent images by
index, so callers can tag it and keep it out of validation folds.

Generators are plugins: this module's :func:`register_generators` hook adds
the built-in ones; outside packages add theirs through the
``datacentric.generators`` entry point (see :mod:`datacentric.plugins`).

Copy-paste, and how the defect region is found without masks
-------------------------------------------------------------
A defect is what differs from the part's own surface around it. For a donor
image of the target class we estimate that surface with a per-channel median
filter about a quarter of the image wide (:func:`find_defect_region`): a pit,
scratch, dent or stain smaller than the window is removed by the median, so
``|image - background|`` (summed over channels, lightly smoothed) is large
on the defect and small on the texture. Pixels above ``mean + k·std`` of that
map form candidate regions; the connected region with the largest total
deviation is the defect. Its soft mask (the deviation, feathered) is the
alpha. Pasting transfers the *difference* ``donor - donor_background`` inside
the region onto an ok image at a random place, in a random one of the 8
flips/quarter turns: the new image keeps the ok image's brightness and texture
and gains the donor's defect, without hard seams.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

__all__ = [
    "CopyPaste",
    "DefectRegion",
    "Generator",
    "Synthetic",
    "find_defect_region",
    "get_generator",
    "register_generators",
]


@dataclass(frozen=True)
class Synthetic:
    """One generated image of the target class."""

    image: np.ndarray  # (H, W, 3) uint8
    defect: int | None  # index into ``defects`` of the donor image, if one was used
    background: int | None  # index into ``backgrounds`` of the base image, if one was used
    params: dict  # JSON-able: everything needed to explain (and redo) this image


class Generator:
    """Base class for synthetic-data generators.

    Subclasses set :attr:`name` (the registry name), store keyword options in
    ``__init__`` (scikit-learn style), and implement :meth:`generate`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_defects: ClassVar[bool] = True  # needs real images of the target class
    needs_backgrounds: ClassVar[bool] = True  # needs real defect-free images
    kinds: ClassVar[tuple[str, ...]] = ()  # the defect types it draws; empty: any class

    def supports(self, target: str) -> bool:
        """Whether this generator can make images of class (or defect type) ``target``."""
        return not self.kinds or target.lower() in self.kinds

    def cannot_make(self, target: str, kind: str | None = None, *, per_class: bool = True) -> str:
        """Why it makes no images of class ``target`` (drawn as ``kind``), with the way out:
        ``--defect-type CLASS=TYPE`` (``improve``) or, without ``per_class``, ``--defect-type TYPE`` (``synth``).
        """
        if not self.kinds:
            return f"generator '{self.name}' cannot make '{target}' images"
        drawn = f"'{kind}' (asked for class '{target}')" if kind and kind != target else f"'{target}'"
        example = shlex.quote(f"{target}={self.kinds[0]}" if per_class else self.kinds[0])
        return (
            f"generator '{self.name}' draws {', '.join(self.kinds)}, not {drawn}: say which one a "
            f"'{target}' looks like with --defect-type (e.g. --defect-type {example})"
        )

    def get_params(self) -> dict:
        """The options this generator was made with (stored with every image)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def generate(
        self,
        target: str,
        defects: Sequence[np.ndarray],
        backgrounds: Sequence[np.ndarray],
        n: int,
        *,
        seed: int = 0,
    ) -> list[Synthetic]:
        """Make ``n`` images of ``target`` from real defect and background images."""
        raise NotImplementedError


@dataclass(frozen=True)
class DefectRegion:
    """Where the defect is in a donor image, found without a mask."""

    box: tuple[int, int, int, int]  # y0, x0, y1, x1 (end exclusive)
    alpha: np.ndarray  # (y1-y0, x1-x0) float in [0, 1]: soft mask
    delta: np.ndarray  # (y1-y0, x1-x0, 3) float: donor minus its own background
    score: float  # total deviation inside the region


def _odd(k: int) -> int:
    return k if k % 2 else k + 1


MAX_WINDOW = 33  # px: a wider median filter runs on a reduced copy (its cost grows with the window's area)


def _smooth_background(pixels: np.ndarray, size: int) -> np.ndarray:
    """Per-channel median of ``size`` x ``size`` windows: the surface without small defects.

    Above :data:`MAX_WINDOW` the median is taken on a copy reduced so that the window is
    that wide, then enlarged back: the background is smooth at that scale by construction,
    and a 300 px photo takes ~0.1 s instead of ~15 s.
    """
    if size <= MAX_WINDOW:
        return np.stack(
            [ndimage.median_filter(pixels[..., c], size=size, mode="reflect") for c in range(pixels.shape[-1])], axis=-1
        )
    h, w = pixels.shape[:2]
    factor = size / MAX_WINDOW
    small = ndimage.zoom(pixels, (1 / factor, 1 / factor, 1), order=1)
    background = np.stack(
        [ndimage.median_filter(small[..., c], size=MAX_WINDOW, mode="reflect") for c in range(small.shape[-1])], axis=-1
    )
    zoom = (h / background.shape[0], w / background.shape[1], 1)
    return ndimage.zoom(background, zoom, order=1)[:h, :w]


def find_defect_region(image: np.ndarray, *, window: float = 0.25, k: float = 3.0, margin: int = 2) -> DefectRegion:
    """Find the most deviant region of ``image`` against its median-filtered background.

    Parameters
    ----------
    image : (H, W, 3) uint8 donor image.
    window : median-filter width as a fraction of the shorter side.
    k : a pixel is a candidate when its deviation exceeds ``mean + k * std``.
    margin : pixels added around the region's box.
    """
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    size = _odd(max(5, int(min(h, w) * window)))
    delta = pixels - _smooth_background(pixels, size)
    deviation = ndimage.gaussian_filter(np.abs(delta).sum(-1), sigma=1.0)
    threshold = float(deviation.mean() + k * deviation.std())
    mask = deviation > threshold
    if not mask.any():  # a flat image: take the single most deviant pixel's neighbourhood
        mask = deviation >= deviation.max()
    labels, count = ndimage.label(mask)
    totals = ndimage.sum(deviation, labels, index=np.arange(1, count + 1))
    best = int(np.argmax(totals)) + 1
    component = labels == best
    ys, xs = np.nonzero(component)
    y0, y1 = max(0, ys.min() - margin), min(h, ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(w, xs.max() + margin + 1)
    grown = ndimage.binary_dilation(component, iterations=margin)[y0:y1, x0:x1]
    alpha = ndimage.gaussian_filter(grown.astype(np.float32), sigma=1.0)
    alpha = np.clip(alpha / max(float(alpha.max()), 1e-6), 0.0, 1.0)
    return DefectRegion(
        box=(int(y0), int(x0), int(y1), int(x1)), alpha=alpha, delta=delta[y0:y1, x0:x1], score=float(totals[best - 1])
    )


def _orient(array: np.ndarray, turn: int, flip: bool) -> np.ndarray:
    array = np.rot90(array, k=turn, axes=(0, 1))
    return array[:, ::-1] if flip else array


class CopyPaste(Generator):
    """Paste defect regions found in real target-class images onto real ok images.

    Parameters
    ----------
    window : median-filter width (fraction of the shorter side) used to find the defect.
    k : deviation threshold in standard deviations.
    strength : (low, high) range the pasted difference is scaled by.
    """

    name = "copy_paste"
    description = "defect regions from real defect images pasted onto real ok images (built-in)"

    def __init__(self, *, window: float = 0.25, k: float = 3.0, strength: tuple[float, float] = (0.8, 1.1)) -> None:
        self.window = window
        self.k = k
        self.strength = strength

    def generate(  # noqa: D102 (see base)
        self,
        target: str,
        defects: Sequence[np.ndarray],
        backgrounds: Sequence[np.ndarray],
        n: int,
        *,
        seed: int = 0,
    ) -> list[Synthetic]:
        if not defects or not backgrounds:
            from datacentric.errors import DatacentricError

            raise DatacentricError(f"copy_paste needs real '{target}' images and defect-free images")
        rng = np.random.default_rng(seed)
        regions: dict[int, DefectRegion] = {}
        results = []
        for _ in range(n):
            d = int(rng.integers(len(defects)))
            b = int(rng.integers(len(backgrounds)))
            if d not in regions:
                regions[d] = find_defect_region(defects[d], window=self.window, k=self.k)
            region = regions[d]
            turn, flip = int(rng.integers(4)), bool(rng.integers(2))
            alpha = _orient(region.alpha, turn, flip)
            delta = _orient(region.delta, turn, flip)
            base = np.asarray(backgrounds[b], dtype=np.float32).copy()
            bh, bw = base.shape[:2]
            ph, pw = min(alpha.shape[0], bh), min(alpha.shape[1], bw)
            alpha, delta = alpha[:ph, :pw], delta[:ph, :pw]
            y = int(rng.integers(bh - ph + 1))
            x = int(rng.integers(bw - pw + 1))
            gain = float(rng.uniform(*self.strength))
            base[y : y + ph, x : x + pw] += gain * alpha[..., None] * delta
            results.append(
                Synthetic(
                    image=np.clip(base, 0, 255).round().astype(np.uint8),
                    defect=d,
                    background=b,
                    params={
                        "region": list(region.box),
                        "at": [y, x],
                        "turn": turn,
                        "flip": flip,
                        "gain": round(gain, 4),
                        "score": round(region.score, 2),
                    },
                )
            )
        return results


def register_generators(register: Callable[..., Any]) -> None:
    """Plugin hook: the built-in generators."""
    register(CopyPaste)


def get_generator(name: str, **options: Any) -> Generator:
    """A registered generator by name, constructed with ``options``."""
    from datacentric import plugins

    factory = plugins.get("generator", name)
    return factory(**options) if callable(factory) else factory
