"""Small helpers for the words we print."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 image``, ``2 images``; ``many`` for an irregular plural.

    Examples
    --------
    >>> plural(1, "annotator"), plural(3, "image"), plural(2, "image is", "images are")
    ('1 annotator', '3 images', '2 images are')
    """
    return f"{count} {noun if count == 1 else many or noun + 's'}"
