"""Images in the store: listing, finding by reference, adding, and their metadata."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from datacentric.errors import DatacentricError
from datacentric.names import clean_metadata
from datacentric.project.records import ImageRecord, image_record
from datacentric.project.store import now


class Images:
    """:class:`~datacentric.project.Project`'s methods for images and their metadata."""

    root: Path
    _conn: sqlite3.Connection

    def images(self, origin: str | None = "real", *, removed: bool = False) -> list[ImageRecord]:
        """All images, oldest first; ``origin=None`` includes augmented and synthetic ones.

        Images taken out with :meth:`remove_images` are left out unless ``removed`` is set.
        """
        sql = "SELECT * FROM images"
        params: tuple = ()
        if origin is not None:
            sql += " WHERE origin = ?"
            params = (origin,)
        gone = set() if removed else self.removed_ids()
        return [
            image_record(row)
            for row in self._conn.execute(sql + " ORDER BY added_at, id", params)
            if row["id"] not in gone
        ]

    def image(self, ref: str | Path, *, removed: bool = False) -> ImageRecord:
        """Find one image by id, unique id prefix (>= 6 characters), path or unique file name.

        A removed image (:meth:`remove_images`) is not found unless ``removed`` is set.
        """
        text = str(ref)
        if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):  # never stored
            raise DatacentricError(f"no image {text!a} in the project", self.root)
        rows = self._conn.execute("SELECT * FROM images WHERE id = ?", (text,)).fetchall()
        if not rows and len(text) >= 6 and all(c in "0123456789abcdef" for c in text):
            rows = self._conn.execute("SELECT * FROM images WHERE id LIKE ?", (text + "%",)).fetchall()
        if not rows:
            path = str(Path(text).resolve())
            rows = self._conn.execute("SELECT * FROM images WHERE path = ?", (path,)).fetchall()
        if not rows:
            suffix = "/" + Path(text).as_posix().lstrip("./")
            rows = self._conn.execute(
                "SELECT * FROM images WHERE path LIKE ? ESCAPE '\\'", ("%" + _escape_like(suffix),)
            ).fetchall()
        gone = set() if removed else self.removed_ids()
        found = [row for row in rows if row["id"] not in gone]
        if len(found) > 1:
            raise DatacentricError(f"'{text}' matches {len(found)} images; give the image id", self.root)
        if not found and rows:
            raise DatacentricError(
                f"image '{text}' was removed from the project (datacentric "
                "history shows when; importing it again brings it back)",
                self.root,
            )
        if not found:
            raise DatacentricError(f"no image '{text}' in the project", self.root)
        return image_record(found[0])

    def has_image(self, image_id: str) -> bool:
        """True when the store holds an image with exactly this id (a removed one too)."""
        return self._conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None

    def add_image(
        self,
        *,
        id: str,
        path: Path,
        width: int,
        height: int,
        metadata: dict[str, str] | None = None,
        origin: str = "real",
        parent: str | None = None,
        generator: dict | None = None,
        by: str = "import",
    ) -> bool:
        """Insert an image, or merge its metadata if known; True if new.

        A removed image comes back (a "restore" entry in the history by ``by``); that
        counts as new too. Inside :meth:`transaction` it joins that write.
        """
        with self.transaction() as conn:
            return self._add_image(conn, id, path, width, height, metadata, origin, parent, generator, by)

    def _add_image(
        self,
        conn: sqlite3.Connection,
        id: str,
        path: Path,
        width: int,
        height: int,
        metadata: dict[str, str] | None,
        origin: str,
        parent: str | None,
        generator: dict | None,
        by: str,
    ) -> bool:
        row = conn.execute("SELECT metadata FROM images WHERE id = ?", (id,)).fetchone()
        metadata = clean_metadata(metadata or {})
        if row is not None:
            self.attach_metadata(id, metadata)
            if id not in self._removed_in(conn, [id]):
                return False
            conn.execute(
                "INSERT INTO removals(image_id, action, annotator, note, created_at)"
                " VALUES (?, 'restore', ?, 'imported again', ?)",
                (id, by, now()),
            )
            return True
        conn.execute(
            "INSERT INTO images(id, path, width, height, metadata, origin, parent, generator, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                id,
                str(Path(path).resolve()),
                width,
                height,
                json.dumps(metadata),
                origin,
                parent,
                json.dumps(generator) if generator else None,
                now(),
            ),
        )
        return True

    def attach_metadata(self, image_id: str, metadata: dict[str, str]) -> bool:
        """Merge ``metadata`` into a known image's; True if it changed. Joins an open :meth:`transaction`."""
        with self.transaction() as conn:
            return self._attach_metadata(conn, image_id, metadata)

    def _attach_metadata(self, conn: sqlite3.Connection, image_id: str, metadata: dict[str, str]) -> bool:
        row = conn.execute("SELECT metadata FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise DatacentricError(f"no image '{image_id}' in the project", self.root)
        before = json.loads(row["metadata"])
        merged = {**before, **clean_metadata(metadata)}
        if merged == before:
            return False
        conn.execute("UPDATE images SET metadata = ? WHERE id = ?", (json.dumps(merged), image_id))
        return True


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
