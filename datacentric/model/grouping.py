"""Which images must stay on one side of every split: a metadata column's groups and near-duplicate twins.

Two photos of one physical part (or one lot, or one capture session) validate each other
when one is trained on and the other validated; so do two near-identical photos, whatever
the metadata says. :func:`split_groups` joins both into one group name per image (union-find
over the twin pairs of :func:`datacentric.model.neighbours.find_near_duplicates`, combined with
the ``--group-by`` column's groups), and a train run stores those names in ``oof.npz``;
:func:`run_groups` reads them back for every later split (the retrain golden set, improve's
measurement folds, the audit's slice tests), so they keep the grouping train used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datacentric.project import LabeledSet, Project

__all__ = [
    "RepeatedColumn",
    "SplitGroups",
    "merge_groups",
    "project_groups",
    "repeated_columns",
    "run_groups",
    "split_groups",
    "twin_pairs",
]


@dataclass
class SplitGroups:
    """The group of each image for splitting, and where the groups came from."""

    names: list[str] | None  # one group name per image; None = every image on its own
    column: str | None  # the metadata column the groups started from
    twin_pairs: int  # near-duplicate pairs kept on one side (both rules of find_near_duplicates)

    @property
    def count(self) -> int:
        """How many distinct groups (0 when every image is on its own)."""
        return len(set(self.names)) if self.names is not None else 0


@dataclass
class RepeatedColumn:
    """A metadata column that looks like a part, lot or session id."""

    column: str
    shared: int  # images whose value another image has too
    values: int  # distinct values


def repeated_columns(
    metadata: Sequence[Mapping[str, str]], labels: Sequence | None = None, *, min_values: int = 2
) -> list[RepeatedColumn]:
    """Columns whose values name small groups of images, as a part id does: set on every image,
    at least one distinct value per 5 images and ``min_values`` in all (a camera or shift column
    has a handful), shared by at least a tenth of the images, and, with ``labels``, at least 80%
    of the images in shared groups carry their group's commonest label (photos of one part show
    one defect; a measurement such as a temperature or an exposure time that repeats by chance
    mixes labels). Photos with one such value may show one physical part and validate each
    other across folds: these are the columns to offer ``--group-by``. Most shared first.

    Example
    -------
    >>> rows = [{"part": f"p{i // 2}", "camera": "AB"[i % 2]} for i in range(20)]
    >>> [(c.column, c.shared, c.values) for c in repeated_columns(rows)]
    [('part', 20, 10)]
    """
    n = len(metadata)
    found = []
    for column in sorted({key for row in metadata for key in row}):
        values = [str(row.get(column) or "").strip() for row in metadata]
        if not n or not all(values):
            continue
        counts = Counter(values)
        shared = sum(c for c in counts.values() if c > 1)
        if len(counts) * 5 < n or len(counts) < min_values or shared * 10 < n:
            continue
        if labels is not None and _label_purity(values, labels, counts) < 0.8:
            continue
        found.append(RepeatedColumn(column, shared, len(counts)))
    return sorted(found, key=lambda c: (-c.shared, c.column))


def _label_purity(values: list[str], labels: Sequence, counts: Counter) -> float:
    """Share of the images in shared groups that carry their group's commonest label."""
    by_value: dict[str, Counter] = {}
    for value, label in zip(values, labels):
        if counts[value] > 1:
            by_value.setdefault(value, Counter())[label] += 1
    held = sum(sum(c.values()) for c in by_value.values())
    return sum(c.most_common(1)[0][1] for c in by_value.values()) / held if held else 0.0


def merge_groups(n: int, pairs: Sequence[tuple[int, int]], base: Sequence[str] | None = None) -> list[str]:
    """One group name per image: images sharing a ``base`` name or linked by a pair end up together.

    A merged group is named by the smallest base name in it (the image's row number when
    ``base`` is None), so names stay readable and distinct.

    >>> merge_groups(4, [(0, 2)])
    ['0', '1', '0', '3']
    >>> merge_groups(4, [(1, 2)], ["p1", "p2", "p3", "p1"])  # p2 and p3 are twins
    ['p1', 'p2', 'p2', 'p1']
    """
    names = [str(b) for b in base] if base is not None else [str(i) for i in range(n)]
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    links = list(pairs) + [(first.setdefault(name, i), i) for i, name in enumerate(names)]
    for a, b in links:
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    smallest: dict[int, str] = {}
    for i, name in enumerate(names):
        r = root(i)
        smallest[r] = min(smallest.get(r, name), name)
    return [smallest[root(i)] for i in range(n)]


def twin_pairs(embeddings: np.ndarray) -> list[tuple[int, int]]:
    """Row pairs the audit calls near-duplicates (see :func:`~datacentric.model.neighbours.find_near_duplicates`)."""
    from datacentric.model.neighbours import find_near_duplicates

    emb = np.asarray(embeddings, dtype=np.float64)
    if len(emb) < 3:
        return []
    return [(int(d.indices[0]), int(d.indices[1])) for d in find_near_duplicates(emb)]


def split_groups(
    ids: Sequence[str],
    *,
    column: str | None = None,
    values: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
) -> SplitGroups:
    """Groups for splitting the images ``ids``: ``column``'s ``values`` joined with the near-duplicate twins.

    Without ``values``, an image starts as a group of its own (named by its id). Without a
    column and without twins, ``names`` is None: plain stratified folds.
    """
    pairs = twin_pairs(embeddings) if embeddings is not None else []
    if values is None and not pairs:
        return SplitGroups(names=None, column=None, twin_pairs=0)
    base = [str(v) for v in values] if values is not None else [str(i) for i in ids]
    return SplitGroups(
        names=merge_groups(len(base), pairs, base), column=column if values is not None else None, twin_pairs=len(pairs)
    )


def run_groups(
    stored: Mapping[str, str],
    ids: Sequence[str],
    metadata: Sequence[Mapping[str, str]] | None = None,
    column: str | None = None,
) -> list[str] | None:
    """The group of each image in ``ids`` as a train run stored it (``stored``: id -> group).

    An image the run did not see joins the stored group of an image with the same ``column``
    value, else its own value, else stands alone (its id). None when nothing is grouped.
    """
    if not stored and not column:
        return None
    by_value: dict[str, str] = {}
    if column and metadata is not None:
        for image_id, meta in zip(ids, metadata):
            value = meta.get(column)
            if image_id in stored and value not in (None, ""):
                by_value.setdefault(str(value), stored[image_id])
    out = []
    for i, image_id in enumerate(ids):
        value = metadata[i].get(column) if (column and metadata is not None) else None
        if image_id in stored:
            out.append(stored[image_id])
        elif value not in (None, ""):
            out.append(by_value.get(str(value), str(value)))
        else:
            out.append(image_id)
    return out


def project_groups(project: Project, data: LabeledSet, embeddings: np.ndarray | None = None) -> list[str] | None:
    """The groups to split ``data`` (a project Dataset) by: those of the train run in charge.

    Without a train run, the near-duplicate twins of ``embeddings`` (as ``train`` would
    group them); None when nothing needs keeping together.
    """
    from datacentric.errors import DatacentricError
    from datacentric.runs import read_oof

    champion = project.champion()
    if champion is None:
        return split_groups(data.ids, embeddings=embeddings).names if embeddings is not None else None
    try:
        stored = read_oof(champion).group_of()
    except DatacentricError:
        stored = {}
    return run_groups(stored, data.ids, data.metadata, champion.config.get("group_by"))
