"""Fixtures shared by every test: tiny generated images, fresh projects, a tiny trained project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.support.factories import COLOURS, write_image, write_images, tiny_colour_project

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

    torch.set_num_threads(2)
    for name in COLOURS:
        write_images(tmp_path / "photos" / name, {name: COLOURS[name]}, 10, seed=len(name))
    proj = tiny_colour_project(tmp_path / "parts", tmp_path / "photos")
    yield proj
    proj.close()


@pytest.fixture
def tiny_trained(tiny_project):
    from datacentric.model import train

    train(tiny_project, mode="probe", repeats=1)
    return tiny_project
