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

:class:`Project` is the one writer of the store. Its methods live in one module per
job, each a part mixed into the class (:mod:`.core`): :mod:`.images` (images and their
metadata), :mod:`.removals`, :mod:`.annotations` (appending labels), :mod:`.labels`
(consensus, classes, history), :mod:`.classes` (renaming and removing classes),
:mod:`.run_log` (runs and the champion), :mod:`.jobs` (what other steps record) and
:mod:`.sync_links` (our images in outside systems).
The records they return are plain dataclasses (:mod:`.records`); the SQLite schema, its
migrations and transactions are :mod:`.store`.
"""

from datacentric.project.annotations import unknown_label
from datacentric.project.core import Project
from datacentric.project.records import (
    REVIEW_SOURCES,
    Annotation,
    Decision,
    ImageRecord,
    LabelChange,
    LabeledSet,
    Run,
    SyncLink,
)

__all__ = [
    "REVIEW_SOURCES",
    "Annotation",
    "Decision",
    "ImageRecord",
    "LabelChange",
    "LabeledSet",
    "Project",
    "Run",
    "SyncLink",
    "unknown_label",
]
