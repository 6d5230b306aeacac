"""Procedural surface defects as albumentations transforms.

Each transform draws its randomness in :meth:`get_params_dependent_on_data`
(from the transform's own seeded generators, so ``A.Compose(..., seed=s)`` is
reproducible) and applies it with a pure function from :mod:`.functional`.
Init arguments are stored under their own names, so pipelines serialise with
``A.to_dict`` / ``A.save`` and load back with ``A.from_dict`` once this module
is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from albumentations.core.transforms_interface import BaseTransformInitSchema, ImageOnlyTransform

from datacentric_procedural import functional as F

__all__ = ["Dent", "Discoloration", "Pit", "Scratch"]

Range = tuple[float, float]


class _Schema(BaseTransformInitSchema):
    model_config = {"arbitrary_types_allowed": True}


def _center(rng: np.random.Generator, shape: tuple[int, ...], margin: float) -> tuple[float, float]:
    h, w = shape[:2]
    my, mx = min(margin, h / 3), min(margin, w / 3)
    return float(rng.uniform(my, h - my)), float(rng.uniform(mx, w - mx))


class Scratch(ImageOnlyTransform):
    """A thin, slightly bent scratch.

    Parameters
    ----------
    length_range : length as a fraction of the shorter image side.
    width_range : line half-width in pixels.
    depth_range : intensity change (0..255); the sign is drawn: darker or brighter.
    bend : how far the middle point may stray sideways, as a fraction of the length.
    """

    class InitSchema(_Schema):
        length_range: tuple[float, float] = (0.3, 0.7)
        width_range: tuple[float, float] = (0.6, 1.6)
        depth_range: tuple[float, float] = (40.0, 90.0)
        bend: float = 0.15

    def __init__(
        self,
        length_range: Range = (0.3, 0.7),
        width_range: Range = (0.6, 1.6),
        depth_range: Range = (40.0, 90.0),
        bend: float = 0.15,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.length_range = length_range
        self.width_range = width_range
        self.depth_range = depth_range
        self.bend = bend

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        shape = params["shape"]
        rng = self.random_generator
        length = rng.uniform(*self.length_range) * min(shape[:2])
        cy, cx = _center(rng, shape, length / 2)
        theta = rng.uniform(0, np.pi)
        dy, dx = np.sin(theta) * length / 2, np.cos(theta) * length / 2
        off = rng.uniform(-self.bend, self.bend) * length
        mid = (cy + off * np.cos(theta), cx - off * np.sin(theta))
        points = np.array([(cy - dy, cx - dx), mid, (cy + dy, cx + dx)], dtype=np.float32)
        sign = 1.0 if rng.random() < 0.3 else -1.0
        return {
            "points": points,
            "width": float(rng.uniform(*self.width_range)),
            "depth": sign * float(rng.uniform(*self.depth_range)),
        }

    def apply(self, img: np.ndarray, points: np.ndarray, width: float, depth: float, **params: Any) -> np.ndarray:
        return F.scratch(img, points, width, depth)


class Pit(ImageOnlyTransform):
    """A small round pit with a faint bright rim.

    Parameters
    ----------
    radius_range : radius as a fraction of the shorter image side.
    depth_range : darkening at the centre (0..255).
    rim : rim brightness as a fraction of the depth.
    """

    class InitSchema(_Schema):
        radius_range: tuple[float, float] = (0.02, 0.05)
        depth_range: tuple[float, float] = (50.0, 110.0)
        rim: float = 0.25

    def __init__(
        self, radius_range: Range = (0.02, 0.05), depth_range: Range = (50.0, 110.0), rim: float = 0.25, p: float = 0.5
    ) -> None:
        super().__init__(p=p)
        self.radius_range = radius_range
        self.depth_range = depth_range
        self.rim = rim

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        shape = params["shape"]
        rng = self.random_generator
        radius = float(rng.uniform(*self.radius_range) * min(shape[:2]))
        return {
            "center": _center(rng, shape, 3 * radius),
            "radius": max(radius, 0.8),
            "depth": float(rng.uniform(*self.depth_range)),
        }

    def apply(
        self, img: np.ndarray, center: tuple[float, float], radius: float, depth: float, **params: Any
    ) -> np.ndarray:
        return F.pit(img, center, radius, depth, self.rim)


class Dent(ImageOnlyTransform):
    """A shallow dent seen under directional light: one side brighter, one darker.

    Parameters
    ----------
    radius_range : semi-axes as a fraction of the shorter image side.
    depth_range : strongest shading change (0..255).
    """

    class InitSchema(_Schema):
        radius_range: tuple[float, float] = (0.08, 0.18)
        depth_range: tuple[float, float] = (30.0, 70.0)

    def __init__(self, radius_range: Range = (0.08, 0.18), depth_range: Range = (30.0, 70.0), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.radius_range = radius_range
        self.depth_range = depth_range

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        shape = params["shape"]
        rng = self.random_generator
        side = min(shape[:2])
        radii = (float(rng.uniform(*self.radius_range) * side), float(rng.uniform(*self.radius_range) * side))
        return {
            "center": _center(rng, shape, max(radii)),
            "radii": radii,
            "angle": float(rng.uniform(0, np.pi)),
            "depth": float(rng.uniform(*self.depth_range)),
            "light": float(rng.uniform(0, 2 * np.pi)),
        }

    def apply(
        self,
        img: np.ndarray,
        center: tuple[float, float],
        radii: tuple[float, float],
        angle: float,
        depth: float,
        light: float,
        **params: Any,
    ) -> np.ndarray:
        return F.dent(img, center, radii, angle, depth, light)


class Discoloration(ImageOnlyTransform):
    """A soft stain: a patch whose colour drifts towards a tint.

    Parameters
    ----------
    radius_range : semi-axes as a fraction of the shorter image side.
    strength_range : how far pixels move towards the tint (0..1).
    tints : candidate RGB tints; one is drawn per image.
    """

    class InitSchema(_Schema):
        radius_range: tuple[float, float] = (0.12, 0.3)
        strength_range: tuple[float, float] = (0.25, 0.55)
        tints: tuple[tuple[float, float, float], ...] = ((150.0, 100.0, 40.0), (90.0, 60.0, 30.0), (60.0, 90.0, 110.0))

    def __init__(
        self,
        radius_range: Range = (0.12, 0.3),
        strength_range: Range = (0.25, 0.55),
        tints: tuple[tuple[float, float, float], ...] = ((150.0, 100.0, 40.0), (90.0, 60.0, 30.0), (60.0, 90.0, 110.0)),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.radius_range = radius_range
        self.strength_range = strength_range
        self.tints = tints

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        shape = params["shape"]
        rng = self.random_generator
        side = min(shape[:2])
        radii = (float(rng.uniform(*self.radius_range) * side), float(rng.uniform(*self.radius_range) * side))
        tint = tuple(float(v) for v in self.tints[int(rng.integers(len(self.tints)))])
        return {
            "center": _center(rng, shape, min(radii)),
            "radii": radii,
            "angle": float(rng.uniform(0, np.pi)),
            "tint": tint,
            "strength": float(rng.uniform(*self.strength_range)),
        }

    def apply(
        self,
        img: np.ndarray,
        center: tuple[float, float],
        radii: tuple[float, float],
        angle: float,
        tint: tuple[float, float, float],
        strength: float,
        **params: Any,
    ) -> np.ndarray:
        return F.discoloration(img, center, radii, angle, tint, strength)
