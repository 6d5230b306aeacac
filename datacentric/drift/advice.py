"""What to do after a drift check: the "next" lines, with an offline route that needs no server.

When the batch drifted, the most different images are copied to ``to_label/`` in the run
folder and listed in ``to_label.csv`` (columns file,label; the label column empty). Fill
in the labels in any spreadsheet and ``datacentric import`` the CSV: no Label Studio
needed. Label Studio stays the second route.
"""

from __future__ import annotations

import csv
import io
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.words import plural
from datacentric.paths import write_atomic

if TYPE_CHECKING:
    from datacentric.drift.result import DriftResult
    from datacentric.project import Project

__all__ = ["LABEL_FORM", "next_steps", "write_label_form"]

LABEL_FORM = "to_label.csv"  # beside to_label/ in the drift run folder


def next_steps(project: Project, result: DriftResult, to_label: Path) -> list[str]:
    """The advice lines of one :class:`~datacentric.drift.DriftResult` (commands never wrapped)."""
    root = shlex.quote(str(project.root))
    if not result.drift:
        lines = [f"no drift at alpha {result.alpha}: the batch looks like the training images"]
        if result.unusual:
            lines.append(
                f"{plural(result.unusual, 'image is', 'images are')} individually unusual; glance at the report"
            )
        return lines
    copies = sorted(p for p in to_label.iterdir() if p.is_file()) if to_label.is_dir() else []
    if not copies:
        return [f"look at the report, label new images like these and run: datacentric retrain {root}"]
    form = write_label_form(copies, to_label.parent / LABEL_FORM)
    k = len(copies)
    return [
        f"label the {plural(k, 'most different image')} offline: fill in the label column of "
        f"{form} (any spreadsheet; rows left empty come in unlabelled), then run: "
        f"datacentric import {root} {shlex.quote(str(form))} --annotator NAME",
        f"or in Label Studio: datacentric import {root} {shlex.quote(str(to_label))} "
        f"&& datacentric labelstudio push {root} --url http://localhost:8080, "
        f"then datacentric labelstudio pull {root}",
        f"then run: datacentric retrain {root}",
    ]


def write_label_form(images: list[Path], path: Path) -> Path:
    """Write ``file,label`` rows (file relative to the form's folder, label empty); return the path."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["file", "label"])
    for image in images:
        writer.writerow([image.relative_to(path.parent).as_posix(), ""])
    write_atomic(path, text.getvalue())
    return path
