"""A project: one folder holding settings, the store, caches and runs.

Layout::

    parts/
      datacentric.toml   settings (classes, backbone, image size, seed, folds)
      datacentric.db     SQLite store: images, annotations (label history), runs
      cache/             embeddings keyed by image hash + backbone + preprocessing
      runs/<id>/         one folder per run: metrics, probabilities, model, report

Labels are never overwritten: every annotation is appended with who, when and
from where, and the training label of an image is a *consensus* computed from
them (see :meth:`Project.labels`).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.config import CONFIG_NAME, ProjectConfig
from datacentric.errors import DatacentricError
from datacentric.names import case_twin, clean_class_list, clean_class_name
from datacentric.paths import inside, write_atomic
from datacentric.store import DB_NAME, connect, now, transaction
from datacentric.words import plural

if TYPE_CHECKING:
    import numpy as np  # imported where used: store-only commands start faster without it

__all__ = [
    "REVIEW_SOURCES",
    "Annotation",
    "Decision",
    "ImageRecord",
    "LabelChange",
    "LabeledSet",
    "Project",
    "Run",
]

# Annotations from these sources are reviews of earlier labels: when an image has
# any, they decide its consensus label (a reviewer's fix beats the original votes).
REVIEW_SOURCES = ("relabel", "labelstudio")

# In each run folder: which process (pid, host) started the run, to tell a killed run
# ("stale") from one still working.
OWNER_FILE = ".owner.json"


@dataclass(frozen=True)
class ImageRecord:
    """One image in the project."""

    id: str  # sha256 of the file's bytes
    path: Path  # absolute path as imported
    width: int
    height: int
    metadata: dict[str, str] = field(default_factory=dict)  # line, camera, shift, ...
    origin: str = "real"  # real | augmented | synthetic
    parent: str | None = None  # id of the real image it was made from
    generator: dict | None = None  # generator name and parameters (synthetic/augmented)


@dataclass(frozen=True)
class Annotation:
    """One label given to one image by one annotator (rows are never changed)."""

    id: int
    image_id: str
    annotator: str
    label: str
    source: str  # import | relabel | labelstudio | ...
    created_at: str
    note: str | None = None


@dataclass(frozen=True)
class LabelChange:
    """One entry of the label history: who gave which label, replacing what.

    ``event`` is "label" for a label, or "removed" / "restored" when the image was taken
    out of the project or put back (``label`` is then empty).
    """

    image_id: str
    path: Path
    annotator: str
    label: str
    previous: str | None  # this annotator's earlier label for the image, if any
    source: str
    note: str | None
    at: str
    event: str = "label"


@dataclass(frozen=True)
class Decision:
    """One reviewer's label for one image, for :meth:`Project.relabel_many`."""

    image: str | Path  # image id (or unique prefix), path or unique file name
    label: str
    by: str  # who decided
    note: str | None = None
    where: str | None = None  # e.g. "decisions.csv:3", named in errors


@dataclass(frozen=True)
class Run:
    """A stored run (training, audit, drift check, ...) and its folder."""

    id: str
    kind: str
    dir: Path
    created_at: str
    status: str = "running"  # running | done | failed | stale (its process is gone, unfinished)
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LabeledSet:
    """Labelled images as arrays, ready for a model: N images, K classes."""

    ids: list[str]  # image ids, length N
    paths: list[Path]  # image files, length N
    labels: np.ndarray  # int64 class index per image, shape (N,)
    classes: list[str]  # class names, length K; labels index into it
    metadata: list[dict[str, str]]  # per image
    origin: list[str]  # per image: real | augmented | synthetic
    parents: list[str | None]  # per image: parent image id, for augmented/synthetic

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, ids: Iterable[str]) -> "LabeledSet":
        """The same set less the given images (and anything made from them)."""
        drop = set(ids)
        keep = [i for i, (image_id, parent) in enumerate(zip(self.ids, self.parents))
                if image_id not in drop and parent not in drop]
        return LabeledSet(
            ids=[self.ids[i] for i in keep],
            paths=[self.paths[i] for i in keep],
            labels=self.labels[keep],
            classes=self.classes,
            metadata=[self.metadata[i] for i in keep],
            origin=[self.origin[i] for i in keep],
            parents=[self.parents[i] for i in keep],
        )


class Project:
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
        """Create a new project folder (it may exist but must not be a project yet)."""
        root = Path(root).resolve()
        if (root / CONFIG_NAME).exists():
            raise DatacentricError("already a datacentric project", root)
        if root.exists() and not root.is_dir():
            raise DatacentricError("exists and is not a folder", root)
        settings = {"classes": clean_class_list(classes, "--classes"), "seed": seed}
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
        """One atomic write: everything in the block lands, or nothing does."""
        with transaction(self._conn) as conn:
            yield conn

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        """Run a read-only SQL query on the store."""
        return self._conn.execute(sql, tuple(params)).fetchall()

    # -- images ----------------------------------------------------------------------
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
        return [_image(row) for row in self._conn.execute(sql + " ORDER BY added_at, id", params)
                if row["id"] not in gone]

    def removed_ids(self) -> set[str]:
        """Ids of the images taken out of the project (and not put back)."""
        state: dict[str, str] = {}
        for row in self._conn.execute("SELECT image_id, action FROM removals ORDER BY id"):
            state[row["image_id"]] = row["action"]
        return {image_id for image_id, action in state.items() if action == "remove"}

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
            raise DatacentricError(f"image '{text}' was removed from the project (datacentric "
                                   "history shows when; importing it again brings it back)", self.root)
        if not found:
            raise DatacentricError(f"no image '{text}' in the project", self.root)
        return _image(found[0])

    def add_image(
        self,
        conn: sqlite3.Connection,
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
        """Insert an image inside an open transaction; merge metadata if known. True if new.

        A removed image comes back (a "restore" entry in the history by ``by``); that
        counts as new too.
        """
        row = conn.execute("SELECT metadata FROM images WHERE id = ?", (id,)).fetchone()
        metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        if row is not None:
            self.attach_metadata(conn, id, metadata)
            if id not in self._removed_in(conn, [id]):
                return False
            conn.execute("INSERT INTO removals(image_id, action, annotator, note, created_at)"
                         " VALUES (?, 'restore', ?, 'imported again', ?)", (id, by, now()))
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

    def attach_metadata(self, conn: sqlite3.Connection, image_id: str, metadata: dict[str, str]) -> bool:
        """Merge ``metadata`` into a known image's, inside an open transaction. True if it changed."""
        row = conn.execute("SELECT metadata FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise DatacentricError(f"no image '{image_id}' in the project", self.root)
        before = json.loads(row["metadata"])
        merged = {**before, **{str(k): str(v) for k, v in metadata.items()}}
        if merged == before:
            return False
        conn.execute("UPDATE images SET metadata = ? WHERE id = ?", (json.dumps(merged), image_id))
        return True

    def remove_images(self, refs: Iterable[str | Path], *, by: str, note: str | None = None,
                      unlabelled_only: bool = False) -> list[ImageRecord]:
        """Take images out of the project, in one transaction; returns those removed.

        Each of ``refs`` is an image (as :meth:`image` finds it) or a folder (every image
        imported from under it). Images made from a removed one (augmented, synthetic) go
        with it. Nothing is deleted: the history keeps each removal (who, when, why) and the
        image's labels, and importing the image again brings it back. ``unlabelled_only``
        keeps every image that has a label.
        """
        if not by.strip():
            raise DatacentricError("removing images needs your name (--by)", self.root)
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
                raise DatacentricError("every image given has a label; nothing removed (--unlabelled)",
                                       self.root)
        for record in self.images(None):
            if record.parent in chosen:
                chosen.setdefault(record.id, record)
        with self.transaction() as conn:
            for image_id in chosen:
                conn.execute("INSERT INTO removals(image_id, action, annotator, note, created_at)"
                             " VALUES (?, 'remove', ?, ?, ?)", (image_id, by, note, now()))
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
        for row in conn.execute(f"SELECT image_id, action FROM removals WHERE image_id IN ({marks})"
                                " ORDER BY id", ids):
            state[row["image_id"]] = row["action"]
        return {i for i, action in state.items() if action == "remove"}

    # -- annotations -----------------------------------------------------------------
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
        return [_annotation(row) for row in self._conn.execute(sql + " ORDER BY id", params)
                if row["image_id"] not in gone]

    def add_annotation(
        self,
        conn: sqlite3.Connection,
        *,
        image_id: str,
        annotator: str,
        label: str,
        source: str,
        note: str | None = None,
        new_class: bool = False,
    ) -> bool:
        """Append a label inside an open transaction, unless it repeats the annotator's current one.

        Returns True when a row was added. Earlier labels stay: the table is the history.
        Check a batch's labels with :meth:`check_label` first: here a label outside a fixed
        class list is refused unless ``new_class`` is set (then it is appended to the list;
        call :meth:`save_config` after the transaction).
        """
        fixed = self.config.classes
        if not (label in fixed or (not fixed and self._seen(label))):
            label = self.check_label(label, new_class=new_class or not fixed)
        current = conn.execute(
            "SELECT label FROM annotations WHERE image_id = ? AND annotator = ? ORDER BY id DESC LIMIT 1",
            (image_id, annotator),
        ).fetchone()
        if current is not None and current["label"] == label:
            return False
        conn.execute(
            "INSERT INTO annotations(image_id, annotator, label, source, note, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (image_id, annotator, label, source, note, now()),
        )
        if self.config.classes and label not in self.config.classes:
            self.config.classes.append(label)
        return True

    def check_label(self, label: str, *, pending: Iterable[str] = (), where: object | None = None,
                    new_class: bool = False, known: list[str] | None = None) -> str:
        """Return ``label`` cleaned (see :mod:`datacentric.names`) if the project accepts it.

        Once the project has classes (a fixed list, or labels already given), a label
        outside them is refused with the closest known names, unless ``new_class`` is
        set; ``pending`` holds the new labels of the same batch, ``known`` the classes when
        the caller already has them (:meth:`classes`). A new class must never differ only
        by case from a known one. Raises :class:`DatacentricError`.
        """
        where = self.root if where is None else where
        name = clean_class_name(label, where)
        known = self.classes() if known is None else known
        pending = list(pending)
        if name in known or name in pending:
            return name
        twin = case_twin(name, [*known, *pending])
        if twin is not None:
            raise DatacentricError(f"label '{name}' differs only by case from the class '{twin}'",
                                   where)
        if known and not new_class:
            raise DatacentricError(unknown_label(name, known), where)
        return name

    def relabel(self, ref: str | Path, label: str, *, by: str, note: str | None = None,
                new_class: bool = False) -> Annotation:
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
        with self.transaction() as conn:
            first = conn.execute("SELECT COALESCE(MAX(id), 0) FROM annotations").fetchone()[0]
            for image_id, by, label, note in checked:
                conn.execute(
                    "INSERT INTO annotations(image_id, annotator, label, source, note, created_at)"
                    " VALUES (?, ?, ?, 'relabel', ?, ?)",
                    (image_id, by, label, note, now()),
                )
        if self.config.classes and pending:
            self.config.classes.extend(n for n in pending if n not in self.config.classes)
            self.save_config()
        rows = self._conn.execute("SELECT * FROM annotations WHERE id > ? ORDER BY id", (first,))
        return [_annotation(row) for row in rows][:len(checked)]

    def _seen(self, name: str) -> bool:
        """True when some annotation carries ``name`` (a quick check before a full one)."""
        sql = "SELECT 1 FROM annotations WHERE label = ? LIMIT 1"
        return self._conn.execute(sql, (name,)).fetchone() is not None

    def rename_class(self, old: str, new: str, *, by: str, note: str | None = None) -> int:
        """Rename class ``old`` to ``new``, or merge it into ``new`` when that class exists.

        Every annotator whose current label (or latest review) is ``old`` gets a new
        annotation with ``new`` (same annotator and source, a note saying why), so the
        history keeps both; later votes on the same image are restated after it, so a
        tie in the consensus is broken as before. Returns the number of labels renamed.
        """
        if not by.strip():
            raise DatacentricError("a class change needs your name (--by)", self.root)
        known = self.classes()
        old = clean_class_name(old, self.root)
        if old not in known:
            raise DatacentricError(unknown_label(old, known, kind="class", hint=""),
                                   self.root)
        new = clean_class_name(new, self.root)
        if new == old:
            raise DatacentricError(f"class '{old}' already has that name", self.root)
        twin = case_twin(new, [k for k in known if k != old])
        if twin is not None:
            raise DatacentricError(f"'{new}' differs only by case from the class '{twin}'",
                                   self.root)
        verb = "merged into" if new in known else "renamed to"
        why = f"class '{old}' {verb} '{new}' by {by}" + (f": {note}" if note else "")
        added = 0
        with self.transaction() as conn:
            for ann in _restated(self._counting(), old):
                renamed = ann.label == old
                label, text = (new, why) if renamed else (ann.label, f"restated after: {why}")
                conn.execute(
                    "INSERT INTO annotations(image_id, annotator, label, source, note, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (ann.image_id, ann.annotator, label, ann.source, text, now()),
                )
                added += renamed
        if self.config.classes:
            classes = [new if c == old else c for c in self.config.classes]
            self.config.classes = list(dict.fromkeys(classes))
            self.save_config()
        return added

    def remove_class(self, name: str) -> None:
        """Remove a class that no image's current label uses any more (history keeps old ones)."""
        known = self.classes()
        name = clean_class_name(name, self.root)
        if name not in known:
            raise DatacentricError(unknown_label(name, known, kind="class", hint=""),
                                   self.root)
        left = len({a.image_id for a in self._current_of(name)})
        if left:
            raise DatacentricError(
                f"class '{name}' still labels {plural(left, 'image')}; relabel them or merge "
                f"the class first (datacentric rename-class)", self.root)
        if self.config.classes:
            self.config.classes = [c for c in self.config.classes if c != name]
            self.save_config()

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
            changes.append(LabelChange(
                image_id=ann.image_id, path=paths[ann.image_id], annotator=ann.annotator,
                label=ann.label, previous=previous.get(key), source=ann.source,
                note=ann.note, at=ann.created_at,
            ))
            previous[key] = ann.label
        sql, params = "SELECT * FROM removals", ()
        if image_id is not None:
            sql, params = sql + " WHERE image_id = ?", (image_id,)
        events = [LabelChange(
            image_id=row["image_id"], path=paths[row["image_id"]], annotator=row["annotator"],
            label="", previous=None, source=row["action"], note=row["note"], at=row["created_at"],
            event="removed" if row["action"] == "remove" else "restored",
        ) for row in self._conn.execute(sql + " ORDER BY id", params)]
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

    # -- embedding store -------------------------------------------------------------
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

    # -- runs ------------------------------------------------------------------------
    def new_run(self, kind: str, config: dict | None = None) -> Run:
        """Create a run folder ``runs/<timestamp>-<kind>`` and its row (status 'running')."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
        run_id = f"{stamp}-{kind}"
        suffix = 1
        while self.path("runs", run_id).exists():
            suffix += 1
            run_id = f"{stamp}-{kind}-{suffix}"
        self.path("runs", run_id).mkdir(parents=True)
        write_atomic(self.path("runs", run_id, OWNER_FILE),
                     json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
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

    def champion(self) -> Run | None:
        """The train run in charge: the newest finished one that no retrain decision rejected.

        ``datacentric retrain`` trains a challenger and records whether it was promoted;
        a rejected challenger never takes over, while a plain ``train`` does.
        """
        rejected = {
            r.metrics.get("challenger") for r in self.runs("retrain")
            if r.status == "done" and r.metrics.get("promoted") is False
        }
        runs = [r for r in self.runs("train") if r.status == "done" and r.id not in rejected]
        return runs[-1] if runs else None

    def train_run(self, run: "str | Run | None" = None) -> Run:
        """A finished train run by id, or the one in charge (:meth:`champion`) when None."""
        if run is None:
            found = self.champion()
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


def _restated(counting: list[Annotation], old: str) -> list[Annotation]:
    """The annotations a rename of ``old`` appends again, oldest first.

    Per image: each one labelled ``old``, and every later one that counts, so the votes
    keep their order and a tie in the consensus is broken as before the rename.
    """
    first: dict[str, int] = {}
    for ann in counting:
        if ann.label == old:
            first[ann.image_id] = min(first.get(ann.image_id, ann.id), ann.id)
    return [a for a in counting if a.image_id in first and a.id >= first[a.image_id]]


def unknown_label(name: str, known: list[str], *, kind: str = "label",
                  hint: str = "--new-class adds it as a class") -> str:
    """``unknown label 'defekt' — did you mean 'defect'?`` and how to add a class instead."""
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    guess = f" — did you mean '{close[0]}'?" if close else ""
    tail = f"; {hint}" if hint else ""
    return f"unknown {kind} '{name}'{guess} (classes: {', '.join(known) or 'none'}{tail})"


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


def _is_folder(path: Path) -> bool:
    """True for an existing folder; a name no file system can hold (NUL byte) is none."""
    try:
        return path.is_dir()
    except (OSError, ValueError, UnicodeError):
        return False


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _image(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(
        id=row["id"],
        path=Path(row["path"]),
        width=row["width"],
        height=row["height"],
        metadata=json.loads(row["metadata"]),
        origin=row["origin"],
        parent=row["parent"],
        generator=json.loads(row["generator"]) if row["generator"] else None,
    )


def _annotation(row: sqlite3.Row) -> Annotation:
    return Annotation(
        id=row["id"],
        image_id=row["image_id"],
        annotator=row["annotator"],
        label=row["label"],
        source=row["source"],
        created_at=row["created_at"],
        note=row["note"],
    )
