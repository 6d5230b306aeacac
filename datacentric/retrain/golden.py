"""The golden set: the fixed held-out real images champion and challenger are scored on.

Named by the user (a CSV or list file, or a stored golden run id), or by default a
deterministic stratified holdout that keeps the champion's groups whole; stored once as a
"golden" run and reused by every later retrain (see :mod:`datacentric.retrain`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.csv_files import file_cell_path, is_file, is_table, key_column, read_table
from datacentric.errors import DatacentricError
from datacentric.runs import write_run_json

if TYPE_CHECKING:
    from datacentric.project import Project

__all__ = ["GoldenImages", "GoldenSet", "golden_images", "golden_set", "holdout_groups"]

HOLDOUT_FRACTION = 0.2
GOLDEN_COLUMNS = ("file", "image", "path", "id")  # a golden CSV names its images in the first it has


@dataclass
class GoldenSet:
    """The fixed held-out real images both models are scored on."""

    ids: list[str]
    source: str  # "holdout" or the file it was read from
    run_id: str  # the "golden" run that stores it


@dataclass
class GoldenImages:
    """The golden images that still have a label, as the models are scored on them."""

    ids: list[str]
    paths: list[Path]
    labels: list[str]
    notes: list[str]  # on any golden image left out


def golden_set(project: Project, golden: str | Path | None = None) -> GoldenSet:
    """The golden set: the stored one, a new one from a file or run id, or a new holdout.

    ``golden`` None reuses the latest stored golden set, or chooses and stores the
    default holdout the first time. A file (CSV or list) or a golden run id picks one
    explicitly (a file is stored as a new golden run and becomes the default).
    """
    if golden is None:
        stored = project.latest_run("golden")
        if stored is not None:
            return GoldenSet(list(stored.config["ids"]), stored.config["source"], stored.id)
        ids, source = _holdout(project), "holdout"
    elif Path(golden).is_file():
        ids, source = _read_golden_file(project, Path(golden)), str(Path(golden).resolve())
    else:
        try:
            stored = project.run(str(golden))
        except DatacentricError:
            raise DatacentricError("golden set not found: give a CSV/list file or a golden run id", golden) from None
        if stored.kind != "golden":
            raise DatacentricError(f"run '{stored.id}' is a {stored.kind} run, not a golden set", project.root)
        return GoldenSet(list(stored.config["ids"]), stored.config["source"], stored.id)
    if not ids:
        raise DatacentricError("the golden set is empty (need labelled real images)", source)
    run = project.new_run(
        "golden", {"ids": ids, "source": source, "fraction": HOLDOUT_FRACTION, "seed": project.config.seed}
    )
    write_run_json(run.dir, "golden.json", {"ids": ids, "source": source})
    project.finish_run(run, {"n": len(ids)})
    return GoldenSet(ids, source, run.id)


def _holdout(project) -> list[str]:
    """Deterministic stratified holdout: per class, the images with the smallest seeded hash."""
    from datacentric.model.grouping import project_groups

    data = project.dataset("real")
    groups = project_groups(project, data)
    if groups is not None:
        return holdout_groups(data.ids, data.labels, groups, seed=project.config.seed)
    chosen = []
    for c in range(len(data.classes)):
        members = [data.ids[i] for i in np.flatnonzero(data.labels == c)]
        if len(members) < 3:
            continue
        members.sort(key=lambda image_id: _rank(project.config.seed, image_id))
        chosen.extend(members[: max(1, round(HOLDOUT_FRACTION * len(members)))])
    return sorted(chosen)


def _rank(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def holdout_groups(
    ids: list[str], labels: np.ndarray, groups: list[str], *, seed: int = 0, fraction: float = HOLDOUT_FRACTION
) -> list[str]:
    """A stratified holdout of whole groups: a group is wholly in or wholly out.

    Per class (with at least 3 images), groups holding that class are taken in the order of
    a hash of the seed and the group name until the class has ``fraction`` of its images
    (at least one) in the holdout. A group that would put more than half of any class in
    the holdout is passed over, so training keeps most of every class.
    """
    labels = np.asarray(labels)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    size = {int(c): int((labels == c).sum()) for c in np.unique(labels)}
    taken = {c: 0 for c in size}
    chosen: set[str] = set()
    for c in sorted(size):
        if size[c] < 3:
            continue
        target = max(1, round(fraction * size[c]))
        holding = sorted(
            (g for g, rows in members.items() if any(labels[i] == c for i in rows)), key=lambda g: _rank(seed, g)
        )
        for g in holding:
            if taken[c] >= target:
                break
            add = np.bincount(labels[members[g]], minlength=max(size) + 1)
            if g in chosen or any(taken[k] + add[k] > size[k] / 2 for k in size if add[k]):
                continue
            chosen.add(g)
            for k in size:
                taken[k] += int(add[k])
    return sorted(ids[i] for g in chosen for i in members[g])


def _read_golden_file(project, path: Path) -> list[str]:
    """The ids of the images a golden file names, sorted.

    A ``.csv`` or ``.tsv`` is read as :func:`datacentric.csv_files.read_table` reads a spreadsheet's CSV
    (commas, semicolons or tabs, a byte-order mark, any line ending), its images named in the
    first of the :data:`GOLDEN_COLUMNS` it has; any other file lists one image a line (``#``
    starts a comment). Each name is a file (relative to the golden file's folder unless
    absolute, Windows backslashes too) or else an image id, path or unique file name.
    """
    if is_table(path):
        columns, rows = read_table(path, key=GOLDEN_COLUMNS)
        index = columns.index(key_column(columns, GOLDEN_COLUMNS, path))
        refs = [
            (values[index].strip(), f"{path}:{line}")
            for line, values in rows
            if len(values) > index and values[index].strip()
        ]
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DatacentricError(f"cannot read the golden list: {exc}", path) from None
        except OSError as exc:
            raise DatacentricError(f"cannot read the golden list: {exc.strerror or exc}", path) from None
        refs = [
            (s.strip(), f"{path}:{i}")
            for i, s in enumerate(text.splitlines(), 1)
            if s.strip() and not s.startswith("#")
        ]
    ids = []
    for ref, where in refs:
        candidate = file_cell_path(path.parent, ref)
        try:
            image = project.image(candidate if is_file(candidate) else ref)
        except DatacentricError as exc:
            raise DatacentricError(exc.what, where) from None
        ids.append(image.id)
    return sorted(dict.fromkeys(ids))


def golden_images(project: Project, gold: GoldenSet) -> GoldenImages:
    """The golden images that still have a label: ids, paths, labels, and a note on any left out."""
    labels = project.labels()
    records = {r.id: r for r in project.images("real")}
    gold_ids = [i for i in gold.ids if i in labels and i in records]
    notes = []
    if len(gold_ids) < len(gold.ids):
        notes.append(f"{len(gold.ids) - len(gold_ids)} golden images have no label now and are left out")
    if not gold_ids:
        raise DatacentricError("no labelled images left in the golden set", gold.source)
    return GoldenImages(gold_ids, [records[i].path for i in gold_ids], [labels[i] for i in gold_ids], notes)
