"""Fixtures for the improve tests: a tiny defect project and stand-ins for the model.

``fake_cross_val`` follows the ``datacentric.model.cross_val_probs`` contract
(extra rows join a fold's training part only with their parent; never
validated) with logistic regression, so the lift logic is tested on its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.support.fakes import fake_cross_val, fake_embed
from tests.support.factories import texture, with_pit, with_scratch


@pytest.fixture
def defect_project(tmp_path: Path):
    """A project with ok (12), scratch (10) and pit (5) tiny images, labelled by 'mira'."""
    from datacentric.data.importers import import_folder
    from datacentric.project import Project

    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    makers = {
        "ok": (12, lambda im: im),
        "scratch": (10, lambda im: with_scratch(im, rng)),
        "pit": (5, lambda im: with_pit(im, rng)),
    }
    for label, (count, make) in makers.items():
        (photos / label).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(make(texture(rng))).save(photos / label / f"{label}_{i}.png")
    with Project.init(tmp_path / "parts", classes=["ok", "scratch", "pit"]) as proj:
        import_folder(proj, photos, annotator="mira")
        yield proj


@pytest.fixture
def fake_model(monkeypatch):
    """Route the improve workflow's embeddings and cross-validation to the stand-ins."""
    from datacentric.improve import workflow

    monkeypatch.setattr(workflow, "_embed", lambda proj, paths: fake_embed(paths))
    monkeypatch.setattr(workflow, "_cross_val", lambda: fake_cross_val)
    return fake_cross_val
