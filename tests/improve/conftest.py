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


def fake_cross_val(X, y, *, folds=5, seed=0, repeats=1, extra_X=None, extra_y=None, extra_parent=None):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    k = int(y.max()) + 1
    probs = np.zeros((len(y), k))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(X, y):
        Xt, yt = X[train], y[train]
        if extra_X is not None and len(extra_X):
            use = np.isin(extra_parent, train)
            Xt, yt = np.vstack([Xt, extra_X[use]]), np.concatenate([yt, extra_y[use]])
        clf = LogisticRegression(max_iter=1000, C=0.3).fit(Xt, yt)
        probs[np.ix_(test, clf.classes_)] = clf.predict_proba(X[test])
    return probs


def fake_embed(paths) -> np.ndarray:
    """Hand-made features of tiny images: 4x4 gray thumbnail, darkest pixel, spread."""
    rows = []
    for p in paths:
        gray = np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255
        thumb = np.asarray(Image.fromarray((gray * 255).astype(np.uint8)).resize((4, 4)), dtype=np.float32) / 255
        rows.append(np.concatenate([thumb.ravel(), [gray.min(), gray.std(), (gray < 0.3).mean() * 10]]))
    return np.array(rows, dtype=np.float32)


def texture(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    base = rng.normal(150, 8, (size, size, 1)).clip(0, 255)
    return np.repeat(base, 3, axis=2).astype(np.uint8)


def with_pit(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = image.astype(np.float32)
    h, w = out.shape[:2]
    cy, cx = rng.integers(8, h - 8), rng.integers(8, w - 8)
    ys, xs = np.mgrid[0:h, 0:w]
    out -= 110 * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / 6.0)[..., None]
    return out.clip(0, 255).astype(np.uint8)


def with_scratch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = image.copy()
    row = rng.integers(6, out.shape[0] - 6)
    out[row:row + 2, 4:-4] = 60
    return out


@pytest.fixture
def defect_project(tmp_path: Path):
    """A project with ok (12), scratch (10) and pit (5) tiny images, labelled by 'mira'."""
    from datacentric.importers import import_folder
    from datacentric.project import Project

    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    makers = {"ok": (12, lambda im: im), "scratch": (10, lambda im: with_scratch(im, rng)),
              "pit": (5, lambda im: with_pit(im, rng))}
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
