"""What :func:`datacentric.model.train` returns: one plain dataclass, shared by the trainer
and the train run's report (:mod:`datacentric.model.report`), which both read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """What :func:`train` did: the run, cross-validated quality, and cost."""

    run: object  # datacentric.project.Run
    backbone: str
    mode: str
    cv_accuracy: float  # mean over folds
    cv_accuracy_std: float  # spread over folds
    per_class: dict[str, dict]  # label -> {precision, recall, n, too_few}
    seconds: float
    cpu_seconds: float
    folds: int
    repeats: int
    params: int  # parameters trained: the probe's head, or the whole finetuned network
    model_bytes: int
    ids: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    probs: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    group_by: str | None = None  # the metadata column that kept groups together in CV
    ungrouped_cv_accuracy: float | None = None  # plain stratified folds on the same images (probe)
    twin_pairs: int = 0  # near-duplicate pairs kept in one fold
    report: Path | None = None  # runs/<id>/report.html: per-class bars and the confusion matrix
    model: Path | None = None  # runs/<id>/probe.npz (probe) or model.pt (finetune)
