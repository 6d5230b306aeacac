"""Fixtures for model tests: tiny coloured images, a tiny random backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datacentric.importers import import_path
from datacentric.project import Project
from tests.support.images import TINY, make_images


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture(name="make_images")
def make_images_fixture():
    """The image writer, for tests that need more images."""
    return make_images


@pytest.fixture
def images(tmp_path: Path) -> dict[str, list[Path]]:
    return make_images(tmp_path / "photos", {"red": 8, "green": 8, "blue": 8})


@pytest.fixture
def colour_project(tmp_path: Path, images) -> Project:
    proj = Project.init(tmp_path / "parts", backbone=TINY, seed=0)
    proj.config.image_size = 32
    proj.config.folds = 3
    proj.save_config()
    import_path(proj, tmp_path / "photos", annotator="mira")
    yield proj
    proj.close()
