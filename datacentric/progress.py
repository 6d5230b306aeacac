"""Progress bars for long work, drawn on stderr so ``--json`` output stays clean.

Library code wraps loops in :func:`track`; it shows a bar only when progress is
switched on (the CLI does so for interactive use) and is a no-op otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console

__all__ = ["set_enabled", "track"]

T = TypeVar("T")
_state = {"enabled": False}
_console = Console(stderr=True)


def set_enabled(enabled: bool) -> None:
    """Switch progress bars on or off for this process."""
    _state["enabled"] = enabled


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items``, with a progress bar on stderr when enabled."""
    if not _state["enabled"]:
        yield from items
        return
    from rich.markup import escape
    from rich.progress import track as _rich_track  # only when a bar is drawn

    # the description may hold a class name: escaped, it is never read as markup
    yield from _rich_track(items, description=escape(description), total=total, console=_console, transient=True)
