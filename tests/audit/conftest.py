"""Synthetic data for the audit tests: arrays with planted label errors, and tiny images."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image
from tests.support.synthetic import Synthetic, make_synthetic


@pytest.fixture
def synthetic() -> Synthetic:
    return make_synthetic()


@pytest.fixture
def tiny_images(tmp_path):
    """Write N tiny PNGs (coloured by class) and return a function giving their paths."""

    def write(labels: np.ndarray) -> list[str]:
        paths = []
        colours = [(200, 200, 200), (40, 40, 160), (160, 40, 40), (40, 160, 40)]
        for i, c in enumerate(labels):
            path = tmp_path / f"img_{i:03d}.png"
            Image.new("RGB", (32, 32), colours[int(c) % 4]).save(path)
            paths.append(str(path))
        return paths

    return write
