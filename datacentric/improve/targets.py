"""Choosing what ``improve`` fixes: the weak classes, the defect-free canvas class, the weak slices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.data.images import load_image
from datacentric.project import Project
from datacentric.runs import read_audit

__all__ = ["background_class", "brightness_spread", "find_targets", "is_defect_free", "weak_slices"]

BACKGROUND_NAMES = ("ok", "good", "normal", "pass", "background", "none", "no_defect")


def find_targets(proj: Project, *, recall: dict[str, float] | None = None) -> tuple[list[str], str]:
    """The classes to improve and where that came from.

    The latest audit's weak classes; else the lowest-recall class of the champion
    train run; else of ``recall`` (a baseline measured now).
    """
    audit = proj.latest_audit()
    if audit is not None:
        data = read_audit(audit)
        weak = [c["name"] for c in data.get("classes", []) if c.get("weak")]
        if weak:
            return weak, f"weak classes of audit {audit.id}"
    train = proj.champion()
    per_class = (train.metrics.get("per_class") if train is not None else None) or {}
    scores = {c: v.get("recall") for c, v in per_class.items() if v.get("recall") is not None}
    source = f"lowest recall in train run {train.id}" if scores else "lowest recall measured now"
    scores = scores or {c: v for c, v in (recall or {}).items() if np.isfinite(v)}
    if not scores:
        raise DatacentricError("no audit or train run to pick weak classes from; name one with --class", proj.root)
    low = min(scores.values())
    return [c for c, v in sorted(scores.items()) if v <= low + 0.02], source


def is_defect_free(name: str) -> bool:
    """Whether ``name`` is the class of parts without a defect ('ok', 'good', ...)."""
    return name.lower() in BACKGROUND_NAMES


def background_class(classes: Sequence[str], targets: Sequence[str], counts: dict[str, int]) -> str:
    """The defect-free class synthetic defects are pasted onto: 'ok' (or alike), else the largest other."""
    for name in classes:
        if is_defect_free(name) and name not in targets:
            return name
    others = [c for c in classes if c not in targets and counts.get(c, 0)]
    if not others:
        raise DatacentricError("no defect-free class to use as background")
    return max(others, key=lambda c: counts[c])


def weak_slices(proj: Project) -> list[dict]:
    """The weak metadata slices (camera, line, ...) of the latest audit; none without one."""
    audit = proj.latest_audit()
    if audit is None:
        return []
    data = read_audit(audit)
    return [s for s in data.get("slices", []) if s.get("weak")]


def brightness_spread(paths: Sequence[Path], limit: int = 60) -> float:
    """The spread (standard deviation, 0..1) of mean brightness over the first ``limit`` images."""
    values = [float(np.asarray(load_image(p).convert("L").resize((32, 32))).mean()) / 255 for p in paths[:limit]]
    return float(np.std(values)) if len(values) > 1 else 0.0
