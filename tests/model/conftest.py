"""Fixtures for model tests: tiny coloured images, a tiny random backbone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datacentric.importers import import_path
from datacentric.project import Project

TINY = "test_efficientnet@random"  # 99k-parameter random timm model, no weights needed
COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (50, 60, 210)}


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


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


@pytest.fixture(name="make_images")
def make_images_fixture():
    """The image writer, for tests that need more images."""
    return make_images


@pytest.fixture
def images(tmp_path: Path) -> dict[str, list[Path]]:
    return make_images(tmp_path / "photos", {"red": 8, "green": 8, "blue": 8})


@pytest.fixture
def project(tmp_path: Path, images) -> Project:
    proj = Project.init(tmp_path / "parts", backbone=TINY, seed=0)
    proj.config.image_size = 32
    proj.config.folds = 3
    proj.save_config()
    import_path(proj, tmp_path / "photos", annotator="mira")
    yield proj
    proj.close()
