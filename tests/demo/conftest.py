"""Fixtures for the demo tests: one small demo data set, and the full demo trained, once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from datacentric.demo import DemoData, generate_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    """A 40-image demo (8 per class, 32 px), written once for the session; do not modify it."""
    return generate_demo(tmp_path_factory.mktemp("demo") / "data", per_class=8, seed=3, image_size=32)


@pytest.fixture(scope="session")
def full_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoData, Path]:
    """The full demo (250 images, seed 0) imported with every annotator and trained with the real backbone.

    Returns (the demo data, the project folder); tests may add runs, not change labels.
    """
    from datacentric.data.importers import import_path
    from datacentric.model import train
    from datacentric.project import Project

    root = tmp_path_factory.mktemp("full-demo")
    data = generate_demo(root / "data", per_class=50, seed=0)
    with Project.init(root / "parts", seed=0) as proj:
        import_path(proj, data.photos_dir, annotator="mira")
        import_path(proj, data.labels_csv)
        train(proj)
    return data, root / "parts"
