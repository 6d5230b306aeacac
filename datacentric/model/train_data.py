"""What a train run learns from: the labelled real images, the augmented and synthetic
images made from them, their embeddings and the groups that must stay on one side of a split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.model.grouping import SplitGroups, split_groups

if TYPE_CHECKING:
    from datacentric.project import LabeledSet, Project

__all__ = ["Extra", "TrainData", "embed_part", "gather_train_data"]


@dataclass
class Extra:
    """The augmented and synthetic images (they only ever train, never validate)."""

    paths: list
    ids: list[str]
    labels: np.ndarray
    parent: np.ndarray  # each one's real image's row in ``real``, -1 when that image is not in it


@dataclass
class TrainData:
    """The images a train run cross-validates on, and how they are grouped."""

    real: object  # the labelled real images (a datacentric.project Dataset)
    extra: Extra
    split: SplitGroups
    X: np.ndarray | None  # embeddings of ``real`` (probe, or the twin check); None otherwise


def gather_train_data(
    project: Project,
    exclude: list[str],
    *,
    backbone: str,
    pretrained: bool,
    group_by: str | None,
    twins: bool,
    embed: bool,
) -> TrainData:
    """The labelled real images (less ``exclude``), their extra images, embeddings and groups.

    Refuses fewer than 2 images or 2 classes. ``embed`` = the probe needs the embeddings;
    the twin check needs them too.
    """
    real = project.dataset("real").without(exclude)
    if len(real) < 2:
        raise DatacentricError(f"need at least 2 labelled real images to train, found {len(real)}", project.root)
    if len(np.unique(real.labels)) < 2:
        raise DatacentricError("need labelled images of at least 2 classes to train", project.root)
    values = _group_values(real, group_by, project.root) if group_by else None
    X = embed_part(project, real, backbone, pretrained) if (twins or embed) else None
    split = split_groups(real.ids, column=group_by, values=values, embeddings=X if twins else None)
    return TrainData(real=real, extra=_extra_images(project, real, exclude), split=split, X=X)


def _extra_images(project, real, exclude: list[str]) -> Extra:
    """The augmented and synthetic images of the project (less ``exclude``) and their parents."""
    everything = project.dataset(None).without(exclude)
    index = {image_id: i for i, image_id in enumerate(real.ids)}
    extra = [i for i, o in enumerate(everything.origin) if o != "real"]
    paths = [everything.paths[i] for i in extra]
    ids = [everything.ids[i] for i in extra]
    parent = np.array([index.get(everything.parents[i] or "", -1) for i in extra], dtype=np.int64)
    return Extra(paths=paths, ids=ids, labels=everything.labels[extra], parent=parent)


def _group_values(real, column: str, where) -> list[str]:
    """Each real image's value of metadata ``column``; refuse an unknown or incomplete column."""
    values = [m.get(column) for m in real.metadata]
    missing = [p for p, v in zip(real.paths, values) if v is None or str(v).strip() == ""]
    if len(missing) == len(values):
        known = sorted({k for m in real.metadata for k in m})
        raise DatacentricError(f"no image has metadata column '{column}' (known: {', '.join(known) or 'none'})", where)
    if missing:
        raise DatacentricError(
            f"{len(missing)} of {len(values)} images have no '{column}' (e.g. {missing[0]}): "
            f"import a CSV that gives every image one",
            where,
        )
    return [str(v) for v in values]


def embed_part(project: Project, part: LabeledSet | Extra, backbone: str, pretrained: bool) -> np.ndarray:
    """Cached embeddings of a set of the project's images (the labelled real ones, or the extra
    rows) with ``backbone`` at the project's image size, for the probe and the twin check.
    """
    from datacentric.model.embeddings import embed

    return embed(
        part.paths,
        ids=part.ids,
        backbone=backbone,
        cache_dir=project.cache_dir,
        pretrained=pretrained,
        image_size=project.config.image_size,
    )
