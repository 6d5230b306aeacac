"""Images embedded in a report as base64 data URIs, with an optional click-to-zoom copy."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
from pathlib import Path

from datacentric.report.html import Html, escape

__all__ = ["image_data_uri", "thumbnail"]


def image_data_uri(path: str | Path, size: int = 180, *, fmt: str = "JPEG", quality: int = 85) -> str:
    """Load an image (any format :func:`datacentric.data.images.load_image` reads), fit it in a
    ``size`` x ``size`` box (small images are enlarged, so a 64 px image is still visible)
    and return it as a ``data:`` URI.
    """
    return _data_uri(str(path), int(size), fmt.upper(), int(quality))


@functools.lru_cache(maxsize=2048)
def _data_uri(path: str, size: int, fmt: str, quality: int) -> str:
    from PIL import Image

    from datacentric.data.images import load_image

    image = load_image(path)
    scale = size / max(image.width, image.height)
    new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    image = image.resize(new_size, resample)
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
        mime = "image/jpeg"
    else:
        image.save(buffer, format="PNG")
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def thumbnail(
    path: str | Path,
    size: int = 180,
    *,
    caption: str | None = None,
    kind: str | None = None,
    title: str | None = None,
    zoom: int = 0,
) -> Html:
    """An embedded image with an optional caption.

    ``caption`` is HTML (use :func:`escape` for plain text); ``kind`` colours the
    border (bad, good, info); ``title`` is the hover text (defaults to the file name).
    ``zoom`` > 0 also embeds the image at up to that many pixels, shown over
    the page when the thumbnail is clicked (no script: a CSS ``:target`` overlay).
    A file that cannot be read becomes a grey box saying so, never an exception.
    """
    hover = escape(title if title is not None else Path(path).name)
    try:
        uri = image_data_uri(path, size)
        img = (
            f'<img src="{uri}" width="{size}" height="{size}" style="object-fit:contain" alt="{hover}" title="{hover}">'
        )
        if zoom:
            img = _zoomable(img, image_data_uri(path, _native_side(path, zoom), quality=92), hover)
    except Exception:  # noqa: BLE001  (a report must not fail on one unreadable image)
        img = f'<div class="missing" style="width:{size}px;height:{size}px">image not readable</div>'
    cls = f"thumb {escape(kind)}" if kind else "thumb"
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return Html(f'<figure class="{cls}" style="width:{size + 6}px">{img}{cap}</figure>')


def _native_side(path: str | Path, limit: int) -> int:
    """The image's longer side in pixels, at most ``limit`` (a zoom never enlarges)."""
    from PIL import Image

    with Image.open(path) as image:
        return max(1, min(int(limit), max(image.size)))


def _zoomable(img: str, full_uri: str, hover: str) -> str:
    """Wrap a thumbnail in a link that opens the full-size copy over the page."""
    anchor = "zoom-" + hashlib.sha256(full_uri.encode("ascii")).hexdigest()[:12]
    return (
        f'<a class="zoom-in" href="#{anchor}" title="click for full size">{img}</a>'
        f'<div class="zoom" id="{anchor}"><img src="{full_uri}" alt="{hover}">'
        f'<a href="#_">close</a></div>'
    )
