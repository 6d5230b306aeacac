"""Fixtures for the export tests: a tiny random timm classifier, small images, one shared export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.support.factories import varied_images, tiny_colour_project
from tests.support.models import CLASSES, small_model


@pytest.fixture(scope="module")
def tiny():
    """(module, classes, data_config) for timm's 99k-parameter test_efficientnet at 64 px."""
    module, config = small_model("test_efficientnet")
    return module, list(CLASSES), config


@pytest.fixture(scope="module")
def varied_photos(tmp_path_factory) -> list[Path]:
    return varied_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def exported(tiny, varied_photos, tmp_path_factory):
    """One fp32 + int8 export (forced: a random model need not pass the threshold)."""
    from datacentric.export import export_model

    module, classes, config = tiny
    out = tmp_path_factory.mktemp("export")
    result = export_model(
        module,
        classes,
        config,
        out,
        paths=varied_photos,
        labels=[i % 3 for i in range(len(varied_photos))],
        int8=True,
        force=True,
        repeats=2,
        threads=1,
        backbone="test_efficientnet",
    )
    return result


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    """A project of 18 tiny coloured images with a probe model trained on the random tiny backbone."""
    import torch

    from datacentric.model import train

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("proj")
    rng = np.random.default_rng(0)
    colours = {"blue": (50, 60, 210), "green": (40, 180, 60), "red": (200, 40, 40)}
    for label, base in colours.items():
        (root / "photos" / label).mkdir(parents=True)
        for i in range(6):
            pixels = np.clip(np.array(base) + rng.normal(0, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "photos" / label / f"{label}_{i}.png")
    proj = tiny_colour_project(root / "parts", root / "photos")
    train(proj, mode="probe", repeats=1)
    proj.close()
    return root / "parts"
