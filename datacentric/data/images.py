"""Validated image loading and content hashing.

Every image enters the project through :func:`inspect_image`, which reports
corrupt, truncated, empty, non-image and unsupported files by path with a
reason, and every pixel read goes through :func:`load_image`, which returns an
8-bit RGB picture whatever the file held (grayscale, RGBA, 16-bit, EXIF-rotated).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from datacentric.errors import DatacentricError

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageInfo",
    "bytes_hash",
    "content_hash",
    "decode_image",
    "expand_paths",
    "inspect_image",
    "list_images",
    "load_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class ImageInfo:
    """What an import needs to know about one valid image file."""

    path: Path
    id: str  # sha256 of the file's bytes
    width: int
    height: int


def content_hash(path: Path | str) -> str:
    """Return the sha256 hex digest of a file's bytes (the image's identity)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _to_rgb(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = float(array.max()) or 1.0
        scale = 65535.0 if top > 255 else 255.0
        image = Image.fromarray(np.clip(array / scale * 255.0, 0, 255).astype(np.uint8))
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        array = (array - low) / ((high - low) or 1.0) * 255.0
        image = Image.fromarray(array.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def load_image(path: Path | str) -> Image.Image:
    """Load an image as 8-bit RGB, upright (EXIF orientation applied).

    Raises :class:`DatacentricError` naming the file when it cannot be read.
    """
    return _open_rgb(Path(path), Path(path))


def decode_image(data: bytes, where: Path | str) -> Image.Image:
    """:func:`load_image` for a file's bytes already in memory (``where`` names it in errors).

    Workers that receive raw bytes (Ray Data's ``read_binary_files``) decode with this, so
    orientation, 16-bit and alpha come out exactly as when the file is read locally.
    """
    import io

    return _open_rgb(io.BytesIO(data), where)


def bytes_hash(data: bytes) -> str:
    """:func:`content_hash` of bytes already in memory."""
    return hashlib.sha256(data).hexdigest()


def _open_rgb(source, where) -> Image.Image:
    try:
        with Image.open(source) as image:
            image.load()
            return _to_rgb(image)
    except FileNotFoundError:
        raise DatacentricError("image not found", where) from None
    except Image.DecompressionBombError:
        raise DatacentricError(
            f"image too large: more than {Image.MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)",
            where,
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DatacentricError(f"cannot read image: {_reason(exc)}", where) from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, UnidentifiedImageError):
        return "not an image file"
    if "truncated" in text.lower():
        return "truncated file"
    return text


def inspect_image(path: Path | str) -> ImageInfo:
    """Validate one image file fully (decode every pixel) and return its facts.

    Raises :class:`DatacentricError` with the reason: missing, empty,
    unsupported suffix, not an image, truncated or corrupt.
    """
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DatacentricError(
            f"unsupported file type '{path.suffix or '(none)'}' (expected one of {', '.join(IMAGE_SUFFIXES)})",
            path,
        )
    if path.stat().st_size == 0:
        raise DatacentricError("empty file (0 bytes)", path)
    image = load_image(path)
    try:
        digest = content_hash(path)
    except OSError as exc:
        raise DatacentricError(f"cannot read image: {exc.strerror or exc}", path) from None
    return ImageInfo(path=path, id=digest, width=image.width, height=image.height)


def _check_file(path: Path) -> None:
    """Raise a one-line error unless ``path`` names an existing regular file."""
    if "\x00" in str(path):
        raise DatacentricError("file name holds a NUL byte", ascii(str(path)))
    if not str(path).isprintable() and not _utf8(str(path)):
        raise DatacentricError("file name is not valid UTF-8; rename the file", ascii(str(path)))
    try:
        exists, is_file, is_link = path.exists(), path.is_file(), path.is_symlink()
    except OSError as exc:
        raise DatacentricError(f"cannot read image: {exc.strerror or exc}", path) from None
    if is_link and not exists:
        raise DatacentricError("broken or looping symbolic link", path)
    if not exists:
        raise DatacentricError("image not found", path)
    if not is_file:
        raise DatacentricError("not a file", path)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def list_images(folder: Path | str) -> list[Path]:
    """Return the files under ``folder`` (recursively) whose suffix is an image type, sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def expand_paths(paths: Sequence[Path | str] | Path | str) -> list[Path]:
    """Folders become the image files under them (sorted); files stay as given.

    A path that does not exist is refused (a mistyped folder is not an empty one); a file
    that exists but cannot be decoded is left for the caller to report.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            out.extend(list_images(item))
        elif item.exists():
            out.append(item)
        else:
            raise DatacentricError("no such file or folder", item)
    return out
