"""Appending labels: checking a label against the classes, import labels and reviewers' relabels."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.errors import DatacentricError
from datacentric.names import case_twin, check_new_class_name, clean_class_name, clean_text, known_spelling
from datacentric.project.records import Annotation, Decision, annotation_record
from datacentric.project.store import now

if TYPE_CHECKING:
    from datacentric.config import ProjectConfig


class Annotations:
    """:class:`~datacentric.project.Project`'s methods for the label history (rows are only appended)."""

    root: Path
    config: ProjectConfig
    _conn: sqlite3.Connection

    def annotations(self, image_id: str | None = None, *, removed: bool = False) -> list[Annotation]:
        """Every annotation ever made (optionally for one image), oldest first.

        Labels of removed images (:meth:`remove_images`) are left out unless ``removed`` is set.
        """
        sql = "SELECT * FROM annotations"
        params: tuple = ()
        if image_id is not None:
            sql += " WHERE image_id = ?"
            params = (image_id,)
        gone = set() if removed else self.removed_ids()
        return [
            annotation_record(row)
            for row in self._conn.execute(sql + " ORDER BY id", params)
            if row["image_id"] not in gone
        ]

    def add_annotation(
        self,
        *,
        image_id: str,
        annotator: str,
        label: str,
        source: str,
        note: str | None = None,
        new_class: bool = False,
    ) -> bool:
        """Append a label, unless it repeats the annotator's current one; joins an open :meth:`transaction`.

        Returns True when a row was added. Earlier labels stay: the table is the history.
        Check a batch's labels with :meth:`check_label` first: here a label outside a fixed
        class list is refused unless ``new_class`` is set (then it is appended to the list in
        memory; write a batch inside :meth:`class_list_change` so the settings list it).
        """
        fixed = self.config.classes
        if not (label in fixed or (not fixed and self._seen(label))):
            label = self.check_label(label, new_class=new_class or not fixed)
        with self.transaction() as conn:
            current = conn.execute(
                "SELECT label FROM annotations WHERE image_id = ? AND annotator = ? ORDER BY id DESC LIMIT 1",
                (image_id, annotator),
            ).fetchone()
            if current is not None and current["label"] == label:
                return False
            self._append(conn, image_id, annotator, label, source, note)
        if self.config.classes and label not in self.config.classes:
            self.config.classes.append(label)
        return True

    def check_label(
        self,
        label: str,
        *,
        pending: Iterable[str] = (),
        where: object | None = None,
        new_class: bool = False,
        known: list[str] | None = None,
    ) -> str:
        """Return ``label`` cleaned (see :mod:`datacentric.names`) if the project accepts it.

        Once the project has classes (a fixed list, or labels already given), a label
        outside them is refused with the closest known names, unless ``new_class`` is
        set or (without a fixed list) it labels photos taken out, which an import brings back;
        ``pending`` holds the new labels of the same batch, ``known`` the classes when
        the caller already has them (:meth:`classes`). A new class must never differ only
        by case from a known one; a known class in other Unicode code points is that class
        (:func:`~datacentric.names.unicode_twin`). Raises :class:`DatacentricError`.
        """
        where = self.root if where is None else where
        name = clean_class_name(label, where)
        known = self.classes() if known is None else known
        pending = list(pending)
        name = known_spelling(name, [*known, *pending])  # the same class in other code points is that class
        if name in known or name in pending:
            return name
        twin = case_twin(name, [*known, *pending])
        if twin is not None:
            raise DatacentricError(f"label '{name}' differs only by case from the class '{twin}'", where)
        if known and not new_class and (self.config.classes or not self._labels_removed(name)):
            raise DatacentricError(unknown_label(name, known), where)
        check_new_class_name(name, where)
        return name

    def relabel(
        self, ref: str | Path, label: str, *, by: str, note: str | None = None, new_class: bool = False
    ) -> Annotation:
        """Record a reviewer's label for one image; it decides the consensus from now on.

        A label outside the known classes is refused unless ``new_class`` is set.
        """
        return self.relabel_many([Decision(ref, label, by, note)], new_class=new_class)[0]

    def relabel_many(self, decisions: Iterable[Decision], *, new_class: bool = False) -> list[Annotation]:
        """Record many reviewers' labels in one transaction: all of them, or (on any fault) none.

        Every decision is checked first (image found, reviewer named, label known; a label
        outside the known classes is refused unless ``new_class`` is set), and the first
        fault is raised naming its ``where``. Each decision is appended to the history as a
        relabel, in order. Returns the new annotations.
        """
        known = self.classes()
        pending: list[str] = []
        checked: list[tuple[str, str, str, str | None]] = []
        for d in decisions:
            where = d.where or self.root
            try:
                image = self.image(d.image)
            except DatacentricError as exc:
                raise DatacentricError(exc.what, where) from None
            if not d.by.strip():
                raise DatacentricError("a relabel needs the reviewer's name (--by)", where)
            label = self.check_label(d.label, pending=pending, where=where, new_class=new_class, known=known)
            if label not in known and label not in pending:
                pending.append(label)
            checked.append((image.id, d.by, label, d.note))
        if not checked:
            return []
        with self.class_list_change([*self.config.classes, *pending]), self.transaction() as conn:
            first = conn.execute("SELECT COALESCE(MAX(id), 0) FROM annotations").fetchone()[0]
            for image_id, by, label, note in checked:
                self._append(conn, image_id, by, label, "relabel", note)
        rows = self._conn.execute("SELECT * FROM annotations WHERE id > ? ORDER BY id", (first,))
        return [annotation_record(row) for row in rows][: len(checked)]

    @contextmanager
    def class_list_change(self, after: Sequence[str]) -> Iterator[None]:
        """Change a fixed class list to ``after`` around a block that writes labels.

        Before the block the settings list every old and new class, so no committed label
        is ever outside the list; after it they say ``after``. When the block fails they
        are put back as they were. Without a fixed class list this does nothing.
        """
        if not self.config.classes:
            yield
            return
        before, after = list(self.config.classes), list(dict.fromkeys(after))
        during = list(dict.fromkeys([*before, *after]))
        if during != before:
            self._save_classes(during, restore=before)
        try:
            yield
        except BaseException:
            if during != before:
                self._save_classes(before, restore=before)
            raise
        if after != during:
            self._save_classes(after, restore=during)

    def _save_classes(self, classes: list[str], *, restore: list[str]) -> None:
        """Save the settings with ``classes``; on a failure the in-memory list is ``restore``."""
        self.config.classes = list(classes)
        try:
            self.save_config()
        except BaseException:
            self.config.classes = list(restore)
            raise

    @staticmethod
    def _append(
        conn: sqlite3.Connection, image_id: str, annotator: str, label: str, source: str, note: str | None
    ) -> None:
        """The one write of the label history, inside an open transaction: a row is only ever appended."""
        clean_text(annotator, "annotator name", "--annotator / --by")
        conn.execute(
            "INSERT INTO annotations(image_id, annotator, label, source, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (image_id, annotator, label, source, note, now()),
        )

    def _labels_removed(self, name: str) -> bool:
        """True when ``name`` labels a photo that was taken out (:meth:`remove_images`)."""
        removed = self.removed_ids()
        sql = "SELECT image_id FROM annotations WHERE label = ?"
        return any(row[0] in removed for row in self._conn.execute(sql, (name,)))

    def _seen(self, name: str) -> bool:
        """True when some annotation carries ``name`` (a quick check before a full one)."""
        sql = "SELECT 1 FROM annotations WHERE label = ? LIMIT 1"
        return self._conn.execute(sql, (name,)).fetchone() is not None


def unknown_label(
    name: str,
    known: list[str],
    *,
    kind: str = "label",
    hint: str = "--new-class (import: --new-classes) adds it as a class",
) -> str:
    """``unknown label 'defekt' — did you mean 'defect'?`` and how to add a class instead."""
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    guess = f" — did you mean '{close[0]}'?" if close else ""
    tail = f"; {hint}" if hint else ""
    return f"unknown {kind} '{name}'{guess} (classes: {', '.join(known) or 'none'}{tail})"
