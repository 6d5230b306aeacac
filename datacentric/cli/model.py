"""Commands for models: train (cross-validated) and predict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from datacentric.cli import app
from datacentric.cli.common import (
    AddressOption,
    EngineOption,
    JsonOption,
    ProjectArg,
    console,
    print_json,
    require_at_least,
)
from datacentric.project import Project


@app.command()
def train(
    project: ProjectArg,
    backbone: Annotated[
        Optional[str],
        typer.Option(help="timm backbone (default: the project's). NAME@/path/weights.safetensors uses a local file."),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="probe: linear head on cached embeddings (seconds); finetune: train the backbone.")
    ] = "probe",
    folds: Annotated[Optional[int], typer.Option(help="Cross-validation folds (default: the project's).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed (default: the project's).")] = None,
    group_by: Annotated[
        Optional[str],
        typer.Option(
            "--group-by",
            help="Metadata column (part_id, lot, ...): its groups never straddle "
            "a CV split, so photos of one part never validate each other.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Train with cross-validation: per-class precision/recall, accuracy, a stored run.

    Every real image gets an out-of-sample probability (used by audit); the final model
    is trained on all labelled images and saved in runs/<id>/ (probe.npz: the probe's head on the
    backbone; model.pt: a finetuned network); runs/<id>/report.html
    draws precision and recall per class and the confusion matrix.

    Example:  datacentric train parts/ --mode probe --folds 5
              datacentric train parts/ --group-by part_id
    """
    from datacentric.model import train as train_model

    require_at_least(seed, 0, "--seed")
    require_at_least(folds, 2, "--folds")
    with Project.open(project) as proj:
        result = train_model(proj, mode=mode, folds=folds, seed=seed, backbone=backbone, group_by=group_by)
    if json:
        print_json(_train_json(result))
        return
    _print_train(result)


def _train_json(result) -> dict:
    """What ``train --json`` prints."""
    return {
        "run": result.run.id,
        "backbone": result.backbone,
        "mode": result.mode,
        "cv_accuracy": result.cv_accuracy,
        "cv_accuracy_std": result.cv_accuracy_std,
        "per_class": result.per_class,
        "seconds": round(result.seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3),
        "folds": result.folds,
        "repeats": result.repeats,
        "group_by": result.group_by,
        "ungrouped_cv_accuracy": result.ungrouped_cv_accuracy,
        "twin_pairs": result.twin_pairs,
        "report": result.report,
    }


def _print_train(result) -> None:
    """Per-class table, accuracy, the grouping's leak and where the run is."""
    from rich.table import Table

    table = Table(title=f"{result.folds}-fold CV x {result.repeats}, real images")
    for name in ("class", "n", "precision", "recall"):
        table.add_column(name, justify="left" if name == "class" else "right")
    for label, m in result.per_class.items():
        note = " (too few to judge)" if m["too_few"] else ""
        table.add_row(
            label + note, str(m["n"]), *(f"{v:.2f}" if v is not None else "—" for v in (m["precision"], m["recall"]))
        )
    console.print(table)
    console.print(
        f"accuracy {result.cv_accuracy:.3f} ± {result.cv_accuracy_std:.3f} over folds · {result.mode} on "
        f"{result.backbone} · {result.seconds:.1f} s"
    )
    if result.ungrouped_cv_accuracy is not None:
        from datacentric.words import plural

        kept = [f"each {result.group_by}"] * bool(result.group_by)
        kept += [plural(result.twin_pairs, "near-duplicate pair")] * bool(result.twin_pairs)
        console.print(
            f"folds keep {' and '.join(kept)} together; plain folds would report "
            f"{result.ungrouped_cv_accuracy:.3f} ({result.ungrouped_cv_accuracy - result.cv_accuracy:+.3f}: "
            f"the leak that grouping closes)",
            markup=False,
        )
    console.print(f"run {result.run.id} (model: {result.model})", markup=False)
    console.print(f"  report: {result.report}", markup=False)


@app.command()
def predict(
    project: ProjectArg,
    images: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
    run: Annotated[Optional[str], typer.Option(help="Train run id (default: the latest).")] = None,
    model: Annotated[
        Optional[Path], typer.Option("--model", help="An exported .onnx file: onnxruntime only, no torch.")
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Write every prediction to this .parquet file "
            "(path, id, label, probability, probs, error) instead of listing them.",
        ),
    ] = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
    json: JsonOption = False,
) -> None:
    """Predict a label and its probability for each image; unreadable files are listed, not fatal.

    For many images, write them to a file with --out; --engine ray spreads the work over a
    Ray cluster (needs --out).

    Example:  datacentric predict parts/ new_photos/
              datacentric predict parts/ new_photos/ --model parts.onnx
              datacentric predict parts/ line3/ --engine ray --out p.parquet
    """
    if out is not None or engine != "local":
        _predict_to_file(project, images, run, model, out, engine, address, json)
        return
    if model is not None:
        from datacentric.cli.export import predict_onnx

        predictions = predict_onnx(model, images)
    else:
        from datacentric.model import predict as predict_images

        with Project.open(project) as proj:
            predictions = predict_images(proj, images, run=run)
    if json:
        print_json({"run": predictions[0].run if predictions else run, "predictions": predictions})
        return
    console.print(f"run {predictions[0].run}" if predictions else "no images")
    for p in predictions:
        if p.error:
            console.print(f"  {p.path}: unreadable — {p.error}", markup=False)
        else:
            console.print(f"  {p.path}: {p.label} ({p.probability:.2f})", markup=False)
    bad = sum(1 for p in predictions if p.error)
    if bad:
        console.print(f"{bad} unreadable file(s) skipped")


def _predict_to_file(project, images, run, model, out, engine, address, json) -> None:
    """``predict --out`` / ``--engine ray``: every prediction into one Parquet file."""
    from datacentric.errors import DatacentricError
    from datacentric.scale import predict_images
    from datacentric.scale.engine import check_engine
    from datacentric.words import plural

    check_engine(engine)
    if out is None:
        raise DatacentricError(
            f"--engine {engine} writes its predictions to a file: add --out predictions.parquet", "--out"
        )
    with Project.open(project) as proj:
        result = predict_images(proj, images, out, engine=engine, address=address, run=run, model=model)
    if json:
        print_json(result)
        return
    counts = ", ".join(f"{label} {n}" for label, n in sorted(result.counts.items(), key=lambda kv: -kv[1]))
    console.print(
        f"run {result.run} · {plural(result.n, 'image')}: {counts or 'none readable'} · "
        f"{result.engine} engine on {plural(len(result.nodes), 'node')} · {result.seconds:.1f} s"
    )
    if result.errors:
        console.print(f"{plural(len(result.errors), 'unreadable file')} (rows with an error in the file)")
    console.print(f"predictions: {result.out}")
