"""The records a project hands out: plain dataclasses, and how a store row becomes one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported where used: store-only commands start faster without it


# Annotations from these sources are reviews of earlier labels: when an image has
# any, they decide its consensus label (a reviewer's fix beats the original votes).
REVIEW_SOURCES = ("relabel", "labelstudio")


@dataclass(frozen=True)
class ImageRecord:
    """One image in the project."""

    id: str  # sha256 of the file's bytes
    path: Path  # absolute path as imported
    width: int
    height: int
    metadata: dict[str, str] = field(default_factory=dict)  # line, camera, shift, ...
    origin: str = "real"  # real | augmented | synthetic
    parent: str | None = None  # id of the real image it was made from
    generator: dict | None = None  # generator name and parameters (synthetic/augmented)


@dataclass(frozen=True)
class Annotation:
    """One label given to one image by one annotator (rows are never changed)."""

    id: int
    image_id: str
    annotator: str
    label: str
    source: str  # import | relabel | labelstudio | ...
    created_at: str
    note: str | None = None


@dataclass(frozen=True)
class LabelChange:
    """One entry of the label history: who gave which label, replacing what.

    ``event`` is "label" for a label, or "removed" / "restored" when the image was taken
    out of the project or put back (``label`` is then empty).
    """

    image_id: str
    path: Path
    annotator: str
    label: str
    previous: str | None  # this annotator's earlier label for the image, if any
    source: str
    note: str | None
    at: str
    event: str = "label"


@dataclass(frozen=True)
class Decision:
    """One reviewer's label for one image, for :meth:`Project.relabel_many`."""

    image: str | Path  # image id (or unique prefix), path or unique file name
    label: str
    by: str  # who decided
    note: str | None = None
    where: str | None = None  # e.g. "decisions.csv:3", named in errors


@dataclass(frozen=True)
class Run:
    """A stored run (training, audit, drift check, ...) and its folder."""

    id: str
    kind: str
    dir: Path
    created_at: str
    status: str = "running"  # running | done | failed | stale (its process is gone, unfinished)
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LabeledSet:
    """Labelled images as arrays, ready for a model: N images, K classes."""

    ids: list[str]  # image ids, length N
    paths: list[Path]  # image files, length N
    labels: np.ndarray  # int64 class index per image, shape (N,)
    classes: list[str]  # class names, length K; labels index into it
    metadata: list[dict[str, str]]  # per image
    origin: list[str]  # per image: real | augmented | synthetic
    parents: list[str | None]  # per image: parent image id, for augmented/synthetic

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, ids: Iterable[str]) -> "LabeledSet":
        """The same set less the given images (and anything made from them)."""
        drop = set(ids)
        keep = [
            i
            for i, (image_id, parent) in enumerate(zip(self.ids, self.parents))
            if image_id not in drop and parent not in drop
        ]
        return LabeledSet(
            ids=[self.ids[i] for i in keep],
            paths=[self.paths[i] for i in keep],
            labels=self.labels[keep],
            classes=self.classes,
            metadata=[self.metadata[i] for i in keep],
            origin=[self.origin[i] for i in keep],
            parents=[self.parents[i] for i in keep],
        )


@dataclass(frozen=True)
class SyncLink:
    """One image linked to its copy in an outside system (see :mod:`datacentric.project.sync_links`)."""

    system: str  # the outside project, e.g. labelstudio:<url>#<project id>
    image_id: str
    external_id: str  # the image's id there (a Label Studio task id)
    data: dict = field(default_factory=dict)  # what the sync keeps per image (JSON-able)


def image_record(row: sqlite3.Row) -> ImageRecord:
    """The record of one ``images`` row."""
    return ImageRecord(
        id=row["id"],
        path=Path(row["path"]),
        width=row["width"],
        height=row["height"],
        metadata=json.loads(row["metadata"]),
        origin=row["origin"],
        parent=row["parent"],
        generator=json.loads(row["generator"]) if row["generator"] else None,
    )


def annotation_record(row: sqlite3.Row) -> Annotation:
    """The record of one ``annotations`` row."""
    return Annotation(
        id=row["id"],
        image_id=row["image_id"],
        annotator=row["annotator"],
        label=row["label"],
        source=row["source"],
        created_at=row["created_at"],
        note=row["note"],
    )
