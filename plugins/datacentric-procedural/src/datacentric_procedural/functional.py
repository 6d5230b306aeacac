"""Pixel maths of the procedural defects: pure functions of an image and explicit parameters.

All take and return (H, W, 3) uint8 images; coordinates are in pixels, (y, x).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dent", "discoloration", "pit", "scratch"]


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    return ys.astype(np.float32), xs.astype(np.float32)


def _add(image: np.ndarray, change: np.ndarray) -> np.ndarray:
    out = image.astype(np.float32)
    out += change if change.ndim == 3 else change[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def scratch(image: np.ndarray, points: np.ndarray, width: float, depth: float) -> np.ndarray:
    """A thin line along the polyline ``points`` (M, 2); ``depth`` < 0 darkens, > 0 brightens."""
    ys, xs = _grid(image.shape)
    distance = np.full(image.shape[:2], np.inf, dtype=np.float32)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
        dy, dx = y1 - y0, x1 - x0
        length2 = max(dy * dy + dx * dx, 1e-6)
        t = np.clip(((ys - y0) * dy + (xs - x0) * dx) / length2, 0.0, 1.0)
        d = np.hypot(ys - (y0 + t * dy), xs - (x0 + t * dx))
        np.minimum(distance, d, out=distance)
    profile = np.exp(-((distance / max(width, 0.3)) ** 2))
    return _add(image, depth * profile)


def pit(image: np.ndarray, center: tuple[float, float], radius: float, depth: float, rim: float = 0.25) -> np.ndarray:
    """A small round pit: a dark core of ``radius`` and a faint bright rim (``rim`` x depth)."""
    ys, xs = _grid(image.shape)
    r = np.hypot(ys - center[0], xs - center[1]) / max(radius, 0.5)
    change = -depth * np.exp(-(r**2)) + rim * depth * np.exp(-(((r - 1.4) / 0.35) ** 2))
    return _add(image, change)


def dent(
    image: np.ndarray, center: tuple[float, float], radii: tuple[float, float], angle: float, depth: float, light: float
) -> np.ndarray:
    """A shallow dent: a bowl in an elliptical height map, shaded by light from angle ``light``.

    The lit side of the slope gets brighter, the far side darker (Lambert-like, small slopes).
    """
    ys, xs = _grid(image.shape)
    cy, cx = center
    c, s = np.cos(angle), np.sin(angle)
    u = ((xs - cx) * c + (ys - cy) * s) / max(radii[1], 1.0)
    v = (-(xs - cx) * s + (ys - cy) * c) / max(radii[0], 1.0)
    height = -np.exp(-(u**2 + v**2) * 2.0)
    gy, gx = np.gradient(height)
    shade = gx * np.cos(light) + gy * np.sin(light)
    scale = max(float(np.abs(shade).max()), 1e-6)
    return _add(image, depth * shade / scale)


def discoloration(
    image: np.ndarray,
    center: tuple[float, float],
    radii: tuple[float, float],
    angle: float,
    tint: tuple[float, float, float],
    strength: float,
) -> np.ndarray:
    """A soft elliptical stain: pixels move towards colour ``tint`` (RGB 0..255) by up to ``strength``."""
    ys, xs = _grid(image.shape)
    cy, cx = center
    c, s = np.cos(angle), np.sin(angle)
    u = ((xs - cx) * c + (ys - cy) * s) / max(radii[1], 1.0)
    v = (-(xs - cx) * s + (ys - cy) * c) / max(radii[0], 1.0)
    weight = strength * np.exp(-((u**2 + v**2) ** 1.5))
    pixels = image.astype(np.float32)
    change = weight[..., None] * (np.asarray(tint, dtype=np.float32) - pixels)
    return _add(image, change)
