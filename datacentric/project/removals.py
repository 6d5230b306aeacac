"""Images taken out of a project and put back (append-only: the history keeps both)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from datacentric.errors import DatacentricError
from datacentric.names import clean_text
from datacentric.project.records import ImageRecord
from datacentric.project.store import now


class Removals:
    """:class:`~datacentric.project.Project`'s methods for taking images out and reading who is out."""

    root: Path
    _conn: sqlite3.Connection

    def removed_ids(self) -> set[str]:
        """Ids of the images taken out of the project (and not put back)."""
        state: dict[str, str] = {}
        for row in self._conn.execute("SELECT image_id, action FROM removals ORDER BY id"):
            state[row["image_id"]] = row["action"]
        return {image_id for image_id, action in state.items() if action == "remove"}

    def remove_images(
        self, refs: Iterable[str | Path], *, by: str, note: str | None = None, unlabelled_only: bool = False
    ) -> list[ImageRecord]:
        """Take images out of the project, in one transaction; returns those removed.

        Each of ``refs`` is an image (as :meth:`image` finds it) or a folder (every image
        imported from under it). Images made from a removed one (augmented, synthetic) go
        with it. Nothing is deleted: the history keeps each removal (who, when, why) and the
        image's labels, and importing the image again brings it back (the images made from it
        stay out: make them again if they are wanted). ``unlabelled_only``
        keeps every image that has a label.
        """
        if not by.strip():
            raise DatacentricError("removing images needs your name (--by)", self.root)
        clean_text(by, "name", "--by")
        chosen: dict[str, ImageRecord] = {}
        for ref in refs:
            for record in self._matching(ref):
                chosen.setdefault(record.id, record)
        if not chosen:
            raise DatacentricError("no images given to remove", self.root)
        if unlabelled_only:
            labelled = self.labels()
            chosen = {k: r for k, r in chosen.items() if k not in labelled}
            if not chosen:
                raise DatacentricError("every image given has a label; nothing removed (--unlabelled)", self.root)
        for record in self.images(None):
            if record.parent in chosen:
                chosen.setdefault(record.id, record)
        with self.transaction() as conn:
            for image_id in chosen:
                conn.execute(
                    "INSERT INTO removals(image_id, action, annotator, note, created_at) VALUES (?, 'remove', ?, ?, ?)",
                    (image_id, by, note, now()),
                )
        return list(chosen.values())

    def _matching(self, ref: str | Path) -> list[ImageRecord]:
        """The images one reference names: a folder gives every image imported from under it."""
        if not str(ref).strip():
            raise DatacentricError("an empty image name (give an image or a folder)", self.root)
        folder = Path(ref)
        if _is_folder(folder):
            base = str(folder.resolve()).rstrip("/") + "/"
            found = [r for r in self.images(None) if str(r.path).startswith(base)]
            if not found:
                raise DatacentricError("no image of the project was imported from this folder", folder)
            return found
        return [self.image(ref)]

    def _removed_in(self, conn: sqlite3.Connection, ids: list[str]) -> set[str]:
        """Which of ``ids`` are removed, read inside an open transaction."""
        marks = ",".join("?" * len(ids))
        state: dict[str, str] = {}
        for row in conn.execute(f"SELECT image_id, action FROM removals WHERE image_id IN ({marks}) ORDER BY id", ids):
            state[row["image_id"]] = row["action"]
        return {i for i, action in state.items() if action == "remove"}


def _is_folder(path: Path) -> bool:
    """True for an existing folder; a name no file system can hold (NUL byte) is none."""
    try:
        return path.is_dir()
    except (OSError, ValueError, UnicodeError):
        return False
