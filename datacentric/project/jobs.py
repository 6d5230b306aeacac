"""What other steps record in the store: committed embedding jobs."""

from __future__ import annotations

import sqlite3

from datacentric.project.store import now


class JobLog:
    """:class:`~datacentric.project.Project`'s methods for the jobs other steps record."""

    _conn: sqlite3.Connection

    def record_embedding_job(self, job: str, *, key: str, engine: str, images: int, embedded: int,
                             errors: int) -> None:
        """Record a committed job of the Parquet embedding store (one transaction)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO embedding_jobs(id, key, engine, images, embedded, errors, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (job, key, engine, images, embedded, errors, now()))

    def embedding_jobs(self) -> list[dict]:
        """Committed embedding jobs, oldest first."""
        rows = self._conn.execute("SELECT * FROM embedding_jobs ORDER BY created_at, id")
        return [dict(row) for row in rows]
