"""What is random about one demo picture: the part's class, material, colour and difficulty."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CLASSES", "UNSEEN", "Scene", "draw_scene"]

CLASSES = ("ok", "scratch", "dent", "pit", "discoloration")
UNSEEN = ("crack", "rust")

# (name, kind, colour) -- kind: brushed, turned, blasted (metal) or plastic
_MATERIALS = (
    ("steel", "brushed", (0.60, 0.61, 0.63)),
    ("aluminium", "brushed", (0.74, 0.75, 0.77)),
    ("dark steel", "turned", (0.44, 0.45, 0.47)),
    ("aluminium", "turned", (0.70, 0.71, 0.72)),
    ("brass", "turned", (0.70, 0.58, 0.34)),
    ("cast iron", "blasted", (0.42, 0.42, 0.42)),
    ("anodised blue", "brushed", (0.30, 0.42, 0.60)),
    ("black anodised", "brushed", (0.24, 0.24, 0.26)),
    ("black plastic", "plastic", (0.17, 0.17, 0.18)),
    ("grey plastic", "plastic", (0.48, 0.49, 0.51)),
    ("white plastic", "plastic", (0.84, 0.84, 0.81)),
    ("beige plastic", "plastic", (0.76, 0.70, 0.58)),
    ("blue plastic", "plastic", (0.20, 0.33, 0.58)),
)
# line L1 machines metal parts, line L2 moulds plastic ones (mostly)
_LINE_MATERIALS = {"L1": (0.85, 0.15), "L2": (0.3, 0.7)}  # P(metal), P(plastic)


@dataclass
class Scene:
    """Everything random about one picture, drawn by :func:`draw_scene`."""

    label: str
    material: str
    kind: str
    colour: np.ndarray
    seed: int
    subtlety: float  # 0 = obvious defect, 1 = hard to see
    extras: dict = field(default_factory=dict)


def draw_scene(rng: np.random.Generator, label: str, line: str) -> Scene:
    """Draw the material, colour and difficulty of a part picture."""
    p_metal = _LINE_MATERIALS.get(line, (0.6, 0.4))[0]
    metals = [m for m in _MATERIALS if m[1] != "plastic"]
    plastics = [m for m in _MATERIALS if m[1] == "plastic"]
    pool = metals if rng.random() < p_metal else plastics
    name, kind, colour = pool[int(rng.integers(len(pool)))]
    colour = np.array(colour) * rng.uniform(0.88, 1.12) + rng.normal(0, 0.02, 3)
    colour = np.clip(colour, 0.05, 0.95)
    return Scene(
        label=label,
        material=name,
        kind=kind,
        colour=colour,
        seed=int(rng.integers(2**63)),
        subtlety=float(rng.beta(1.5, 4.0)),
    )
