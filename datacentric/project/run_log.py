"""Runs in the store and their folders: creating, finishing, reading, and the champion."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from datacentric.errors import DatacentricError
from datacentric.paths import write_atomic
from datacentric.project.records import Run
from datacentric.runs import champion, latest_audit
from datacentric.project.store import now

# In each run folder: which process (pid, host) started the run, to tell a killed run
# ("stale") from one still working.
OWNER_FILE = ".owner.json"


class RunLog:
    """:class:`~datacentric.project.Project`'s methods for runs (each a row and a folder)."""

    root: Path
    _conn: sqlite3.Connection

    def new_run(self, kind: str, config: dict | None = None) -> Run:
        """Create a run folder ``runs/<timestamp>-<kind>`` and its row (status 'running')."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
        run_id = f"{stamp}-{kind}"
        suffix = 1
        while self.path("runs", run_id).exists():
            suffix += 1
            run_id = f"{stamp}-{kind}-{suffix}"
        self.path("runs", run_id).mkdir(parents=True)
        write_atomic(
            self.path("runs", run_id, OWNER_FILE), json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        )
        created = now()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runs(id, kind, created_at, status, config) VALUES (?, ?, ?, 'running', ?)",
                (run_id, kind, created, json.dumps(config or {})),
            )
        return Run(id=run_id, kind=kind, dir=self.runs_dir / run_id, created_at=created, config=config or {})

    def finish_run(self, run: Run, metrics: dict, *, status: str = "done", config: dict | None = None) -> Run:
        """Store a run's metrics (JSON-able) and mark it done (or failed)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, metrics = ?, config = ? WHERE id = ?",
                (status, json.dumps(metrics), json.dumps(config if config is not None else run.config), run.id),
            )
        return self.run(run.id)

    def runs(self, kind: str | None = None) -> list[Run]:
        """Stored runs, oldest first, optionally of one kind."""
        sql, params = "SELECT * FROM runs", ()
        if kind is not None:
            sql, params = sql + " WHERE kind = ?", (kind,)
        return [self._run(row) for row in self._conn.execute(sql + " ORDER BY created_at, id", params)]

    def run(self, run_id: str) -> Run:
        """One run by id."""
        row = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise DatacentricError(f"no run '{run_id}'", self.runs_dir)
        return self._run(row)

    def latest_run(self, kind: str, *, status: str = "done") -> Run | None:
        """The newest finished run of a kind, or None."""
        runs = [r for r in self.runs(kind) if r.status == status]
        return runs[-1] if runs else None

    def champion(self, *, complete: bool = False) -> Run | None:
        """The train run in charge: the newest finished one that no retrain decision rejected.

        ``datacentric retrain`` trains a challenger and records whether it was promoted;
        a rejected challenger never takes over, while a plain ``train`` does. The rule,
        and what ``complete`` does, is :func:`datacentric.runs.champion`.
        """
        return champion(self.runs("train"), self.runs("retrain"), complete=complete)

    def latest_audit(self) -> Run | None:
        """The audit in charge: the newest finished one with a result (:func:`datacentric.runs.latest_audit`)."""
        return latest_audit(self.runs("audit"))

    def train_run(self, run: "str | Run | None" = None, *, complete: bool = False) -> Run:
        """A finished train run by id, or the one in charge (:meth:`champion`) when None."""
        if run is None:
            found = self.champion(complete=complete)
            if found is None:
                raise DatacentricError("no trained model yet: run `datacentric train PROJECT` first", self.root)
            return found
        found = self.run(run) if isinstance(run, str) else run
        if found.kind != "train":
            raise DatacentricError(f"run '{found.id}' is a {found.kind} run, not a train run", self.runs_dir)
        if found.status != "done":
            raise DatacentricError(f"train run '{found.id}' did not finish ({found.status})", self.runs_dir)
        return found

    def _run(self, row: sqlite3.Row) -> Run:
        folder = self.runs_dir / row["id"]
        status = row["status"]
        if status == "running" and _owner_gone(folder):
            status = "stale"
        return Run(
            id=row["id"],
            kind=row["kind"],
            dir=folder,
            created_at=row["created_at"],
            status=status,
            config=json.loads(row["config"]),
            metrics=json.loads(row["metrics"]),
        )


def _owner_gone(folder: Path) -> bool:
    """True when the process that started a run on this machine no longer exists (kill -9)."""
    try:
        owner = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
        pid, host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # a run from before owners were kept, or unreadable: cannot tell
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (owned by someone else)
    return False
