"""The ``procedural`` generator: one procedural defect drawn onto a real defect-free image."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np

from datacentric.improve.synth import Generator, Synthetic
from datacentric_procedural.transforms import Dent, Discoloration, Pit, Scratch

__all__ = ["DEFECTS", "ProceduralGenerator"]

# class name -> transform making it (p=1: always applied)
DEFECTS = {"scratch": Scratch, "pit": Pit, "dent": Dent, "discoloration": Discoloration, "stain": Discoloration}


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray):
        return np.round(value.astype(float), 2).tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    return value


class ProceduralGenerator(Generator):
    """Draw a procedural scratch, pit, dent or discoloration on real ok images.

    Parameters
    ----------
    options : keyword arguments for the defect transform (e.g. ``depth_range``).
    """

    name = "procedural"
    description = "procedural scratch/pit/dent/discoloration drawn on real ok images (datacentric-procedural)"
    needs_defects = False
    kinds = tuple(DEFECTS)

    def __init__(self, **options: object) -> None:
        self.options = options

    def transform(self, target: str) -> A.Compose:
        """The albumentations pipeline used for ``target`` (serialisable)."""
        return A.Compose([DEFECTS[target.lower()](p=1.0, **self.options)], save_applied_params=True)

    def generate(
        self, target: str, defects: Sequence[np.ndarray], backgrounds: Sequence[np.ndarray], n: int, *, seed: int = 0
    ) -> list[Synthetic]:
        if not self.supports(target):
            raise ValueError(f"procedural cannot make '{target}' (knows {', '.join(DEFECTS)})")
        if not backgrounds:
            raise ValueError("procedural needs defect-free images to draw on")
        rng = np.random.default_rng(seed)
        pipeline = self.transform(target)
        results = []
        for _ in range(n):
            b = int(rng.integers(len(backgrounds)))
            image_seed = int(rng.integers(2**31 - 1))
            pipeline.set_random_seed(image_seed)
            out = pipeline(image=np.ascontiguousarray(backgrounds[b]))
            applied = {
                name: {k: _plain(v) for k, v in p.items() if k != "shape"}
                for name, p in out.get("applied_transforms", [])
            }
            results.append(
                Synthetic(
                    image=out["image"],
                    defect=None,
                    background=b,
                    params={"defect": target.lower(), "seed": image_seed, "applied": applied},
                )
            )
        return results
