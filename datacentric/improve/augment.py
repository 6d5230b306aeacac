"""Class-targeted augmentation: albumentations recipes chosen for how a class fails.

A :class:`Recipe` is a named ``A.Compose`` pipeline with the reason it was
chosen. Recipes serialise with ``A.to_dict`` (:meth:`Recipe.save` writes JSON),
so the one that proved itself is saved beside the improve run.

Which recipe for which failure (:func:`choose_recipes`):

- ``geometry`` (flips, 90° turns, small rotation/scale): always a candidate;
  surface defects (pits, scratches, dents) look the same in any orientation,
  so more orientations of the few real examples are cheap, honest variety.
- ``lighting`` (brightness/contrast, gamma, local contrast): when a weak
  metadata slice points at acquisition (a camera, a shift, a line), or the
  class's images vary more in brightness than the rest.
- ``optics`` (blur, sensor noise, JPEG): when a weak slice value mentions blur,
  focus or noise.

Augmented images are made for the target class only and are training-only rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datacentric.paths import write_atomic
from datacentric.quiet import import_albumentations

A = import_albumentations()

__all__ = ["RECIPES", "Augmented", "Recipe", "augment_images", "choose_recipes", "make_recipe"]


def _geometry() -> A.Compose:
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.RandomRotate90(p=1.0),
            A.Affine(rotate=(-20, 20), scale=(0.9, 1.1), border_mode=4, p=0.7),  # 4 = reflect_101
        ]
    )


def _lighting() -> A.Compose:
    return A.Compose(
        [
            A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.9),
            A.RandomGamma(gamma_limit=(70, 140), p=0.6),
            A.CLAHE(clip_limit=(1, 3), p=0.3),
            A.HorizontalFlip(p=0.5),
        ]
    )


def _optics() -> A.Compose:
    return A.Compose(
        [
            A.GaussianBlur(blur_limit=(3, 5), p=0.5),
            A.GaussNoise(std_range=(0.02, 0.08), p=0.6),
            A.ImageCompression(quality_range=(60, 95), p=0.4),
            A.HorizontalFlip(p=0.5),
        ]
    )


RECIPES = {"geometry": _geometry, "lighting": _lighting, "optics": _optics}


@dataclass
class Recipe:
    """A named augmentation pipeline for one class, and why it was chosen."""

    name: str
    target: str  # the class it is applied to
    reason: str
    pipeline: A.Compose = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-able form: name, target, reason and the albumentations dict."""
        return {"name": self.name, "target": self.target, "reason": self.reason, "pipeline": A.to_dict(self.pipeline)}

    def save(self, path: Path | str) -> Path:
        """Write :meth:`to_dict` as JSON; :meth:`load` reads it back."""
        return write_atomic(Path(path), json.dumps(self.to_dict(), indent=2))

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        """Rebuild a recipe from :meth:`to_dict` output."""
        return cls(
            name=data["name"],
            target=data["target"],
            reason=data.get("reason", ""),
            pipeline=A.from_dict(data["pipeline"]),
        )

    @classmethod
    def load(cls, path: Path | str) -> "Recipe":
        """Read a recipe saved with :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def make_recipe(name: str, target: str, reason: str = "") -> Recipe:
    """One of :data:`RECIPES` by name, for ``target``."""
    if name not in RECIPES:
        from datacentric.errors import DatacentricError

        raise DatacentricError(f"unknown recipe '{name}' (recipes: {', '.join(RECIPES)})")
    return Recipe(name=name, target=target, reason=reason, pipeline=RECIPES[name]())


_ACQUISITION_WORDS = ("camera", "shift", "line", "light", "night", "station", "lens", "sensor")
_OPTICS_WORDS = ("blur", "focus", "noise", "jpeg")


def choose_recipes(
    target: str,
    *,
    weak_slices: Sequence[dict] = (),
    brightness_spread: float | None = None,
    other_brightness_spread: float | None = None,
) -> list[Recipe]:
    """Candidate recipes for a failing class, most likely to help first.

    Parameters
    ----------
    target : the class to augment.
    weak_slices : audit slices flagged weak (dicts with ``column`` and ``value``).
    brightness_spread, other_brightness_spread : std of mean image brightness
        within the class and within the other classes; a class that varies
        more than the rest gets the lighting recipe.
    """
    recipes = [make_recipe("geometry", target, "surface defects look alike in every orientation")]
    texts = [f"{s.get('column', '')}={s.get('value', '')}" for s in weak_slices]
    optics = [t for t in texts if any(w in t.lower() for w in _OPTICS_WORDS)]
    acquisition = [t for t in texts if t not in optics]
    if acquisition and any(w in t.lower().split("=")[0] for t in acquisition for w in _ACQUISITION_WORDS):
        recipes.append(make_recipe("lighting", target, f"weak slice {', '.join(acquisition)}"))
    elif (
        brightness_spread is not None
        and other_brightness_spread is not None
        and brightness_spread > 1.25 * other_brightness_spread
    ):
        recipes.append(
            make_recipe(
                "lighting",
                target,
                f"{target} brightness varies more ({brightness_spread:.3f} vs {other_brightness_spread:.3f})",
            )
        )
    if optics:
        recipes.append(make_recipe("optics", target, f"weak slice {', '.join(optics)}"))
    return recipes


@dataclass(frozen=True)
class Augmented:
    """One augmented image: the pixels, which source image it came from, and how."""

    image: np.ndarray  # (H, W, 3) uint8
    parent: int  # index into the source images
    params: dict  # recipe name, per-image seed, transforms applied


def augment_images(images: Sequence[np.ndarray], recipe: Recipe, n: int, *, seed: int = 0) -> list[Augmented]:
    """Make ``n`` augmented copies, cycling over ``images``; reproducible from ``seed``."""
    if not images:
        return []
    pipeline = A.Compose(recipe.pipeline.transforms, save_applied_params=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    result = []
    for i in range(n):
        parent = int(order[i % len(images)])
        image_seed = int(rng.integers(2**31 - 1))
        pipeline.set_random_seed(image_seed)
        out = pipeline(image=np.ascontiguousarray(images[parent]))
        applied = [name for name, _ in out.get("applied_transforms", [])]
        result.append(
            Augmented(
                image=out["image"],
                parent=parent,
                params={"recipe": recipe.name, "seed": image_seed, "applied": applied},
            )
        )
    return result
