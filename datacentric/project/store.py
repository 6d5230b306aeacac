"""The embedded SQLite store behind a project (``datacentric.db``).

Tables: images, annotations (append-only: the label history), removals (append-only:
images taken out and put back), runs, drift_checks, sync_links and embedding_jobs. Every
write goes through :func:`transaction`, so a failed command leaves the store exactly as
it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from datacentric.errors import DatacentricError

__all__ = ["DB_NAME", "SCHEMA_VERSION", "connect", "now", "store_error", "transaction"]

DB_NAME = "datacentric.db"

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE images (
        id TEXT PRIMARY KEY,                 -- sha256 of the file's bytes
        path TEXT NOT NULL,                  -- absolute path as imported
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}', -- JSON object: line, camera, shift, ...
        origin TEXT NOT NULL DEFAULT 'real' CHECK (origin IN ('real', 'augmented', 'synthetic')),
        parent TEXT REFERENCES images(id),   -- the real image an augmented/synthetic one came from
        generator TEXT,                      -- JSON: generator name and parameters
        added_at TEXT NOT NULL
    );
    CREATE TABLE annotations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        image_id TEXT NOT NULL REFERENCES images(id),
        annotator TEXT NOT NULL,
        label TEXT NOT NULL,
        source TEXT NOT NULL,                -- import, relabel, labelstudio, ...
        note TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX annotations_image ON annotations(image_id);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,                  -- train, audit, drift, improve, export, retrain
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        config TEXT NOT NULL DEFAULT '{}',
        metrics TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE drift_checks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        folder TEXT NOT NULL,
        run_id TEXT,
        result TEXT NOT NULL
    );
    CREATE TABLE sync_links (                -- ids of our images in outside systems (Label Studio)
        system TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id),
        external_id TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (system, image_id)
    );
    """,
    """
    CREATE TABLE removals (                  -- images taken out of the project, and put back
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        image_id TEXT NOT NULL REFERENCES images(id),
        action TEXT NOT NULL CHECK (action IN ('remove', 'restore')),
        annotator TEXT NOT NULL,             -- who decided
        note TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX removals_image ON removals(image_id);
    """,
    """
    CREATE TABLE embedding_jobs (             -- committed jobs of the Parquet embedding store
        id TEXT PRIMARY KEY,                  -- the job's folder under cache/embeddings/<key>/parts/
        key TEXT NOT NULL,                    -- embedding key (backbone, weights, preprocessing)
        engine TEXT NOT NULL,                 -- local or ray
        images INTEGER NOT NULL,
        embedded INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


def now() -> str:
    """Return the current UTC time as an ISO-8601 string (microseconds, sortable)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open (or with ``create`` make) a store and bring its schema up to date."""
    if not create and not path.exists():
        raise DatacentricError("not a datacentric project (no datacentric.db)", path.parent)
    if not create and path.stat().st_size == 0:  # sqlite would quietly make a new, empty store in it
        raise DatacentricError("the store is empty (0 bytes): damaged, or not a datacentric project", path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    _migrate(conn, path)
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    version = 0
    if has_meta:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise DatacentricError(
            f"store has schema version {version}, newer than this datacentric ({SCHEMA_VERSION}); upgrade datacentric",
            path,
        )
    for step in range(version, SCHEMA_VERSION):
        with transaction(conn):
            for statement in _MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(step + 1),),
            )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction: all of it lands, or none of it.

    A store that cannot be written (read-only folder, full disk, locked) raises one
    :class:`DatacentricError` saying so; the store keeps its state before the block.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise store_error(conn, exc) from None
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        # SQLite may have rolled back already (disk full): never hide the cause behind
        # "cannot rollback - no transaction is active"
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            raise store_error(conn, exc) from None
        raise


def store_error(conn: sqlite3.Connection, exc: sqlite3.Error) -> DatacentricError:
    """One line for a store that cannot be written, naming the store file."""
    text = str(exc)
    reason = {
        "database or disk is full": "the disk is full",
        "attempt to write a readonly database": "the project folder or store is read-only",
        "unable to open database file": "the store cannot be written (read-only folder?)",
        "database is locked": "another datacentric command is writing the store; try again",
    }.get(text, text)
    return DatacentricError(f"cannot write the store: {reason}", _store_path(conn))


def _store_path(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return None
    return row[2] if row else None
