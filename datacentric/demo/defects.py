"""The demo's defects as changes to a part's surface: height, albedo multiplier, albedo add.

Each ``_<defect>`` function draws one defect from its random generator; :func:`defect_layers`
picks the one a scene's label names and returns the surface layers a render starts from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from datacentric.demo.scene import Scene
from datacentric.demo.textures import gauss_bump, normal_noise, smooth_noise

__all__ = ["Layers", "defect_layers"]

_TINTS = (
    (0.78, 0.56, 0.34),  # brown stain / heat tint
    (0.68, 0.60, 0.95),  # blue-violet temper colour
    (1.05, 0.95, 0.55),  # yellow residue
    (0.55, 0.75, 0.70),  # greenish oxide film
    (0.95, 0.78, 0.80),  # pinkish
)


def _curve_points(rng, m, length, n=24):
    cx, cy = rng.uniform(0.2 * m, 0.8 * m, 2).tolist()
    theta = rng.uniform(0, np.pi)
    d = np.array([math.cos(theta), math.sin(theta)])
    normal = np.array([-d[1], d[0]])
    bend = rng.normal(0, 0.12) * length
    t = np.linspace(-0.5, 0.5, n)
    pts = np.array([cx, cy]) + np.outer(t * length, d) + np.outer((0.25 - t**2) * 4 * bend, normal)
    pts += rng.normal(0, 0.3, pts.shape)
    return pts


def _draw_polyline(m, pts, width, values):
    """Rasterise a polyline whose strength varies along it (values in 0..1 per point)."""
    canvas = Image.new("L", (m, m), 0)
    draw = ImageDraw.Draw(canvas)
    for (x0, y0), (x1, y1), v in zip(pts[:-1], pts[1:], values[:-1]):
        draw.line([(float(x0), float(y0)), (float(x1), float(y1))], fill=int(255 * v), width=max(1, int(round(width))))
    return np.asarray(canvas, dtype=np.float32) / 255.0


# -- defects: each returns changes to (height, albedo multiplier, albedo add) ---------
def _scratch(rng, X, Y, m, hard, on_plastic):
    height = np.zeros_like(X)
    mul = np.ones_like(X)
    add = np.zeros(X.shape + (3,), dtype=X.dtype)
    for k in range(1 if rng.random() < 0.65 else int(rng.integers(2, 4))):
        length = rng.uniform(0.45, 1.0) * m
        pts = _curve_points(rng, m, length)
        taper = np.sin(np.linspace(0, np.pi, len(pts))) ** 0.5
        taper *= np.clip(1 + 0.3 * rng.normal(size=len(pts)), 0.3, 1.3)
        width = rng.uniform(2.4, 4.5)
        mask = _draw_polyline(m, pts, width, np.clip(taper, 0, 1))
        mask = ndimage.gaussian_filter(mask, 0.7)
        strength = (1.0 - 0.55 * hard) * (1.0 if k == 0 else 0.7)
        height -= 3.0 * strength * mask
        bright = rng.random() < (0.75 if on_plastic else 0.6)
        sign = 1.0 if bright else -1.0
        add += (sign * rng.uniform(0.3, 0.55) * strength * mask)[..., None]
    return height, mul, add


def _dent(rng, X, Y, m, hard):
    cx, cy = rng.uniform(0.22 * m, 0.78 * m, 2).tolist()
    radius = rng.uniform(0.09, 0.2) * m
    ecc = rng.uniform(1.0, 1.7)
    angle = rng.uniform(0, np.pi)
    c, s = math.cos(angle), math.sin(angle)
    u = ((X - cx) * c + (Y - cy) * s) / (radius * ecc)
    v = (-(X - cx) * s + (Y - cy) * c) / radius
    r2 = (u**2 + v**2) * (1 + 0.18 * smooth_noise(rng, X.shape, max(4, int(radius))))
    bowl = np.clip(1 - r2, 0, None) ** 2  # a smooth depression, steepest inside the rim
    # the pushed-up material around it
    lip = np.exp(-(((np.sqrt(np.clip(r2, 0, None)) - 1.05) / 0.12) ** 2))
    depth = radius * rng.uniform(0.7, 1.2) * (1.0 - 0.45 * hard)
    height = ndimage.gaussian_filter(-depth * bowl + 0.12 * depth * lip, 1.0)
    mul = 1.0 - (0.15 * (1 - 0.5 * hard)) * bowl  # slightly duller inside
    return height, mul, np.zeros(X.shape + (3,), dtype=X.dtype)


def _pits(rng, X, Y, m, hard):
    height = np.zeros_like(X)
    mul = np.ones_like(X)
    for _ in range(int(rng.integers(2, 7))):
        cx, cy = rng.uniform(0.12 * m, 0.88 * m, 2).tolist()
        r = rng.uniform(4.0, 8.0) * (1 - 0.2 * hard)
        bump = gauss_bump(X, Y, cx, cy, r, r * rng.uniform(0.8, 1.2), 0.0)
        height -= rng.uniform(4.0, 7.0) * (1 - 0.4 * hard) * bump
        mul *= 1 - rng.uniform(0.65, 0.9) * (1 - 0.3 * hard) * bump
    return height, mul, np.zeros(X.shape + (3,), dtype=X.dtype)


def _stain(rng, X, Y, m, hard, colourful=True):
    cx, cy = rng.uniform(0.25 * m, 0.75 * m, 2).tolist()
    r = rng.uniform(0.18, 0.34) * m
    envelope = gauss_bump(X, Y, cx, cy, r * rng.uniform(0.8, 1.6), r, rng.uniform(0, np.pi))
    blot = smooth_noise(rng, X.shape, max(4, int(r / 3)))
    mask = np.clip((envelope * 1.6 + 0.35 * blot - 0.55) * 1.8, 0, 1)
    mask = ndimage.gaussian_filter(mask, 4.5)
    tint = np.array(_TINTS[int(rng.integers(len(_TINTS)))])
    alpha = rng.uniform(1.0, 1.3) * (1 - 0.25 * hard)
    mul3 = 1 + (tint[None, None, :] - 1) * (alpha * mask)[..., None]
    # a film has its own colour: on dark parts it shows as a coloured haze
    add3 = (0.24 * alpha * mask)[..., None] * (tint[None, None, :] / tint.max())
    return mask, mul3, add3


def _crack(rng, X, Y, m):
    canvas = Image.new("L", (m, m), 0)
    draw = ImageDraw.Draw(canvas)
    start = rng.uniform(0.2, 0.8, 2) * m
    stack = [(float(start[0]), float(start[1]), rng.uniform(0, 2 * np.pi), 60, 255)]
    while stack:
        x, y, a, steps, v = stack.pop()
        for _ in range(steps):
            a += rng.normal(0, 0.45)
            nx, ny = x + 3 * math.cos(a), y + 3 * math.sin(a)
            draw.line([(x, y), (nx, ny)], fill=int(v), width=2)
            x, y = nx, ny
            if rng.random() < 0.05 and len(stack) < 6:
                turn = rng.choice([-1, 1]) * rng.uniform(0.5, 1.1)
                stack.append((x, y, a + turn, int(steps * 0.4), v * 0.8))
    mask = ndimage.gaussian_filter(np.asarray(canvas, dtype=np.float32) / 255.0, 0.6)
    return mask


def _rust(rng, X, Y, m):
    cx, cy = rng.uniform(0.25 * m, 0.75 * m, 2).tolist()
    r = rng.uniform(0.15, 0.3) * m
    envelope = gauss_bump(X, Y, cx, cy, r * 1.3, r, rng.uniform(0, np.pi))
    grain = ndimage.gaussian_filter(normal_noise(rng, X.shape), 1.2)
    grain /= grain.std()
    blot = smooth_noise(rng, X.shape, max(4, int(r / 4)))
    mask = np.clip((envelope * 1.8 + 0.45 * blot + 0.12 * grain - 0.75) * 2.0, 0, 1)
    return ndimage.gaussian_filter(mask, 1.5), grain


@dataclass
class Layers:
    """A surface before light falls on it: a height map and what changes its colour.

    ``height`` and ``mul`` (albedo multiplier) are ``(m, m)``; ``add`` (albedo add,
    scaled by the part's brightness) and ``mul3`` (a colour multiplier) are ``(m, m, 3)``;
    ``add3`` is a coloured film (``(m, m, 3)``) or 0.
    """

    height: np.ndarray
    mul: np.ndarray
    add: np.ndarray
    mul3: np.ndarray
    add3: np.ndarray | float = 0.0


def defect_layers(rng: np.random.Generator, scene: Scene, xx: np.ndarray, yy: np.ndarray, m: int) -> Layers:
    """The surface layers of ``scene``'s part with its defect (none for ``ok``) drawn in."""
    layers = Layers(
        height=np.zeros((m, m), dtype=np.float32),
        mul=np.ones((m, m), dtype=np.float32),
        add=np.zeros((m, m, 3), dtype=np.float32),
        mul3=np.ones((m, m, 3), dtype=np.float32),
    )
    label, hard = scene.label, scene.subtlety
    if label == "scratch":
        h, mu, ad = _scratch(rng, xx, yy, m, hard, scene.kind == "plastic")
        layers.height += h
        layers.mul *= mu
        layers.add += ad
    elif label in ("dent", "pit"):
        h, mu, _ = (_dent if label == "dent" else _pits)(rng, xx, yy, m, hard)
        layers.height += h
        layers.mul *= mu
    elif label == "discoloration":
        _, tint, film = _stain(rng, xx, yy, m, hard)
        layers.mul3 *= tint
        layers.add3 = film
    elif label == "crack":
        mask = _crack(rng, xx, yy, m)
        layers.height -= 2.0 * mask
        layers.mul *= 1 - 0.75 * mask
    elif label == "rust":
        mask, grain = _rust(rng, xx, yy, m)
        rust = np.array([0.48, 0.24, 0.10], dtype=np.float32) * (1 + 0.3 * grain)[..., None]
        base = np.maximum(scene.colour, 0.1).astype(np.float32)
        layers.mul3 = layers.mul3 * (1 - mask[..., None]) + mask[..., None] * rust / base
        layers.height += 0.8 * mask * grain
    return layers
