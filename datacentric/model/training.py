"""``train``: cross-validated out-of-sample probabilities plus a final model, stored as a run.

A "train" run folder holds:

``oof.npz``
    the out-of-sample probabilities of the N labelled real images (see :mod:`datacentric.runs`).
``probe.npz`` (probe) or ``model.pt`` (finetune)
    the final classifier trained on all labelled data (see :mod:`datacentric.model.classifier`):
    the probe keeps its head on the named backbone, written without torch; finetune the whole network.
``report.html``
    per-class precision/recall bars and the confusion matrix (see :mod:`datacentric.model.report`).

Run metrics: cv_accuracy, cv_accuracy_std (over folds), per_class {label: {precision,
recall, n, too_few}}, seconds, cpu_seconds, backbone, mode, folds, repeats, params (the parameters
trained: the probe's head, or the whole finetuned network), model_bytes (the model file),
twin_pairs (near-duplicate pairs kept in one fold); with ``group_by`` or twins,
also group_by, groups and ungrouped_cv_accuracy (what plain stratified folds report on the
same images: the gap is the leak the groups closed). ``oof.npz`` then stores each image's group.

:mod:`.train_data` gathers what a run learns from; :mod:`.probe_cv` and :mod:`.finetune_cv`
cross-validate and train each mode's model.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.model.cv import DEFAULT_C, CrossValResult, default_repeats
from datacentric.model.train_result import TrainResult
from datacentric.model.train_data import TrainData, gather_train_data
from datacentric.runs import OutOfFold, write_oof

if TYPE_CHECKING:
    from datacentric.project import Project

__all__ = ["DEFAULT_C", "TrainResult", "per_class_metrics", "train"]

MODES = ("probe", "finetune")


def per_class_metrics(labels: np.ndarray, probs: np.ndarray, classes: list[str], too_few: list[int]) -> dict:
    """Precision, recall and count per class from out-of-sample probabilities; a precision
    without predictions of the class (or a recall without images of it) is None, as in the audit.
    """
    predicted = probs.argmax(axis=1)
    out = {}
    for c, name in enumerate(classes):
        tp = int(((predicted == c) & (labels == c)).sum())
        n_pred = int((predicted == c).sum())
        n = int((labels == c).sum())
        out[name] = {
            "precision": tp / n_pred if n_pred else None,
            "recall": tp / n if n else None,
            "n": n,
            "too_few": bool(c in too_few or n == 0),
        }
    return out


def train(
    project: Project,
    *,
    mode: str = "probe",
    folds: int | None = None,
    seed: int | None = None,
    backbone: str | None = None,
    repeats: int | None = None,
    pretrained: bool = True,
    C: float = DEFAULT_C,
    epochs: int = 10,
    keep_checkpoints: bool = False,
    device: str | None = None,
    exclude: Iterable[str] = (),
    group_by: str | None = None,
    twins: bool = True,
    challenger_of: str | None = None,
) -> TrainResult:
    """Cross-validate and train a classifier on a project's labelled images; store a "train" run.

    Parameters
    ----------
    project
        An open :class:`datacentric.Project`.
    mode
        "probe" (logistic regression on cached embeddings, seconds) or "finetune"
        (the backbone trained end to end, minutes).
    folds, seed, backbone
        Default to the project's settings.
    repeats
        CV repetitions over seeds (default 3 under 200 images, else 1).
    pretrained
        False = random backbone (tests only).
    C
        Probe regularisation.
    epochs
        Finetune: epochs of fine-tuning after the probe, per fold and for the final network.
    keep_checkpoints
        Finetune: keep each fold's final weights under ``runs/<id>/checkpoints/``.
    device
        Finetune: torch device (None = CUDA when available, else CPU).
    exclude
        Image ids to leave out entirely (e.g. a golden set kept for judging models),
        together with augmented/synthetic images made from them.
    group_by
        A metadata column (part id, lot, capture session): every image of one value stays
        on one side of every CV split, so no part is validated by a model that saw it.
    twins
        Keep the pairs the audit calls near-duplicates in one fold too (they validate each
        other otherwise); their groups join ``group_by``'s.
    challenger_of
        The retrain run this model is a challenger for: it takes charge only if that run
        promotes it (:func:`datacentric.runs.champion`). None for a plain train run.
    """
    folds, seed, backbone = _settings(project, mode, folds, seed, backbone, pretrained)
    exclude = sorted(set(exclude))
    data = gather_train_data(
        project,
        exclude,
        backbone=backbone,
        pretrained=pretrained,
        group_by=group_by,
        twins=twins,
        embed=mode == "probe",
    )
    common = dict(
        folds=folds, seed=seed, repeats=int(repeats or default_repeats(len(data.real))), pretrained=pretrained
    )
    options = {"C": C} if mode == "probe" else {"epochs": epochs, "device": device}
    config = _run_config(project, mode, backbone, common, exclude, group_by, twins, options)
    if challenger_of:
        config["challenger_of"] = challenger_of
    run = project.new_run("train", config)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        fitted = _fit(project, run, data, mode, backbone, common, options, keep_checkpoints=keep_checkpoints)
    except BaseException:
        project.finish_run(run, {"error": "training failed"}, status="failed")
        raise
    result = _result(run, data, fitted, mode=mode, backbone=backbone, group_by=group_by, started=(start, cpu_start))
    _write_report(project, run, result)
    result.run = project.finish_run(run, _metrics(result, fitted.cv, data, group_by))
    return result


@dataclass
class _Fitted:
    """What cross-validating and training the final model gave."""

    cv: CrossValResult
    model: Path  # runs/<id>/probe.npz or model.pt
    model_bytes: int
    params: int


def _settings(project, mode: str, folds, seed, backbone, pretrained: bool) -> tuple[int, int, str]:
    """(folds, seed, backbone) with the project's defaults; refuse an unknown mode, or a
    backbone without weights, before a run is recorded.
    """
    from datacentric.model.backbone import _fail_fast_without_weights
    from datacentric.model.weights import parse_backbone

    if mode not in MODES:
        raise DatacentricError(f"unknown mode '{mode}' (choose probe or finetune)", "train")
    folds = int(project.config.folds if folds is None else folds)
    if folds < 2:
        raise DatacentricError(f"folds must be at least 2, got {folds}", "train")
    seed = int(project.config.seed if seed is None else seed)
    backbone = backbone or project.config.backbone
    _fail_fast_without_weights(backbone, pretrained)
    parse_backbone(backbone)
    return folds, seed, backbone


def _run_config(project, mode, backbone, common: dict, exclude, group_by, twins: bool, options: dict) -> dict:
    """The train run's config, as stored with it."""
    config = {
        "mode": mode,
        "backbone": backbone,
        "folds": common["folds"],
        "seed": common["seed"],
        "repeats": common["repeats"],
        "image_size": project.config.image_size,
        "pretrained": common["pretrained"],
        "excluded": exclude,
    }
    if group_by:
        config["group_by"] = group_by
    config["twins"] = twins
    if mode == "probe":
        config["C"] = options["C"]
    else:
        config.update(epochs=options["epochs"], device=options["device"] or "auto")
    return config


def _fit(project, run, data: TrainData, mode, backbone, common: dict, options: dict, *, keep_checkpoints) -> _Fitted:
    """Cross-validate and train the final model of ``mode``; write ``oof.npz`` and the model file."""
    groups = data.split.names
    if mode == "probe":
        from datacentric.model.probe_cv import train_probe

        fitted = _Fitted(*train_probe(project, run, data, backbone, **options, **common, groups=groups))
    else:
        from datacentric.model.finetune_cv import train_finetune

        fitted = _Fitted(
            *train_finetune(
                project, run, data, backbone, **options, keep_checkpoints=keep_checkpoints, **common, groups=groups
            )
        )
    real = data.real
    oof = OutOfFold(
        ids=list(real.ids),
        labels=real.labels,
        probs=fitted.cv.probs,
        classes=list(real.classes),
        folds=fitted.cv.assignments,
        groups=groups,
    )
    write_oof(run.dir, oof)
    return fitted


def _result(run, data: TrainData, fitted: _Fitted, *, mode, backbone, group_by, started) -> TrainResult:
    """The :class:`TrainResult` of a finished fit (``started``: perf_counter and process_time at the start)."""
    cv, real = fitted.cv, data.real
    classes = list(real.classes)
    per_class = per_class_metrics(real.labels, cv.probs, classes, cv.too_few)
    return TrainResult(
        run=run,
        backbone=backbone,
        mode=mode,
        cv_accuracy=cv.accuracy,
        cv_accuracy_std=cv.accuracy_std,
        per_class=per_class,
        seconds=time.perf_counter() - started[0],
        cpu_seconds=time.process_time() - started[1],
        folds=cv.folds,
        repeats=cv.repeats,
        params=fitted.params,
        model_bytes=fitted.model_bytes,
        ids=list(real.ids),
        labels=real.labels,
        probs=cv.probs,
        classes=classes,
        group_by=group_by,
        ungrouped_cv_accuracy=cv.extra.get("ungrouped_cv_accuracy"),
        twin_pairs=data.split.twin_pairs,
        model=fitted.model,
    )


def _write_report(project, run, result: TrainResult) -> None:
    """Draw ``runs/<id>/report.html`` into ``result.report``; a failure marks the run failed."""
    try:
        from datacentric.model.report import write_train_report

        result.report = write_train_report(result, project.root, run.dir / "report.html")
    except BaseException:
        project.finish_run(run, {"error": "writing the report failed"}, status="failed")
        raise


def _metrics(result: TrainResult, cv: CrossValResult, data: TrainData, group_by: str | None) -> dict:
    """The run's metrics (see the module docstring)."""
    metrics = {
        "cv_accuracy": result.cv_accuracy,
        "cv_accuracy_std": result.cv_accuracy_std,
        "fold_accuracies": cv.fold_accuracies,
        "per_class": result.per_class,
        "seconds": round(result.seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3),
        "backbone": result.backbone,
        "mode": result.mode,
        "folds": cv.folds,
        "repeats": cv.repeats,
        "params": result.params,
        "model_bytes": result.model_bytes,
        "n_images": len(data.real),
        "n_extra": len(data.extra.paths),
        "twin_pairs": data.split.twin_pairs,
        **cv.extra,
    }
    if data.split.names is not None:
        metrics.update(group_by=group_by, groups=data.split.count)
    return metrics
