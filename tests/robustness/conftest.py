"""Helpers for the robustness suite: run the CLI, fingerprint the store, list stray files.

Every case here is one of issue #17's: a bad input or a fault must end in one line
(``error: ...``), a non-zero exit, and an unchanged store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.factories import write_image
from tests.support.cli import invoke


@pytest.fixture
def proj(tmp_path: Path, photos: Path) -> Path:
    """A project folder with the ``photos`` fixture (ok, pit, scratch; 4 each) imported."""
    root = tmp_path / "proj"
    assert invoke("init", root).exit_code == 0
    result = invoke("import", root, photos, "--annotator", "mira")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def two_images(tmp_path: Path) -> Path:
    """A folder ``shots/`` with a.png and b.png (distinct bytes)."""
    folder = tmp_path / "shots"
    write_image(folder / "a.png", seed=1001)
    write_image(folder / "b.png", seed=1002)
    return folder
