"""The one place tests build their data: tiny generated images (noise, solid colours, textures with
defects) and tiny projects on the random tiny backbone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TINY = "test_efficientnet@random"  # 99k-parameter random timm model, no weights needed


COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (50, 60, 210)}


def write_image(path: Path, seed: int, size: int = 32, mode: str = "RGB") -> Path:
    """Write a small random image (distinct bytes per seed) and return its path."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def make_images(folder: Path, per_class: dict[str, int], *, size: int = 40, seed: int = 0) -> dict[str, list[Path]]:
    """Write noisy solid-colour PNGs, folder-per-class; return paths per class."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {}
    for label, n in per_class.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        base = np.array(COLOURS.get(label, (128, 128, 128)), dtype=np.float64)
        for i in range(n):
            pixels = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            path = folder / label / f"{label}_{i:03d}.png"
            Image.fromarray(pixels).save(path)
            out.setdefault(label, []).append(path)
    return out


def write_images(folder, colours, n, *, seed, size=32, prefix="img"):
    """Write ``n`` noisy solid-colour PNGs per colour name (or RGB tuple) into ``folder``."""
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name, rgb in colours.items():
        for i in range(n):
            pixels = np.clip(np.array(rgb, float) + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            path = folder / f"{prefix}_{name}_{i:03d}.png"
            Image.fromarray(pixels).save(path)
            paths.append(path)
    return paths


def texture(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    base = rng.normal(150, 8, (size, size, 1)).clip(0, 255)
    return np.repeat(base, 3, axis=2).astype(np.uint8)


def with_pit(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = image.astype(np.float32)
    h, w = out.shape[:2]
    cy, cx = rng.integers(8, h - 8), rng.integers(8, w - 8)
    ys, xs = np.mgrid[0:h, 0:w]
    out -= 110 * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / 6.0)[..., None]
    return out.clip(0, 255).astype(np.uint8)


def with_scratch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = image.copy()
    row = rng.integers(6, out.shape[0] - 6)
    out[row : row + 2, 4:-4] = 60
    return out


def varied_images(folder: Path, n: int = 9, seed: int = 0) -> list[Path]:
    """Small images of varied size and aspect ratio, with some class-dependent structure."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shapes = [(40, 40), (48, 32), (32, 56), (37, 45)]
    paths = []
    for i in range(n):
        h, w = shapes[i % len(shapes)]
        pixels = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        pixels[:, : (i % 3) * 10] = 230
        path = folder / f"img_{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def tiny_colour_project(root: Path, photos: Path):
    """A project at ``root`` on the tiny random backbone (32 px, 3 folds) with ``photos`` imported by mira."""
    from datacentric.data.importers import import_path
    from datacentric.project import Project

    proj = Project.init(root, backbone=TINY, seed=0)
    proj.config.image_size = 32
    proj.config.folds = 3
    proj.save_config()
    import_path(proj, photos, annotator="mira")
    return proj
