"""Noise and textures for the demo pictures: machining marks, grain, smooth blotches, blobs.

Every function is pure given its random generator; arrays are float32 at the render
resolution (``m`` x ``m`` pixels).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["gauss_bump", "normal_noise", "resize", "smooth_noise", "surface_texture"]


def normal_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise of ``shape``, float32."""
    return rng.standard_normal(shape, dtype=np.float32)


def resize(array: np.ndarray, width: int, height: int, resample: int = Image.BILINEAR) -> np.ndarray:
    """Resize a 2-D float array with PIL (fast, deterministic)."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), resample), dtype=np.float32)


def _streaks(rng, X, Y, kind, scale):
    """Directional machining marks sampled at coordinates (X, Y), zero mean, unit-ish std."""
    m = X.shape[0]
    if kind == "turned":
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(2.5, 6.0) * m
        cx, cy = m / 2 + dist * math.cos(angle), m / 2 + dist * math.sin(angle)
        across = np.hypot(X - cx, Y - cy)
        along = np.arctan2(Y - cy, X - cx) * dist
    else:
        theta = rng.uniform(0, np.pi)
        c, s = math.cos(theta), math.sin(theta)
        across = X * -s + Y * c
        along = X * c + Y * s
    across = across - across.min()
    along = along - along.min()
    # build the texture in (across, along / step) space, then sample it once
    step = 16
    n_across = int(across.max()) + 4
    n_along = int(along.max() / step) + 4
    total = np.zeros((n_across, n_along), dtype=np.float32)
    for width, weight, reach in ((0.6, 1.0, 48), (1.6 * scale, 0.7, 96), (5.0 * scale, 0.35, 160)):
        coarse = normal_noise(rng, (n_across, int(n_along * step / reach) + 3))
        coarse = ndimage.gaussian_filter(coarse, (width, 0.7), mode="wrap")
        coarse /= coarse.std() + 1e-9
        total += weight * resize(coarse, n_along, n_across)
    out = ndimage.map_coordinates(total, [across, along / step], order=1, mode="nearest")
    return out / 1.4


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Low-frequency noise, unit-ish std: a random grid of spacing ``cell``, upsampled smoothly."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    grid = ndimage.gaussian_filter(normal_noise(rng, (gh, gw)), 0.8)
    grid /= grid.std() + 1e-9
    big = resize(grid, gw * cell, gh * cell, Image.BICUBIC)
    return big[cell // 2 : cell // 2 + h, cell // 2 : cell // 2 + w]


def gauss_bump(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, sx: float, sy: float, angle: float) -> np.ndarray:
    """An (elliptical, rotated) gaussian blob, computed only in the window where it is non-zero."""
    cx, cy, sx, sy, angle = float(cx), float(cy), float(sx), float(sy), float(angle)
    out = np.zeros(X.shape, dtype=np.float32)
    reach = 4 * max(sx, sy)
    h, w = X.shape
    y0, y1 = max(0, int(cy - reach)), min(h, int(cy + reach) + 2)
    x0, x1 = max(0, int(cx - reach)), min(w, int(cx + reach) + 2)
    if y0 >= y1 or x0 >= x1:
        return out
    Xw, Yw = X[y0:y1, x0:x1], Y[y0:y1, x0:x1]
    c, s = math.cos(angle), math.sin(angle)
    u = (Xw - cx) * c + (Yw - cy) * s
    v = -(Xw - cx) * s + (Yw - cy) * c
    out[y0:y1, x0:x1] = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return out


def surface_texture(
    rng: np.random.Generator, kind: str, X: np.ndarray, Y: np.ndarray, m: int, scale: float
) -> np.ndarray:
    """The albedo texture of a surface of ``kind``, sampled at the (deformed) coordinates (X, Y).

    Metal shows blasting grain or machining streaks plus fine grain; plastic shows fine
    grain and a faint orange peel. ``scale`` stretches the texture; zero mean, small std.
    """
    if kind != "plastic":
        if kind == "blasted":
            grain = ndimage.gaussian_filter(normal_noise(rng, (m, m)), 0.9 * scale)
            texture = 0.09 * grain / (grain.std() + 1e-9)
        else:
            streak = _streaks(rng, X, Y, kind, scale)
            texture = rng.uniform(0.05, 0.11) * streak
        fine = ndimage.gaussian_filter(normal_noise(rng, (m, m)), 0.7)
        return texture + 0.03 * fine / (fine.std() + 1e-9)
    fine = ndimage.gaussian_filter(normal_noise(rng, (m, m)), 0.8 * scale)
    peel = smooth_noise(rng, (m, m), 6)
    return 0.035 * fine / (fine.std() + 1e-9) + 0.02 * peel
