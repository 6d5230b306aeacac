"""Export a project's train run and record an "export" run with the comparison table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.export.compare import RefusedExport, export_model
from datacentric.export.results import DEFAULT_THRESHOLD, ExportResult
from datacentric.paths import copy_atomic
from datacentric.runs import MODEL_FILE, OOF_FILE, read_oof
from datacentric.serialize import to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from datacentric.model import Classifier
    from datacentric.project import Project, Run

__all__ = ["export_run"]


def export_run(
    project: "Project",
    run: "str | Run | None" = None,
    *,
    int8: bool = False,
    out: Path | str | None = None,
    force: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    threads: int = 2,
    repeats: int = 20,
    torch_b16: bool = True,
) -> ExportResult:
    """Export a train run's model (default: the latest) and record an "export" run with the table.

    The ONNX files go to ``runs/<export id>/`` (``model.onnx``, ``model.int8.onnx``);
    the delivered one (int8 when asked) is also copied to ``out`` when given.
    Agreement is measured on all of the project's real images; accuracy on the
    labelled real images the train run did not see, if any, else on all labelled real
    images -- which the final model was trained on, so that accuracy is optimistic
    (``accuracy_on`` says which; the train run's ``cv_accuracy`` is the honest figure).
    Without ``torch_b16``, torch is not timed at batch 16 (see :func:`export_model`).
    """
    if out is not None:
        out = project.check_out(out)
    train = project.train_run(run)
    saved, clf = _trained_model(project, train)
    records = project.images("real")
    labels, holdout = _labels_and_holdout(project, records, clf.classes, train)
    has_holdout = bool((holdout & (labels >= 0)).any())
    export = project.new_run("export", _settings(train, int8, threshold, threads, torch_b16))
    try:
        result = export_model(
            clf.module,
            clf.classes,
            dict(clf.data_config),
            export.dir,
            paths=[r.path for r in records],
            labels=labels,
            accuracy_mask=holdout if has_holdout else None,
            transform=clf.transform,
            int8=int8,
            force=force,
            threshold=threshold,
            backbone=clf.backbone,
            threads=threads,
            repeats=repeats,
            torch_b16=torch_b16,
            seed=project.config.seed,
            # a probe's head file is no torch model: then the size of the model built from it
            torch_bytes=saved.stat().st_size if saved.name == MODEL_FILE else None,
        )
        _describe(result, train, export, has_holdout)
        if out is not None:
            copy_atomic(result.path, out)  # a kill mid-copy never truncates a good model at out
            result.path = out  # check_out resolved it
    except BaseException as exc:
        _fail(project, exc, train, export, has_holdout)
        raise
    project.finish_run(export, _metrics(result))
    return result


def _settings(train: "Run", int8: bool, threshold: float, threads: int, torch_b16: bool) -> dict:
    """The export run's parameters (``torch_b16`` only when off: it says why torch has no batch-16 latency)."""
    settings = {"train_run": train.id, "int8": int8, "threshold": threshold, "threads": threads}
    if not torch_b16:
        settings["torch_b16"] = False
    return settings


def _trained_model(project: "Project", train: "Run") -> tuple[Path, "Classifier"]:
    """The train run's model file and the classifier loaded from it."""
    from datacentric.model import load_classifier
    from datacentric.runs import model_file

    saved = model_file(train)
    if saved is None:
        raise DatacentricError(
            "train run has no model (model.pt or probe.npz); run `datacentric train` again", train.dir
        )
    return saved, load_classifier(saved, cache_dir=project.cache_dir)


def _labels_and_holdout(
    project: "Project", records: list, classes: list[str], train: "Run"
) -> tuple[np.ndarray, np.ndarray]:
    """Each real image's consensus class index (-1: none or unknown) and whether the train run left it out."""
    consensus = project.labels()
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index.get(consensus.get(r.id, ""), -1) for r in records], dtype=np.int64)
    seen = _trained_ids(train)
    holdout = np.array([r.id not in seen for r in records]) if seen is not None else np.zeros(len(records), bool)
    return labels, holdout


def _fail(project: "Project", exc: BaseException, train: "Run", export: "Run", has_holdout: bool) -> None:
    """Record the export run as failed: with the measured table when the model was refused, else empty."""
    if isinstance(exc, RefusedExport):
        _describe(exc.result, train, export, has_holdout)
        project.finish_run(export, _metrics(exc.result), status="failed")
    else:
        project.finish_run(export, {}, status="failed")


def _describe(result: ExportResult, train: "Run", export: "Run", has_holdout: bool) -> None:
    result.run_id = export.id
    result.train_run = train.id
    result.accuracy_on = "holdout" if has_holdout else "training"
    cv = train.metrics.get("cv_accuracy")
    result.cv_accuracy = float(cv) if cv is not None else None


def _metrics(result: ExportResult) -> dict:
    """The result as plain JSON types, for the run's metrics."""
    return to_jsonable(result)


def _trained_ids(train: "Run") -> set[str] | None:
    if not (train.dir / OOF_FILE).exists():
        return None
    return set(read_oof(train).ids)
