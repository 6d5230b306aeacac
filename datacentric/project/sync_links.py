"""Links from our images to their copies in outside systems (Label Studio tasks).

A link is keyed by system and image: ``system`` names one outside project (the Label
Studio sync uses ``labelstudio:<url>#<project id>``), ``external_id`` is the image's id
there, and ``data`` is whatever that sync keeps per image (JSON-able).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from datacentric.project.records import SyncLink


class SyncLinks:
    """:class:`~datacentric.project.Project`'s methods for links to outside systems."""

    _conn: sqlite3.Connection

    def sync_links(self, system: str) -> list[SyncLink]:
        """Every link of one outside system, in the order they were made."""
        rows = self._conn.execute(
            "SELECT system, image_id, external_id, data FROM sync_links WHERE system = ? ORDER BY rowid", (system,)
        )
        return [
            SyncLink(row["system"], row["image_id"], row["external_id"], json.loads(row["data"] or "{}"))
            for row in rows
        ]

    def sync_systems(self, prefix: str) -> dict[str, dict]:
        """The linked systems whose name starts with ``prefix``, the most recently linked last.

        Each comes with the data of one of its links (the greatest as text; a sync keeps
        what names the outside project, such as its title, in every link).
        """
        rows = self._conn.execute(
            "SELECT system, MAX(rowid) AS last, MAX(data) AS data FROM sync_links WHERE system LIKE ? "
            "GROUP BY system ORDER BY last",
            (prefix.replace("%", "") + "%",),
        )
        return {row["system"]: json.loads(row["data"] or "{}") for row in rows if row["system"].startswith(prefix)}

    def save_sync_links(self, links: Iterable[SyncLink]) -> None:
        """Add links, or replace the external id and data of known ones, in one transaction.

        Inside an open :meth:`transaction` the links land with the rest of it.
        """
        with self.transaction() as conn:
            for link in links:
                conn.execute(
                    "INSERT INTO sync_links(system, image_id, external_id, data) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(system, image_id) DO UPDATE SET external_id = excluded.external_id, "
                    "data = excluded.data",
                    (link.system, link.image_id, link.external_id, json.dumps(link.data)),
                )

    def forget_sync_system(self, system: str) -> None:
        """Drop every link of one outside system (it is gone there); images and labels stay."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM sync_links WHERE system = ?", (system,))
