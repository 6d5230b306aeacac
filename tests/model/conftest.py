"""Fixtures for model tests: tiny coloured images, a tiny random backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datacentric.project import Project
from tests.support.factories import make_images, tiny_colour_project


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
    proj = tiny_colour_project(tmp_path / "parts", tmp_path / "photos")
    yield proj
    proj.close()
