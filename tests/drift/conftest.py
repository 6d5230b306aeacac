"""Fixtures for the drift tests: small random arrays, fast."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


TINY = "test_efficientnet@random"  # 99k-parameter random timm model, no weights needed
COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (50, 60, 210)}


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


@pytest.fixture
def untrained(tmp_path):
    """A project with 3 colour classes x 10 images, not trained yet."""
    import torch

    from datacentric.importers import import_path
    from datacentric.project import Project

    torch.set_num_threads(2)
    for name in COLOURS:
        write_images(tmp_path / "photos" / name, {name: COLOURS[name]}, 10, seed=len(name))
    proj = Project.init(tmp_path / "parts", backbone=TINY, seed=0)
    proj.config.image_size = 32
    proj.config.folds = 3
    proj.save_config()
    import_path(proj, tmp_path / "photos", annotator="mira")
    yield proj
    proj.close()


@pytest.fixture
def trained(untrained):
    from datacentric.model import train

    train(untrained, mode="probe", repeats=1)
    return untrained
