"""The ``export`` command: ship the trained model as ONNX (fp32 or int8), with parity measured."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from datacentric.cli import app
from datacentric.cli.common import JsonOption, ProjectArg, console, print_json, require_at_least, say
from datacentric.errors import DatacentricError


@app.command("export")
def export_(
    project: ProjectArg,
    run: Annotated[Optional[str], typer.Option(help="Train run id (default: the latest).")] = None,
    format: Annotated[str, typer.Option("--format", help="Model format; only onnx for now.")] = "onnx",
    int8: Annotated[
        bool, typer.Option("--int8", help="Quantize to int8 (static, calibrated on the project's images).")
    ] = False,
    out: Annotated[Optional[Path], typer.Option(help="Also copy the delivered model here.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write the model even if it agrees with torch below the threshold.")
    ] = False,
    threshold: Annotated[float, typer.Option(help="Least top-1 agreement with the torch model.")] = 0.99,
    threads: Annotated[int, typer.Option(help="CPU threads for every format's latency.")] = 2,
    skip_torch_b16: Annotated[
        bool,
        typer.Option(
            "--skip-torch-b16", help="Do not time torch at batch 16 (the slowest, most memory-hungry timing)."
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Export the trained model to ONNX and compare it with torch: size, latency, agreement, accuracy.

    The .onnx file holds the class names and preprocessing, so `predict --model` needs
    only onnxruntime, numpy and pillow.

    Example:  datacentric export parts/ --int8 --out parts.onnx
    """
    from datacentric.export import RefusedExport, export_run
    from datacentric.project import Project

    if format.lower() != "onnx":
        raise DatacentricError(f"unknown format '{format}' (expected onnx)", "--format")
    require_at_least(threads, 1, "--threads")
    with Project.open(project) as proj:
        try:
            result = export_run(
                proj,
                run,
                int8=int8,
                out=out,
                force=force,
                threshold=threshold,
                threads=threads,
                torch_b16=not skip_torch_b16,
            )
        except RefusedExport as refused:
            if not json:
                _print_measurements(refused.result)
                _say_what_was_kept(refused.result, project)
            raise
    if json:
        print_json(result)
        return
    _print_measurements(result)
    say(f"wrote {result.path}")
    model = shlex.quote(str(result.path))
    say(f"next: datacentric predict {shlex.quote(str(project))} new_photos/ --model {model}")


def _print_measurements(result) -> None:
    """The comparison table and what it rests on."""
    from datacentric.export import NEAR_TIE

    table = Table(title=f"export of {result.train_run} ({result.threads} threads)", title_justify="left")
    table.add_column("format", no_wrap=True)
    for column in ("MB", "ms/img b1", "ms/img b16", "agreement", "max |Δp|", "accuracy"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in result.formats:
        table.add_row(
            row.name,
            f"{row.bytes / 1e6:.1f}",
            _num(row.latency_ms_b1, ".2f"),
            _num(row.latency_ms_b16, ".2f"),
            f"{row.agreement:.1%}",
            f"{row.max_prob_diff:.4f}",
            _num(row.accuracy, ".3f"),
        )
    console.print(table)
    where = "held-out real images" if result.accuracy_on == "holdout" else "real images the model was trained on"
    cv = f"; cross-validated accuracy {result.cv_accuracy:.3f}" if result.cv_accuracy is not None else ""
    say(f"agreement on {result.n_images} real images; accuracy on {result.n_accuracy} {where}{cv}")
    if result.other_load is not None and result.other_load >= 1:
        say(
            f"timed on a busy machine: other work kept {result.other_load:.1f} cores busy "
            f"({os.cpu_count()} in all), so the latencies are slower than this model runs alone"
        )
    torch_row = result.formats[0]
    if torch_row.latency_ms_b1 is not None and torch_row.latency_ms_b16 is None:
        say(f"not timed: {torch_row.name} at batch 16 (skipped on request, --skip-torch-b16)")
    if result.quantization:
        say(f"int8: {result.quantization}")
    if result.disagreements:
        ties = sum(d.near_tie for d in result.disagreements)
        clearest = ", ".join(
            f"{Path(d.image).name} (torch {d.torch_label}, {d.label})" for d in result.disagreements[::-1][:3]
        )
        n = len(result.disagreements)
        say(
            f"{result.formats[-1].name} disagrees with torch on {n} image{'s' * (n != 1)} "
            f"({ties} near-tie{'s' * (ties != 1)} for torch, its top two classes within {NEAR_TIE}); "
            f"clearest first: {clearest}"
        )
    for image, reason in result.skipped:
        say(f"  skipped {image}: {reason}")


def _say_what_was_kept(result, project: Path) -> None:
    """After a refusal: the float model that was written, and what --force would ship."""
    fp32 = next((row for row in result.formats if row.name == "onnx-fp32" and row.path), None)
    refused = result.formats[-1]
    if fp32 is not None and fp32 is not refused:
        model = shlex.quote(str(fp32.path))
        say(f"kept: the fp32 ONNX model ({fp32.agreement:.1%} agreement, {fp32.bytes / 1e6:.1f} MB) is at {fp32.path}")
        say(f"use it: datacentric predict {shlex.quote(str(project))} new_photos/ --model {model}")
    say(
        f"--force would ship {refused.name} anyway ({refused.agreement:.1%} agreement with torch, "
        f"{refused.bytes / 1e6:.1f} MB)"
    )


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


@dataclass
class OnnxPrediction:
    """``datacentric.edge.EdgePrediction`` plus the model file that made it (``run`` in ``predict``'s output)."""

    path: Path
    label: str | None
    probability: float
    probs: dict[str, float]
    error: str | None = None
    run: str | None = None


def predict_onnx(model: Path, images: list[Path]) -> list[OnnxPrediction]:
    """``predict --model``: label image files and folders with an exported .onnx (never imports torch)."""
    from datacentric.edge import OnnxClassifier
    from datacentric.data.images import expand_paths

    if not Path(model).is_file():
        raise DatacentricError("model file not found", model)
    files = expand_paths(images)
    if not files:
        raise DatacentricError("no image files to predict", ", ".join(str(p) for p in images))
    try:
        classifier = OnnxClassifier(model)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's load errors are many; one line for the user
        raise DatacentricError(f"cannot load ONNX model: {str(exc).splitlines()[0]}", model) from None
    return [OnnxPrediction(**vars(p), run=str(model)) for p in classifier.predict(files)]
