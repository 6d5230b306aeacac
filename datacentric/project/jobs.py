"""What other steps record in the store: committed embedding jobs and drift checks."""

from __future__ import annotations

import json
import sqlite3

from datacentric.project.store import now


class JobLog:
    """:class:`~datacentric.project.Project`'s methods for the jobs other steps record."""

    _conn: sqlite3.Connection

    def record_embedding_job(self, job: str, *, key: str, engine: str, images: int, embedded: int, errors: int) -> None:
        """Record a committed job of the Parquet embedding store (one transaction)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO embedding_jobs(id, key, engine, images, embedded, errors, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job, key, engine, images, embedded, errors, now()),
            )

    def embedding_jobs(self) -> list[dict]:
        """Committed embedding jobs, oldest first."""
        rows = self._conn.execute("SELECT * FROM embedding_jobs ORDER BY created_at, id")
        return [dict(row) for row in rows]

    def record_drift_check(self, *, folder: str, run_id: str, result: dict) -> None:
        """Record one drift check of a folder and its result (JSON-able), in one transaction."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO drift_checks(created_at, folder, run_id, result) VALUES (?, ?, ?, ?)",
                (now(), folder, run_id, json.dumps(result)),
            )

    def drift_checks(self) -> list[dict]:
        """Recorded drift checks, oldest first: ``created_at``, ``folder``, ``run_id``, ``result``."""
        rows = self._conn.execute("SELECT created_at, folder, run_id, result FROM drift_checks ORDER BY id")
        return [{**dict(row), "result": json.loads(row["result"])} for row in rows]
