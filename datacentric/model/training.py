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
"""

from __future__ import annotations

from collections.abc import Iterable

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.runs import MODEL_FILE, OutOfFold, ProbeHead, write_oof, write_probe
from datacentric.model.cv import CrossValResult, ProbeClassifier, cross_validate, default_repeats, run_folds
from datacentric.model.grouping import split_groups

__all__ = ["DEFAULT_C", "TrainResult", "per_class_metrics", "train"]

DEFAULT_C = 0.03  # inverse L2 strength on standardised embeddings; 0.01-0.1 measured best on demo data
MODES = ("probe", "finetune")


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


def per_class_metrics(labels: np.ndarray, probs: np.ndarray, classes: list[str], too_few: list[int]) -> dict:
    """Precision, recall and count per class from out-of-sample probabilities."""
    predicted = probs.argmax(axis=1)
    out = {}
    for c, name in enumerate(classes):
        tp = int(((predicted == c) & (labels == c)).sum())
        n_pred = int((predicted == c).sum())
        n = int((labels == c).sum())
        out[name] = {
            "precision": tp / n_pred if n_pred else 0.0,
            "recall": tp / n if n else 0.0,
            "n": n,
            "too_few": bool(c in too_few or n == 0),
        }
    return out


def train(
    project,
    *,
    mode: str = "probe",
    folds: int | None = None,
    seed: int | None = None,
    backbone: str | None = None,
    repeats: int | None = None,
    pretrained: bool = True,
    C: float = DEFAULT_C,
    epochs: int = 15,
    keep_checkpoints: bool = False,
    device: str | None = None,
    exclude: Iterable[str] = (),
    group_by: str | None = None,
    twins: bool = True,
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
        Finetune: most epochs per fold (early stopping decides).
    keep_checkpoints
        Finetune: keep each fold's best weights under ``runs/<id>/checkpoints/``.
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
    """
    if mode not in MODES:
        raise DatacentricError(f"unknown mode '{mode}' (choose probe or finetune)", "train")
    folds = int(folds or project.config.folds)
    seed = int(project.config.seed if seed is None else seed)
    backbone = backbone or project.config.backbone
    from datacentric.model.backbone import _fail_fast_without_weights
    from datacentric.model.weights import parse_backbone

    _fail_fast_without_weights(backbone, pretrained)  # refuse before a run is recorded
    parse_backbone(backbone)
    exclude = sorted(set(exclude))
    real = project.dataset("real").without(exclude)
    classes = list(real.classes)
    if len(real) < 2:
        raise DatacentricError(f"need at least 2 labelled real images to train, found {len(real)}", project.root)
    if len(np.unique(real.labels)) < 2:
        raise DatacentricError("need labelled images of at least 2 classes to train", project.root)
    values = _groups(real, group_by, project.root) if group_by else None
    X = _embed_real(project, real, backbone, pretrained) if (twins or mode == "probe") else None
    split = split_groups(real.ids, column=group_by, values=values, embeddings=X if twins else None)
    groups = split.names
    extra_paths, extra_ids, extra_y, extra_parent = _augmented(project, real, exclude)
    repeats = int(repeats or default_repeats(len(real)))
    config = {
        "mode": mode,
        "backbone": backbone,
        "folds": folds,
        "seed": seed,
        "repeats": repeats,
        "image_size": project.config.image_size,
        "pretrained": pretrained,
        "excluded": exclude,
    }
    if group_by:
        config["group_by"] = group_by
    config["twins"] = twins
    config.update({"C": C} if mode == "probe" else {"epochs": epochs, "device": device or "auto"})
    run = project.new_run("train", config)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        common = dict(folds=folds, seed=seed, repeats=repeats, pretrained=pretrained, groups=groups)
        augmented = (extra_paths, extra_y, extra_parent)
        if mode == "probe":
            cv, model_path, model_bytes, params = _train_probe(
                project, run, real, extra_ids, augmented, backbone, C=C, X=X, **common
            )
        else:
            cv, model_path, model_bytes, params = _train_finetune(
                project,
                run,
                real,
                augmented,
                backbone,
                epochs=epochs,
                device=device,
                keep_checkpoints=keep_checkpoints,
                **common,
            )
        write_oof(
            run.dir,
            OutOfFold(
                ids=list(real.ids),
                labels=real.labels,
                probs=cv.probs,
                classes=classes,
                folds=cv.assignments,
                groups=groups,
            ),
        )
    except BaseException:
        project.finish_run(run, {"error": "training failed"}, status="failed")
        raise
    per_class = per_class_metrics(real.labels, cv.probs, classes, cv.too_few)
    result = TrainResult(
        run=run,
        backbone=backbone,
        mode=mode,
        cv_accuracy=cv.accuracy,
        cv_accuracy_std=cv.accuracy_std,
        per_class=per_class,
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        folds=cv.folds,
        repeats=cv.repeats,
        params=params,
        model_bytes=model_bytes,
        ids=list(real.ids),
        labels=real.labels,
        probs=cv.probs,
        classes=classes,
        group_by=group_by,
        ungrouped_cv_accuracy=cv.extra.get("ungrouped_cv_accuracy"),
        twin_pairs=split.twin_pairs,
        model=model_path,
    )
    try:
        from datacentric.model.report import write_train_report

        result.report = write_train_report(result, project.root, run.dir / "report.html")
    except BaseException:
        project.finish_run(run, {"error": "writing the report failed"}, status="failed")
        raise
    metrics = {
        "cv_accuracy": result.cv_accuracy,
        "cv_accuracy_std": result.cv_accuracy_std,
        "fold_accuracies": cv.fold_accuracies,
        "per_class": per_class,
        "seconds": round(result.seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3),
        "backbone": backbone,
        "mode": mode,
        "folds": cv.folds,
        "repeats": cv.repeats,
        "params": result.params,
        "model_bytes": model_bytes,
        "n_images": len(real),
        "n_extra": len(extra_paths),
        "twin_pairs": split.twin_pairs,
        **cv.extra,
    }
    if groups is not None:
        metrics.update(group_by=group_by, groups=split.count)
    result.run = project.finish_run(run, metrics)
    return result


def _augmented(project, real, exclude: list[str]):
    """The augmented and synthetic images (never validated): paths, ids, labels and each one's
    parent (its real image's row in ``real``, -1 when that image is not in it).
    """
    everything = project.dataset(None).without(exclude)
    index = {image_id: i for i, image_id in enumerate(real.ids)}
    extra = [i for i, o in enumerate(everything.origin) if o != "real"]
    paths = [everything.paths[i] for i in extra]
    ids = [everything.ids[i] for i in extra]
    parent = np.array([index.get(everything.parents[i] or "", -1) for i in extra], dtype=np.int64)
    return paths, ids, everything.labels[extra], parent


def _train_probe(project, run, real, extra_ids, extra, backbone, *, C, X, pretrained, **common):
    """Cross-validate the probe, then save its head (``probe.npz``): (cv, model file, bytes, params)."""
    from datacentric.model.embeddings import embedding_config

    extra_paths, extra_y, extra_parent = extra
    cv, probe = _probe(
        project,
        real,
        extra_paths,
        extra_ids,
        extra_y,
        extra_parent,
        backbone,
        pretrained=pretrained,
        C=C,
        X=X,
        **common,
    )
    # no torch, no backbone: the model is built from the head when a command needs it
    made = embedding_config(
        backbone, pretrained=pretrained, image_size=project.config.image_size, cache_dir=project.cache_dir
    )
    head = ProbeHead(
        weight=probe.weight_,
        bias=probe.bias_,
        classes=list(real.classes),
        backbone=backbone,
        data_config=made["data_config"],
        weights=made["weights"],
        pretrained=pretrained,
    )
    model_path = write_probe(run.dir, head)
    return cv, model_path, model_path.stat().st_size, int(probe.weight_.size + probe.bias_.size)


def _train_finetune(project, run, real, extra, backbone, *, epochs, device, keep_checkpoints, **common):
    """Cross-validate fine-tuning, then save the whole network (``model.pt``): (cv, model file, bytes, params)."""
    from datacentric.model.classifier import save_classifier

    extra_paths, extra_y, extra_parent = extra
    cv, module, data_cfg = _finetune(
        project,
        real,
        extra_paths,
        extra_y,
        extra_parent,
        backbone,
        epochs=epochs,
        device=device,
        checkpoints=run.dir / "checkpoints" if keep_checkpoints else None,
        **common,
    )
    model_path = run.dir / MODEL_FILE
    model_bytes = save_classifier(
        module, model_path, classes=list(real.classes), backbone=backbone, data_config=data_cfg, mode="finetune"
    )
    return cv, model_path, model_bytes, sum(p.numel() for p in module.parameters())


def _groups(real, column: str, where) -> list[str]:
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


def _embed_real(project, real, backbone: str, pretrained: bool) -> np.ndarray:
    """Cached embeddings of the labelled real images (for the probe and the twin check)."""
    from datacentric.model.embeddings import embed

    return embed(
        real.paths,
        ids=real.ids,
        backbone=backbone,
        cache_dir=project.cache_dir,
        pretrained=pretrained,
        image_size=project.config.image_size,
    )


def _probe(
    project,
    real,
    extra_paths,
    extra_ids,
    extra_y,
    extra_parent,
    backbone,
    *,
    folds,
    seed,
    repeats,
    pretrained,
    C,
    groups=None,
    X=None,
) -> tuple[CrossValResult, ProbeClassifier]:
    """Cross-validate the probe, then fit it on every labelled row (real and extra)."""
    from datacentric.model.embeddings import embed

    common = dict(
        backbone=backbone, cache_dir=project.cache_dir, pretrained=pretrained, image_size=project.config.image_size
    )
    X = _embed_real(project, real, backbone, pretrained) if X is None else X
    extra_X = embed(extra_paths, ids=extra_ids, **common) if extra_paths else None
    k = len(real.classes)
    common_cv = dict(
        folds=folds,
        seed=seed,
        repeats=repeats,
        extra_X=extra_X,
        extra_y=extra_y,
        extra_parent=extra_parent,
        n_classes=k,
        C=C,
    )
    cv = cross_validate(X, real.labels, groups=groups, **common_cv)
    if groups is not None:  # the same probe on plain stratified folds: the leak the groups close
        cv.extra["ungrouped_cv_accuracy"] = cross_validate(X, real.labels, **common_cv).accuracy
    all_X = X if extra_X is None else np.concatenate([X, extra_X])
    all_y = real.labels if extra_X is None else np.concatenate([real.labels, extra_y])
    return cv, ProbeClassifier(C=C, n_classes=k).fit(all_X, all_y)


def _finetune(
    project,
    real,
    extra_paths,
    extra_y,
    extra_parent,
    backbone,
    *,
    folds,
    seed,
    repeats,
    pretrained,
    epochs,
    checkpoints: Path | None,
    device: str | None,
    groups=None,
):
    from datacentric.model.backbone import create_backbone, data_config
    from datacentric.model.finetune import FineTuner, decode_images

    k = len(real.classes)
    cfg = data_config(
        create_backbone(backbone, pretrained=pretrained, cache_dir=project.cache_dir), project.config.image_size
    )
    paths = [Path(p) for p in real.paths]
    extra_paths = [Path(p) for p in extra_paths]
    images = decode_images(paths + extra_paths, cfg)
    options = dict(
        n_classes=k,
        epochs=epochs,
        image_size=project.config.image_size,
        pretrained=pretrained,
        cache_dir=project.cache_dir,
        device=device,
    )
    if checkpoints is not None:
        checkpoints.mkdir(parents=True, exist_ok=True)
    best_epochs: list[int] = []

    def fit_predict(train_idx, extra_idx, val_idx):
        fold = len(best_epochs)
        tuner = FineTuner(
            backbone,
            seed=seed * 1000 + fold,
            **options,
            checkpoint=checkpoints / f"fold{fold}.pt" if checkpoints is not None else None,
        )
        train_paths = [paths[i] for i in train_idx] + [extra_paths[i] for i in extra_idx]
        train_y = (
            np.concatenate([real.labels[train_idx], extra_y[extra_idx]]) if len(extra_idx) else real.labels[train_idx]
        )
        tuner.fit(
            train_paths, train_y, val_paths=[paths[i] for i in val_idx], val_y=real.labels[val_idx], images=images
        )
        best_epochs.append(tuner.best_epoch_)
        return tuner.predict_proba([paths[i] for i in val_idx], images=images)

    cv: CrossValResult = run_folds(
        real.labels,
        fit_predict,
        n_classes=k,
        folds=folds,
        seed=seed,
        repeats=repeats,
        extra_parent=extra_parent,
        description="fine-tuning folds",
        groups=groups,
    )
    final_epochs = max(1, int(round(float(np.median(best_epochs)))))
    final = FineTuner(backbone, seed=seed, **{**options, "epochs": final_epochs})
    final.fit(
        paths + extra_paths, np.concatenate([real.labels, extra_y]) if extra_paths else real.labels, images=images
    )
    cv.extra = {**cv.extra, "best_epochs": best_epochs, "final_epochs": final_epochs}
    return cv, final.module_.cpu().eval(), cfg
