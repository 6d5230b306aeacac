from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from datacentric.errors import DatacentricError
from datacentric.data.images import content_hash, inspect_image, load_image
from tests.support.factories import write_image


def test_grayscale_rgba_and_16bit_load_as_8bit_rgb(tmp_path):
    gray = write_image(tmp_path / "g.png", 1, mode="L")
    rgba = write_image(tmp_path / "a.png", 2, mode="RGBA")
    deep = tmp_path / "d.png"
    Image.fromarray((np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)).save(deep)
    for path in (gray, rgba, deep):
        image = load_image(path)
        assert image.mode == "RGB" and image.size == (32, 32)
    pixels = np.asarray(load_image(deep))
    assert pixels.max() > 200  # 16-bit range scaled down, not clipped to black


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rot.jpg"
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    image.save(path, exif=exif)
    assert load_image(path).size == (20, 40)


@pytest.mark.parametrize(
    "content, name, reason",
    [
        (b"", "empty.png", "empty file"),
        (b"not an image at all", "text.png", "not an image"),
        (b"hello", "notes.txt", "unsupported file type"),
    ],
)
def test_bad_files_are_named_with_a_reason(tmp_path, content, name, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DatacentricError) as info:
        inspect_image(path)
    assert reason in info.value.what
    assert info.value.where == str(path)


def test_truncated_image_is_refused(tmp_path):
    path = write_image(tmp_path / "t.jpg", 3, size=64)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatacentricError, match="cannot read image"):
        inspect_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(DatacentricError, match="not found"):
        inspect_image(tmp_path / "nope.png")


def test_content_hash_identifies_bytes_not_names(tmp_path):
    a = write_image(tmp_path / "a.png", 7)
    b = tmp_path / "b.png"
    b.write_bytes(a.read_bytes())
    c = write_image(tmp_path / "c.png", 8)
    assert content_hash(a) == content_hash(b) != content_hash(c)
