"""The :class:`Project` itself: opening and closing a project folder, its paths and the store.

Its other methods come from one part per job, mixed in here (see the package docstring).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from datacentric.config import CONFIG_NAME, ProjectConfig
from datacentric.errors import DatacentricError
from datacentric.names import clean_class_list
from datacentric.paths import check_writable, inside
from datacentric.project.annotations import Annotations
from datacentric.project.classes import ClassChanges
from datacentric.project.images import Images
from datacentric.project.jobs import JobLog
from datacentric.project.labels import Labels
from datacentric.project.removals import Removals
from datacentric.project.run_log import RunLog
from datacentric.project.sync_links import SyncLinks
from datacentric.project.store import DB_NAME, connect, transaction

LABELBOOK_RULES = "labelbook.json"  # the team's labelling rules, every version (datacentric.labelbook)
# Files in the project folder that hold the project: an output never replaces one.
KEPT_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", CONFIG_NAME, LABELBOOK_RULES)


class Project(Images, Removals, Annotations, ClassChanges, Labels, RunLog, JobLog, SyncLinks):
    """A datacentric project folder. Create with :meth:`init`, reopen with :meth:`open`."""

    def __init__(self, root: Path, config: ProjectConfig, conn: sqlite3.Connection) -> None:
        self.root = root
        self.config = config
        self._conn = conn

    # -- lifecycle -----------------------------------------------------------------
    @classmethod
    def init(
        cls,
        root: Path | str,
        *,
        classes: Iterable[str] = (),
        backbone: str | None = None,
        seed: int = 0,
    ) -> "Project":
        """Create a new project folder (it may exist but must not be a project yet).

        An empty name is refused (as text; ``Path("")`` is already ``Path(".")``, the current folder).
        """
        if not str(root).strip():
            raise DatacentricError("the project folder name is empty", "init")
        root = Path(root).resolve()
        if (root / CONFIG_NAME).exists():
            raise DatacentricError("already a datacentric project", root)
        if root.exists() and not root.is_dir():
            raise DatacentricError("exists and is not a folder", root)
        settings = {"classes": clean_class_list(classes, "--classes", new=True), "seed": seed}
        if backbone:
            settings["backbone"] = backbone
        config = ProjectConfig.from_dict(settings, "init")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DatacentricError(f"cannot create the project folder: {reason}", root) from None
        conn = connect(root / DB_NAME, create=True)
        config.save(root / CONFIG_NAME)
        return cls(root, config, conn)

    @classmethod
    def open(cls, root: Path | str) -> "Project":
        """Open an existing project folder."""
        root = Path(root).resolve()
        if not root.is_dir():
            raise DatacentricError("project folder not found", root)
        config = ProjectConfig.load(root / CONFIG_NAME)
        return cls(root, config, connect(root / DB_NAME))

    def check_out(self, path: Path | str) -> Path:
        """An output file (``--out``) checked before any work: refused in one line when writing
        it would replace what the project keeps (its store, settings, rules, runs, cache or an
        imported photo) or when it cannot be written (:func:`datacentric.paths.check_writable`).
        """
        target = Path(path).resolve()
        root = self.root.resolve()
        kept = {root / name for name in KEPT_FILES}
        folders = (self.runs_dir.resolve(), Path(self.cache_dir).resolve())
        if (
            target in kept
            or any(target.is_relative_to(f) for f in folders)
            or self._conn.execute("SELECT 1 FROM images WHERE path = ?", (str(target),)).fetchone()
        ):
            raise DatacentricError("this would overwrite a file the project keeps; choose another --out", path)
        return check_writable(target)

    def close(self) -> None:
        """Close the store connection."""
        self._conn.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_config(self) -> None:
        """Write :attr:`config` back to ``datacentric.toml``."""
        self.config.save(self.root / CONFIG_NAME)

    def path(self, *parts: str | Path) -> Path:
        """A path under the project folder; refuses one that would resolve outside it."""
        return inside(self.root, *parts)

    @property
    def cache_dir(self) -> Path:
        """Folder for caches (embeddings, converted weights)."""
        path = self.path("cache")
        path.mkdir(exist_ok=True)
        return path

    @property
    def runs_dir(self) -> Path:
        """Folder holding one sub-folder per run."""
        return self.root / "runs"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything in the block lands, or nothing does.

        Inside another transaction of this project the block joins that one (which then
        commits or rolls back all of it), so a method that writes can run on its own or as
        one part of a larger write.
        """
        if self._conn.in_transaction:
            yield self._conn
            return
        with transaction(self._conn) as conn:
            yield conn
