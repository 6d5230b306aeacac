"""Cases that need a trained model: predict on a bomb, train and audit reporting odd names,
audit on a read-only project. One tiny random backbone trained once for the module."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacentric.project import Project

from tests.support.factories import write_image
from tests.support.cli import assert_one_line_error, invoke, promise
from tests.support.files import store_digest
from tests.robustness.test_faults import needs_mount, tmpfs

TINY = "test_efficientnet@random"  # 99k-parameter random timm model, no weights needed
ODD = "[red]x[bold]"  # a class name that is rich markup


def _trained(root: Path, photos: Path) -> Path:
    assert invoke("init", root, "--backbone", TINY).exit_code == 0
    settings = root / "datacentric.toml"
    text = settings.read_text().replace("image_size = 0", "image_size = 32").replace("folds = 5", "folds = 2")
    settings.write_text(text)
    assert invoke("import", root, photos).exit_code == 0
    result = invoke("train", root)
    assert result.exit_code == 0, result.output
    return root


def _photos(folder: Path) -> Path:
    for c, name in enumerate(["ok", "pit", ODD]):
        for i in range(4):
            write_image(folder / name / f"{c}_{i}.png", seed=300 + 10 * c + i)
    return folder


@pytest.fixture(scope="module")
def odd_classes_trained(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("trained")
    return _trained(base / "proj", _photos(base / "photos"))


@promise("F3")
def test_a_class_named_like_markup_prints_in_train_and_status(odd_classes_trained):
    train = invoke("train", odd_classes_trained)
    assert train.exit_code == 0 and ODD in train.output
    status = invoke("status", odd_classes_trained)
    assert status.exit_code == 0 and f"{ODD} 4" in status.output


@promise("F1")
def test_predict_lists_a_decompression_bomb_as_unreadable(odd_classes_trained, tmp_path, monkeypatch):
    bomb = write_image(tmp_path / "bomb.png", seed=4, size=64)
    fine = write_image(tmp_path / "fine.png", seed=5, size=16)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)  # 64x64 is over twice that: a bomb
    result = invoke("predict", odd_classes_trained, bomb, fine)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "bomb.png: unreadable — image too large" in text and "1 unreadable file(s) skipped" in text


@promise("X4")
def test_predict_on_a_path_that_does_not_exist_is_one_line(odd_classes_trained, tmp_path):
    fine = write_image(tmp_path / "fine.png", seed=5, size=16)
    assert_one_line_error(invoke("predict", odd_classes_trained, fine, tmp_path / "typo"), "no such file or folder")


@promise("F4")
@needs_mount
def test_audit_on_a_read_only_project_is_one_line(tmp_path):
    with tmpfs(tmp_path / "disk", "16m") as disk:
        root = _trained(disk / "p", _photos(tmp_path / "photos"))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        before = store_digest(root)
        assert_one_line_error(invoke("audit", root), "read-only")
        assert store_digest(root) == before


@promise("F1")
@pytest.mark.parametrize("damaged, command", [("oof.npz", "audit"), ("probe.npz", "predict")])
def test_a_truncated_run_file_is_one_line(odd_classes_trained, tmp_path, damaged, command):
    root = shutil.copytree(odd_classes_trained, tmp_path / "copy")
    with Project.open(root) as project:
        run = project.champion().dir
    (run / damaged).write_bytes((run / damaged).read_bytes()[:40])  # cut off mid-write
    extra = [write_image(tmp_path / "new.png", seed=901)] if command == "predict" else []
    assert_one_line_error(invoke(command, root, *extra), damaged)


def test_a_truncated_pixel_statistics_cache_is_recomputed(odd_classes_trained, tmp_path):
    root = shutil.copytree(odd_classes_trained, tmp_path / "copy")
    for i in range(5):
        write_image(tmp_path / "new" / f"n{i}.png", seed=900 + i)
    assert invoke("drift", root, tmp_path / "new").exit_code == 0
    cache = next(root.rglob("pixel_stats_v1.npz"))
    cache.write_bytes(cache.read_bytes()[:40])
    result = invoke("drift", root, tmp_path / "new")
    assert result.exit_code == 0, result.output
    with np.load(cache) as stored:  # rewritten whole
        assert len(stored["ids"]) == 12
