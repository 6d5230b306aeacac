"""Where the project may write, and writing files so that a kill never leaves half a file.

Every path the project builds from data (class names, run ids, generator names)
goes through :func:`inside`, which refuses a path that resolves outside its root.
:func:`write_atomic`, :func:`write_npz` and :func:`copy_atomic` write to a temporary
file beside the target and rename it over the target, so a reader sees the old file
or the new one, never a truncated one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.errors import DatacentricError

if TYPE_CHECKING:  # numpy is imported only when arrays are written: the store-only commands skip it
    from numpy.typing import ArrayLike

__all__ = ["UNREADABLE_ARRAYS", "check_writable", "copy_atomic", "inside", "write_atomic", "write_npz"]

# What numpy raises for a damaged .npy / .npz (truncated, not a zip, bad CRC, missing key):
# catch these to turn a broken file into one line, or to recompute a cache.
UNREADABLE_ARRAYS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def inside(root: Path | str, *parts: str | Path) -> Path:
    """``root / parts...`` resolved; raises :class:`DatacentricError` if it leaves ``root``.

    Examples
    --------
    >>> inside("/tmp/p", "runs", "a").as_posix()
    '/tmp/p/runs/a'
    >>> inside("/tmp/p", "generated", "../../x")
    Traceback (most recent call last):
    ...
    datacentric.errors.DatacentricError: refusing to write outside the project folder (/tmp/x)
    """
    base = Path(root).resolve()
    for part in parts:
        if "\x00" in str(part):
            raise DatacentricError("refusing a file name with a NUL byte", base)
    path = base.joinpath(*parts).resolve()
    if path != base and not path.is_relative_to(base):
        raise DatacentricError("refusing to write outside the project folder", path)
    return path


def write_atomic(path: Path | str, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; returns the path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return _replace_with(Path(path), lambda handle: handle.write(payload))


def write_npz(path: Path | str, **arrays: ArrayLike) -> Path:
    """Save arrays as ``.npz`` at ``path`` (the name kept as given) through :func:`write_atomic`."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_atomic(path, buffer.getvalue())


def copy_atomic(source: Path | str, target: Path | str) -> Path:
    """Copy ``source`` over ``target`` through a temporary file and a rename."""
    with open(source, "rb") as src:
        return _replace_with(Path(target), lambda handle: shutil.copyfileobj(src, handle))


def check_writable(path: Path | str) -> Path:
    """Refuse in one line, before any work, a file path that cannot be written: its folder
    cannot be made or written, or the path is a folder. Returns the path.
    """
    path = Path(path)
    if path.is_dir():
        raise DatacentricError("this is a folder; name a file", path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # the folders to make come later, with the file
        folder = folder.parent
    if not folder.is_dir():
        raise DatacentricError("cannot write here: a file stands where a folder is needed", path)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise DatacentricError(f"cannot write here: {exc.strerror or exc}", path) from None
    os.close(fd)
    os.unlink(probe)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_PLAIN_FILE_MODE = 0o666 & ~_umask()  # what open(path, "w") would have given


def _replace_with(path: Path, fill: Callable) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise DatacentricError(f"cannot write here: {exc.strerror or exc}", path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _PLAIN_FILE_MODE)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
