"""Fixtures for the demo generator tests: one small demo data set per session."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from datacentric.demo import DemoData, generate_demo


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    """A 40-image demo (8 per class, 32 px), written once for the session; do not modify it."""
    return generate_demo(tmp_path_factory.mktemp("demo") / "data", per_class=8, seed=3, image_size=32)
