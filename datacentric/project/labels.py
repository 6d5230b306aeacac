"""What the label history says now: each image's consensus label, the classes, the history itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.project.records import REVIEW_SOURCES, Annotation, LabelChange, LabeledSet

if TYPE_CHECKING:
    import sqlite3

    from datacentric.config import ProjectConfig


class Labels:
    """:class:`~datacentric.project.Project`'s methods that read labels: consensus, classes, history."""

    config: ProjectConfig
    _conn: sqlite3.Connection

    def _current_of(self, label: str) -> list[Annotation]:
        """The annotations that still count (see :meth:`_counting`) with ``label``."""
        return [a for a in self._counting() if a.label == label]

    def _counting(self) -> list[Annotation]:
        """Annotations that still count: each annotator's latest label and latest review."""
        latest: dict[tuple[str, str], Annotation] = {}
        reviews: dict[tuple[str, str], Annotation] = {}
        for ann in self.annotations():
            latest[(ann.image_id, ann.annotator)] = ann
            if ann.source in REVIEW_SOURCES:
                reviews[(ann.image_id, ann.annotator)] = ann
        found = {a.id: a for a in [*latest.values(), *reviews.values()]}
        return [found[k] for k in sorted(found)]

    def history(self, ref: str | Path | None = None) -> list[LabelChange]:
        """Every label given, oldest first, with the annotator's previous label for that image."""
        image_id = self.image(ref, removed=True).id if ref is not None else None
        paths = {r.id: r.path for r in self.images(None, removed=True)}
        previous: dict[tuple[str, str], str] = {}
        changes = []
        for ann in self.annotations(image_id, removed=True):
            key = (ann.image_id, ann.annotator)
            changes.append(
                LabelChange(
                    image_id=ann.image_id,
                    path=paths[ann.image_id],
                    annotator=ann.annotator,
                    label=ann.label,
                    previous=previous.get(key),
                    source=ann.source,
                    note=ann.note,
                    at=ann.created_at,
                )
            )
            previous[key] = ann.label
        sql, params = "SELECT * FROM removals", ()
        if image_id is not None:
            sql, params = sql + " WHERE image_id = ?", (image_id,)
        events = [
            LabelChange(
                image_id=row["image_id"],
                path=paths[row["image_id"]],
                annotator=row["annotator"],
                label="",
                previous=None,
                source=row["action"],
                note=row["note"],
                at=row["created_at"],
                event="removed" if row["action"] == "remove" else "restored",
            )
            for row in self._conn.execute(sql + " ORDER BY id", params)
        ]
        if events:  # in time order; sorted() is stable, so one moment's labels keep their order
            changes = sorted(changes + events, key=lambda c: c.at)
        return changes

    def classes(self) -> list[str]:
        """The class list: fixed in the settings, else every label that still counts, sorted.

        A label that counts is an annotator's current label or an image's consensus label;
        one every annotator has moved away from (a fixed typo) is no class any more.
        """
        if self.config.classes:
            return list(self.config.classes)
        return sorted({a.label for a in self._counting()})

    def annotators(self) -> list[str]:
        """Every annotator name, sorted."""
        return [row[0] for row in self._conn.execute("SELECT DISTINCT annotator FROM annotations ORDER BY annotator")]

    def current_labels(self) -> dict[str, dict[str, str]]:
        """Each image's latest label per annotator: ``{image_id: {annotator: label}}``."""
        result: dict[str, dict[str, str]] = {}
        for ann in self.annotations():
            result.setdefault(ann.image_id, {})[ann.annotator] = ann.label
        return result

    def labels(self) -> dict[str, str]:
        """The consensus (training) label of every labelled image.

        If an image has reviews (sources in :data:`REVIEW_SOURCES`), the reviewers'
        latest labels vote; otherwise every annotator's latest label votes. Most
        votes wins; a tie goes to the label given most recently.
        """
        latest: dict[str, dict[str, Annotation]] = {}
        reviews: dict[str, dict[str, Annotation]] = {}
        for ann in self.annotations():
            latest.setdefault(ann.image_id, {})[ann.annotator] = ann
            if ann.source in REVIEW_SOURCES:
                reviews.setdefault(ann.image_id, {})[ann.annotator] = ann
        result = {}
        for image_id, by_annotator in latest.items():
            votes = list((reviews.get(image_id) or by_annotator).values())
            counts = Counter(a.label for a in votes)
            recency = {a.label: a.id for a in votes}
            result[image_id] = max(counts, key=lambda label: (counts[label], recency[label]))
        return result

    def dataset(self, origin: str | None = "real") -> LabeledSet:
        """Labelled images with their consensus labels as arrays (unlabelled ones left out)."""
        labels = self.labels()
        classes = self.classes()
        index = {name: i for i, name in enumerate(classes)}
        records = [r for r in self.images(origin) if r.id in labels]
        import numpy as np

        return LabeledSet(
            ids=[r.id for r in records],
            paths=[r.path for r in records],
            labels=np.array([index[labels[r.id]] for r in records], dtype=np.int64),
            classes=classes,
            metadata=[dict(r.metadata) for r in records],
            origin=[r.origin for r in records],
            parents=[r.parent for r in records],
        )
