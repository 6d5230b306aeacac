"""Fixtures shared by every test: tiny generated images and fresh projects."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def write_image(path: Path, seed: int, size: int = 32, mode: str = "RGB") -> Path:
    """Write a small random image (distinct bytes per seed) and return its path."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder-per-class tree: photos/{ok,pit,scratch}/ with 4 images each."""
    root = tmp_path / "photos"
    for c, name in enumerate(["ok", "pit", "scratch"]):
        for i in range(4):
            write_image(root / name / f"{name}_{i}.png", seed=100 * c + i)
    return root


@pytest.fixture
def project(tmp_path: Path):
    """An empty project with no fixed class list."""
    from datacentric.project import Project

    with Project.init(tmp_path / "proj") as proj:
        yield proj
