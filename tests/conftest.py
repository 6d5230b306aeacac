"""Fixtures shared by every test: tiny generated images, fresh projects, a tiny trained project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.support.images import COLOURS, TINY, write_image, write_images

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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


@pytest.fixture
def tiny_project(tmp_path):
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
def tiny_trained(tiny_project):
    from datacentric.model import train

    train(tiny_project, mode="probe", repeats=1)
    return tiny_project
