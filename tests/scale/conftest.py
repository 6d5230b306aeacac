"""Fixtures for the scale tests: a tiny trained project and a folder of production images."""

from __future__ import annotations

import pytest

from tests.support.factories import COLOURS, TINY, write_images


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    """A trained 3-colour project (tiny random backbone) and 14 new images, one unreadable."""
    import torch

    from datacentric.data.importers import import_path
    from datacentric.model import train
    from datacentric.project import Project

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("scale")
    for name in COLOURS:
        write_images(root / "photos" / name, {name: COLOURS[name]}, 6, seed=len(name))
    new = root / "line3"
    write_images(new, {"olive": (120, 120, 40), "red": COLOURS["red"]}, 7, seed=9)
    (new / "broken.png").write_bytes(b"not an image")
    project = Project.init(root / "parts", backbone=TINY, seed=0)
    project.config.image_size = 32
    project.config.folds = 3
    project.save_config()
    import_path(project, root / "photos", annotator="mira")
    train(project, mode="probe", repeats=1)
    project.close()
    return root / "parts", new
