"""Apply a CSV of review decisions (``file,label[,annotator][,note]``) in one go.

The batch form of ``datacentric relabel``: every row is checked before anything is
written (image known, reviewer named, label one of the classes unless new classes are
allowed), then all rows land in one transaction as relabels, each kept in the history.
A row whose label is empty is left alone (a form not filled in completely is fine).

Only the standard library is used here: the command starts as fast as ``history``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from datacentric.csv_files import check_table, file_cell_path, read_table
from datacentric.errors import DatacentricError
from datacentric.project import Annotation, Decision, Project

__all__ = ["BatchRelabel", "apply_decisions", "images_in_csv", "read_decisions"]

COLUMNS = ("file", "label", "annotator", "note")


@dataclass
class BatchRelabel:
    """What :func:`apply_decisions` did."""

    source: str
    annotations: list[Annotation] = field(default_factory=list)  # the relabels added, in row order
    changed: list[dict] = field(default_factory=list)  # [{image, before, after}]: consensus moved
    left_alone: list[str] = field(default_factory=list)  # file:line of rows with no label
    ignored_columns: list[str] = field(default_factory=list)  # columns other than COLUMNS
    conflicts: list[dict] = field(default_factory=list)  # [{image, labels, rows}]: one image, several labels


def apply_decisions(
    project: Project, path: Path | str, *, by: str | None = None, new_class: bool = False
) -> BatchRelabel:
    """Apply every decision of the CSV at ``path`` as relabels, in one transaction.

    ``by`` names the reviewer of rows without an ``annotator``. File names are relative
    to the CSV's folder; a file that exists is matched by its content (so a copy of an
    imported image works), otherwise the text is looked up as an image id, path or name.
    """
    path = Path(path)
    decisions, left_alone, ignored = read_decisions(project, path, by=by)
    before = project.labels()
    added = project.relabel_many(decisions, new_class=new_class)
    after = project.labels()
    paths = {r.id: r.path for r in project.images(None)}
    changed = [
        {"image": str(paths[i]), "before": before.get(i), "after": after[i]}
        for i in dict.fromkeys(a.image_id for a in added)
        if before.get(i) != after[i]
    ]
    return BatchRelabel(
        source=str(path),
        annotations=added,
        changed=changed,
        left_alone=left_alone,
        ignored_columns=ignored,
        conflicts=_conflicts(decisions, added, paths),
    )


def _conflicts(decisions: list[Decision], added: list[Annotation], paths: dict) -> list[dict]:
    """Images the file gives different labels (each row is kept in the history; the last decides)."""
    rows: dict[str, list[tuple[str, str]]] = {}
    for decision, annotation in zip(decisions, added):
        rows.setdefault(annotation.image_id, []).append((annotation.label, str(decision.where)))
    return [
        {"image": str(paths[i]), "labels": [label for label, _ in given], "rows": [where for _, where in given]}
        for i, given in rows.items()
        if len({label for label, _ in given}) > 1
    ]


def read_decisions(
    project: Project,
    path: Path,
    *,
    by: str | None = None,
) -> tuple[list[Decision], list[str], list[str]]:
    """The decisions of a CSV, the rows left alone (no label) and the ignored columns."""
    columns, rows = _read(path)
    decisions, left_alone = [], []
    for number, values in rows:
        where = f"{path}:{number}"
        if len(values) > len(columns):
            raise DatacentricError(f"row has {len(values)} fields, the header {len(columns)}", where)
        record = dict(zip(columns, (v.strip() for v in values)))
        if not record.get("file"):
            raise DatacentricError("no file name", where)
        if not record.get("label"):
            left_alone.append(where)
            continue
        who = record.get("annotator") or by or ""
        if not who.strip():
            raise DatacentricError("who decided? give --by or an annotator column", where)
        decisions.append(
            Decision(
                image=_reference(project, path.parent, record["file"]),
                label=record["label"],
                by=who,
                note=record.get("note") or None,
                where=where,
            )
        )
    if not decisions:
        raise DatacentricError("no decisions: every row's label is empty", path)
    return decisions, left_alone, [c for c in columns if c not in COLUMNS]


def images_in_csv(project: Project, path: Path) -> list[str]:
    """The images a CSV's ``file`` column names (as :func:`apply_decisions` finds them), in order.

    Files are matched by content when they exist, else the text is kept for
    :meth:`Project.image` to look up (and to refuse, naming it, when unknown).
    """
    columns, rows = _read(path, needed=("file",))
    index = columns.index("file")
    refs = [
        _reference(project, path.parent, values[index].strip())
        for _, values in rows
        if len(values) > index and values[index].strip()
    ]
    if not refs:
        raise DatacentricError("no file names in the CSV", path)
    return refs


def _read(path: Path, needed: tuple[str, ...] = ("file", "label")) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (``needed`` columns present, none twice) and the numbered non-empty rows."""
    columns, rows = read_table(path)
    check_table(columns, rows, needed, path)
    return columns, rows


def _reference(project: Project, folder: Path, text: str) -> str:
    """The image a ``file`` cell names: by content when the file exists, else the text itself."""
    candidate = file_cell_path(folder, text)
    try:
        if "\x00" not in text and candidate.is_file():
            digest = _sha256(candidate)
            if project.has_image(digest):
                return digest
    except (OSError, ValueError):
        pass  # unreadable: look the text up instead, and say it is not found
    return text


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
