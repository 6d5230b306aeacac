"""Drift per metadata group or time window, corrected across groups.

With a month of production in one batch, every test has so much data that the tiniest,
harmless difference becomes "significant" -- and a real change on one camera or in one
night is diluted by everything else. ``datacentric drift ... --per camera,shift`` or
``--window 1h`` splits the new images into groups and tests each one against the
training images (the full check of :class:`~datacentric.drift.DriftCheck`: embedding,
pixel statistics and class mix, Bonferroni over the families). Testing many groups raises
the chance that one of them rejects by luck, so the group p-values are Holm-corrected
(:func:`datacentric.drift.pixel_stats.holm`: family-wise error at most alpha over all groups);
a group drifts when its corrected p-value is below alpha.

Where the groups come from
--------------------------
* ``--metadata FILE.csv``: a ``file`` column (paths relative to the CSV's folder, as for
  ``datacentric import``) and any other columns (camera, shift, line, ``timestamp``).
  Images absent from it are in the group ``(missing)``.
* the pseudo-column ``folder``: the first sub-folder under the tested folder (for
  production folders laid out as ``line3/cam1/...``), no CSV needed.
* ``--window 1h`` (``30s``, ``15min``, ``1h``, ``1d``): windows of that width aligned to
  the Unix epoch (UTC), by the metadata's ``timestamp`` column (ISO 8601) when it has
  one, else by each file's modification time.
Groups with fewer than :data:`MIN_GROUP` images are listed but not tested.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.csv_files import file_cell_path, read_table
from datacentric.drift.pixel_stats import holm
from datacentric.errors import DatacentricError

if TYPE_CHECKING:
    from datacentric.drift.check import DriftCheck

__all__ = ["MIN_GROUP", "GroupVerdict", "group_images", "parse_window", "score_groups"]

MIN_GROUP = 5  # images a group needs to be tested
MISSING = "(missing)"  # the value of an image the metadata does not list
_UNITS = {"s": 1, "min": 60, "m": 60, "h": 3600, "d": 86400}


@dataclass
class GroupVerdict:
    """The drift verdict of one group of new images."""

    group: str  # e.g. "camera=B, shift=night" or "2026-11-02T13:00Z"
    n: int  # readable images in the group
    tested: bool  # False: fewer than MIN_GROUP images
    drift: bool = False  # p_adjusted < alpha
    p_value: float | None = None  # the group's own p-value (Bonferroni over the families)
    p_adjusted: float | None = None  # Holm over every tested group
    p_values: dict[str, float] = field(default_factory=dict)  # embedding | pixel_stats | class_mix
    changes: list[str] = field(default_factory=list)
    description: str = ""


def parse_window(text: str) -> float:
    """Seconds in a window like ``30s``, ``15min``, ``1h``, ``2d``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d)\s*", text or "")
    if not match or float(match.group(1)) <= 0:
        raise DatacentricError(f"window '{text}' is not a duration like 30s, 15min, 1h or 1d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def read_metadata(csv_path: Path | str) -> dict[Path, dict[str, str]]:
    """Rows of a metadata CSV by resolved image path (``file`` relative to the CSV's folder),
    read as :func:`datacentric.csv_files.read_table` reads a spreadsheet's CSV.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatacentricError("metadata CSV not found", csv_path)
    columns, records = read_table(csv_path)
    if "file" not in columns:
        raise DatacentricError("the metadata CSV needs a 'file' column", csv_path)
    rows = {}
    for line, values in records:
        record = dict(zip(columns, (v.strip() for v in values)))
        if "\x00" in record.get("file", ""):
            raise DatacentricError("file name holds a NUL byte", f"{csv_path}:{line}")
        path = file_cell_path(csv_path.parent, record.get("file", ""))
        rows[path.resolve()] = {k: record.get(k, "") for k in columns if k and k != "file"}
    return rows


def group_images(
    paths: Sequence[Path],
    folder: Path,
    *,
    per: Sequence[str] = (),
    window: str | None = None,
    metadata: Path | str | None = None,
) -> dict[str, list[int]]:
    """Group names (in order) and the indices of ``paths`` in each."""
    rows = read_metadata(metadata) if metadata is not None else {}
    columns = {c for row in rows.values() for c in row}
    unknown = [c for c in per if c != "folder" and c not in columns]
    if unknown:
        where = (
            f"columns of {metadata}: {', '.join(sorted(columns)) or 'none'}"
            if metadata
            else "give --metadata FILE.csv with a 'file' column, or use --per folder"
        )
        raise DatacentricError(f"no metadata column {', '.join(unknown)} ({where})")
    width = parse_window(window) if window else None
    groups: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        row = rows.get(Path(path).resolve(), {})
        parts = [f"{c}={_value(c, path, folder, row)}" for c in per]
        if width is not None:
            parts.append(_window_label(_timestamp(path, row), width))
        groups.setdefault(", ".join(parts), []).append(i)
    return dict(sorted(groups.items()))


def _value(column: str, path: Path, folder: Path, row: dict[str, str]) -> str:
    """One image's value of a metadata column (``folder``: its first sub-folder)."""
    if column == "folder":
        relative = Path(path).resolve().relative_to(Path(folder).resolve())
        return relative.parts[0] if len(relative.parts) > 1 else "."
    return row.get(column) or MISSING


def _timestamp(path: Path, row: dict[str, str]) -> float:
    """Seconds since the epoch: the ``timestamp`` column (ISO 8601, UTC unless it says), else mtime."""
    text = row.get("timestamp")
    if not text:
        return Path(path).stat().st_mtime
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DatacentricError(f"timestamp '{text}' is not ISO 8601 (2026-11-02T13:05:00)", path) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _window_label(seconds: float, width: float) -> str:
    """The start of the window holding ``seconds``, in UTC."""
    start = datetime.fromtimestamp(np.floor(seconds / width) * width, tz=timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ" if width % 60 else "%Y-%m-%dT%H:%MZ")


def score_groups(
    check: DriftCheck,
    groups: dict[str, list[int]],
    *,
    alpha: float,
    X: np.ndarray,
    statistics: np.ndarray | None,
    predicted: np.ndarray | None,
) -> list[GroupVerdict]:
    """Score every group of at least :data:`MIN_GROUP` images with the fitted ``check``; Holm across them."""
    verdicts = []
    for name, members in groups.items():
        verdict = GroupVerdict(group=name, n=len(members), tested=len(members) >= MIN_GROUP)
        if verdict.tested:
            idx = np.asarray(members)
            score = check.score(
                X[idx],
                statistics=None if statistics is None else statistics[idx],
                predicted=None if predicted is None else predicted[idx],
            )
            verdict.p_value, verdict.p_values = float(score.p_value), dict(score.p_values)
            verdict.changes, verdict.description = list(score.changes), score.description
        verdicts.append(verdict)
    tested = [v for v in verdicts if v.tested]
    for verdict, adjusted in zip(tested, holm(np.array([v.p_value for v in tested]))):
        verdict.p_adjusted = float(adjusted)
        verdict.drift = bool(adjusted < alpha)
    return verdicts
