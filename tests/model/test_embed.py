"""Embeddings: batching, cache, grayscale, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import datacentric.model.embeddings as embed_mod
from datacentric.errors import DatacentricError
from datacentric.model import embed, embed_project
from tests.support.factories import write_image

TINY = "test_efficientnet@random"


@pytest.fixture
def count_forwards(monkeypatch):
    calls = {"batches": 0, "images": 0}
    real = embed_mod.forward

    def counting(model, batch):
        calls["batches"] += 1
        calls["images"] += batch.shape[0]
        return real(model, batch)

    monkeypatch.setattr(embed_mod, "forward", counting)
    return calls


def test_second_run_does_no_forward_passes(images, tmp_path: Path, count_forwards):
    paths = [p for ps in images.values() for p in ps]
    first = embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", batch_size=10, image_size=32)
    assert first.shape == (24, 256) and first.dtype == np.float32
    assert count_forwards == {"batches": 3, "images": 24}
    second = embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", batch_size=10, image_size=32)
    assert count_forwards["batches"] == 3  # all from the cache
    np.testing.assert_array_equal(first, second)
    # another preprocessing is another cache key: computed again
    embed(paths[:4], backbone=TINY, cache_dir=tmp_path / "cache", image_size=48)
    assert count_forwards["images"] == 28


def test_a_cached_key_and_onnx_file_build_no_model(images, tmp_path: Path, monkeypatch):
    paths = [p for ps in images.values() for p in ps]
    first = embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", image_size=32)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was built although every vector is cached")

    monkeypatch.setattr(embed_mod, "feature_model", no_model)
    np.testing.assert_array_equal(embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", image_size=32), first)
    new = write_image(paths[0].with_name("new.png"), seed=7)  # embedded by the cached ONNX file alone
    assert embed([*paths, new], backbone=TINY, cache_dir=tmp_path / "cache", image_size=32).shape == (
        len(paths) + 1,
        first.shape[1],
    )
    with pytest.raises(AssertionError, match="model was built"):  # another image size needs the model
        embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", image_size=48)


def test_fully_cached_run_imports_neither_torch_nor_timm(images, tmp_path: Path):
    import subprocess
    import sys

    paths = [p for ps in images.values() for p in ps]
    embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", image_size=32)
    script = (
        "import sys; from datacentric.model import embed; "
        f"embed({[str(p) for p in paths]!r}, backbone={TINY!r}, cache_dir={str(tmp_path / 'cache')!r}, "
        "image_size=32); print(sorted(m for m in ('torch', 'timm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_cached_equals_uncached_and_order_is_kept(images, tmp_path: Path):
    paths = [p for ps in images.values() for p in ps]
    embed(paths[::2], backbone=TINY, cache_dir=tmp_path / "c", image_size=32)  # half cached
    mixed = embed(paths, backbone=TINY, cache_dir=tmp_path / "c", image_size=32, batch_size=5)
    plain = embed(paths, backbone=TINY, image_size=32, batch_size=7)
    np.testing.assert_allclose(mixed, plain, atol=1e-5)
    assert not np.allclose(plain[0], plain[-1])  # red and blue images differ


def test_grayscale_and_rgba_become_three_channels(tmp_path: Path):
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((30, 30), 120, np.uint8)).save(gray)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.full((30, 30, 4), 120, np.uint8)).save(rgba)
    out = embed([gray, rgba], backbone=TINY, image_size=32)
    assert out.shape == (2, 256) and np.isfinite(out).all()


def test_bad_file_names_the_file(images, tmp_path: Path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DatacentricError) as info:
        embed([images["red"][0], bad], backbone=TINY, image_size=32)
    assert "broken.png" in str(info.value)


def test_embed_project_uses_project_cache_and_dataset_order(colour_project, count_forwards):
    X = embed_project(colour_project)
    assert X.shape == (len(colour_project.dataset()), 256)
    assert list((colour_project.cache_dir / "embeddings").glob("*/*.npy"))
    before = count_forwards["batches"]
    np.testing.assert_array_equal(embed_project(colour_project), X)
    assert count_forwards["batches"] == before
