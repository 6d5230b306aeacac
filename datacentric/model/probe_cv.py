"""The probe's train run: cross-validate a logistic-regression head on cached embeddings, then
fit it on every labelled row and save it (``probe.npz``, written without torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacentric.model.cv import CrossValResult, ProbeClassifier, cross_validate
from datacentric.model.train_data import TrainData, embed_part
from datacentric.runs import ProbeHead, write_probe

if TYPE_CHECKING:
    from datacentric.project import Project, Run

__all__ = ["cross_validate_probe", "train_probe"]


def train_probe(
    project: Project, run: Run, data: TrainData, backbone: str, *, C: float, pretrained: bool, **common: Any
) -> tuple[CrossValResult, Path, int, int]:
    """Cross-validate the probe, then save its head (``probe.npz``): (cv, model file, bytes, params)."""
    from datacentric.model.embeddings import embedding_config

    cv, probe = cross_validate_probe(project, data, backbone, pretrained=pretrained, C=C, **common)
    # no torch, no backbone: the model is built from the head when a command needs it
    made = embedding_config(
        backbone, pretrained=pretrained, image_size=project.config.image_size, cache_dir=project.cache_dir
    )
    head = ProbeHead(
        weight=probe.weight_,
        bias=probe.bias_,
        classes=list(data.real.classes),
        backbone=backbone,
        data_config=made["data_config"],
        weights=made["weights"],
        pretrained=pretrained,
    )
    model_path = write_probe(run.dir, head)
    return cv, model_path, model_path.stat().st_size, int(probe.weight_.size + probe.bias_.size)


def cross_validate_probe(
    project: Project,
    data: TrainData,
    backbone: str,
    *,
    folds: int,
    seed: int,
    repeats: int,
    pretrained: bool,
    C: float,
    groups: Sequence[str] | None,
) -> tuple[CrossValResult, ProbeClassifier]:
    """Cross-validate the probe, then fit it on every labelled row (real and extra).

    With ``groups``, the same probe on plain stratified folds gives
    ``cv.extra["ungrouped_cv_accuracy"]``: the leak the groups close.
    """
    real, extra = data.real, data.extra
    extra_X = embed_part(project, extra, backbone, pretrained) if extra.paths else None
    k = len(real.classes)
    common_cv = dict(
        folds=folds,
        seed=seed,
        repeats=repeats,
        extra_X=extra_X,
        extra_y=extra.labels,
        extra_parent=extra.parent,
        n_classes=k,
        C=C,
    )
    cv = cross_validate(data.X, real.labels, groups=groups, **common_cv)
    if groups is not None:
        cv.extra["ungrouped_cv_accuracy"] = cross_validate(data.X, real.labels, **common_cv).accuracy
    all_X = data.X if extra_X is None else np.concatenate([data.X, extra_X])
    all_y = real.labels if extra_X is None else np.concatenate([real.labels, extra.labels])
    return cv, ProbeClassifier(C=C, n_classes=k).fit(all_X, all_y)
