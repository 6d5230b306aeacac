"""``predict`` over many images: the champion classifier on every file, locally or on Ray."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.scale.embed import input_files
from datacentric.scale.engine import check_engine, readable_files, require_ray, run_batches

if TYPE_CHECKING:
    from datacentric.project import Project, Run

__all__ = ["PredictResult", "predict_images", "predict_probs"]


@dataclass
class PredictResult:
    """What :func:`predict_images` did; the predictions themselves are in ``out``."""

    engine: str
    run: str  # the train run whose model predicted
    out: str  # Parquet file: path, id, label, probability, probs (K floats), error
    classes: list[str]
    n: int
    counts: dict[str, int] = field(default_factory=dict)  # predicted label -> images
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason
    nodes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def predict_images(
    project: Project,
    inputs: Sequence[Path | str] | Path | str,
    out: Path | str,
    *,
    engine: str = "local",
    address: str | None = None,
    run: Run | str | None = None,
    model: Path | str | None = None,
    batch_size: int = 32,
) -> PredictResult:
    """Predict every image under ``inputs`` with a train run's model; write ``out`` (Parquet).

    ``model`` names an exported ``.onnx`` file to run with onnxruntime instead of the
    run's torch model. The model file travels to the workers through Ray's object store,
    so only the images must be readable on every node. ``out`` is written whole at the end (a temporary file
    beside it is renamed), so a failed job leaves no half-written file.
    """
    import pyarrow.parquet as pq

    check_engine(engine)
    if engine == "ray":
        require_ray()
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise DatacentricError("--out must name a .parquet file", out)
    if not out.parent.is_dir():
        raise DatacentricError("folder not found", out.parent)
    out = project.check_out(out)
    started = time.perf_counter()
    worker, model_data, run_id, classes = _model(project, run, model)
    files = input_files(inputs)
    readable, errors = readable_files(files)
    schema = _schema(len(classes))
    tmp = out.with_name(f".{out.name}.tmp")
    counts: Counter = Counter()
    nodes: Counter = Counter()
    try:
        with pq.ParquetWriter(tmp, schema.with_metadata({"classes": json.dumps(classes)})) as writer:
            threads = _threads(worker)
            for batch in run_batches(
                worker,
                (model_data, threads),
                readable,
                engine=engine,
                address=address,
                batch_size=batch_size,
                description="predicting",
                threads=threads,
            ):
                table = _table(batch, classes, schema)
                writer.write_table(table)
                counts.update(label for label in table.column("label").to_pylist() if label)
                nodes.update(str(node) for node in batch["node"])
                errors.update({str(p): str(e) for p, e in zip(batch["path"], batch["error"]) if e})
            if errors:
                missing = [p for p in errors if p not in {str(r) for r in readable}]
                if missing:
                    writer.write_table(_error_table(missing, errors, len(classes), schema))
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return PredictResult(
        engine=engine,
        run=run_id,
        out=str(out),
        classes=list(classes),
        n=len(files),
        counts=dict(counts),
        errors=errors,
        nodes=dict(nodes),
        seconds=time.perf_counter() - started,
    )


def _threads(worker: type) -> int:
    """CPU threads per worker: torch's count for the torch model, else 0 (one ONNX Runtime call per usable core)."""
    from datacentric.scale.workers import Predictor

    if worker is not Predictor:
        return 0
    import torch

    return torch.get_num_threads()


def _model(project, run, model) -> tuple[type, bytes, str, list[str]]:
    """(worker class, model file's bytes, what to call the model, class names) for ``run``/``model``."""
    from datacentric.scale.workers import OnnxPredictor

    if model is not None:
        from datacentric.edge import OnnxClassifier

        model = Path(model)
        if not model.is_file():
            raise DatacentricError("model file not found", model)
        try:
            classes = OnnxClassifier(model).classes
        except Exception as exc:  # noqa: BLE001 - onnxruntime's load errors are many; one line
            raise DatacentricError(f"cannot load ONNX model: {str(exc).splitlines()[0]}", model) from None
        return OnnxPredictor, model.read_bytes(), str(model), classes
    from datacentric.model.classifier import load_classifier

    train_run = project.train_run(run)
    worker, data = _run_worker(train_run, project.cache_dir)
    return worker, data, train_run.id, load_classifier(train_run).classes


def _run_worker(train_run, cache_dir) -> tuple[type, bytes]:
    """The worker class for a train run's model and the bytes it is built from (self-contained:
    a worker needs no weights or cache of its own). A probe whose backbone is exported in the
    cache runs on ONNX Runtime alone; otherwise the whole torch model travels.
    """
    from datacentric.model.classifier import model_bytes
    from datacentric.runs import PROBE_FILE, model_file, read_probe
    from datacentric.scale.workers import Predictor, ProbePredictor

    path = model_file(train_run)
    if path is None:
        raise DatacentricError("this run has no model (model.pt or probe.npz)", train_run.dir)
    if path.name == PROBE_FILE and cache_dir is not None:
        from datacentric.model.exported_backbone import probe_package

        package = probe_package(read_probe(path), Path(cache_dir))
        if package is not None:
            return ProbePredictor, package
    return Predictor, model_bytes(train_run, cache_dir=cache_dir)


def _schema(k: int):
    import pyarrow as pa

    return pa.schema(
        [
            ("path", pa.string()),
            ("id", pa.string()),
            ("label", pa.string()),
            ("probability", pa.float32()),
            ("probs", pa.list_(pa.float32(), k)),
            ("error", pa.string()),
        ]
    )


def _table(batch: dict, classes: list[str], schema):
    import pyarrow as pa

    probs = np.asarray(batch["probs"], dtype=np.float32).reshape(len(batch["path"]), len(classes))
    ok = ~np.isnan(probs).any(axis=1)
    best = np.where(ok, np.nan_to_num(probs).argmax(axis=1), 0)
    labels = [classes[b] if good else None for b, good in zip(best, ok)]
    top = [float(probs[i, b]) if good else None for i, (b, good) in enumerate(zip(best, ok))]
    column = pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), len(classes))
    return pa.table(
        {
            "path": [str(p) for p in batch["path"]],
            "id": [str(i) for i in batch["id"]],
            "label": labels,
            "probability": pa.array(top, pa.float32()),
            "probs": column,
            "error": [str(e) or None for e in batch["error"]],
        },
        schema=schema,
    )


def _error_table(paths: list[str], errors: dict[str, str], k: int, schema):
    import pyarrow as pa

    empty = pa.FixedSizeListArray.from_arrays(pa.array(np.full(len(paths) * k, np.nan, dtype=np.float32)), k)
    return pa.table(
        {
            "path": paths,
            "id": [None] * len(paths),
            "label": [None] * len(paths),
            "probability": pa.array([None] * len(paths), pa.float32()),
            "probs": empty,
            "error": [errors[p] for p in paths],
        },
        schema=schema,
    )


def predict_probs(
    train_run: Run,
    files: Sequence[Path],
    *,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 32,
    cache_dir: Path | str | None = None,
) -> tuple[np.ndarray, dict[str, str]]:
    """Probabilities (N, K) of a train run's model for ``files``, in their order (NaN rows
    for unreadable files), and ``{path: reason}`` for those. ``cache_dir`` (the project's)
    holds converted backbone weights for a probe's model.
    """
    check_engine(engine)
    readable, errors = readable_files([Path(f) for f in files])
    worker, data = _run_worker(train_run, cache_dir)
    rows: dict[str, np.ndarray] = {}
    threads = _threads(worker)
    for batch in run_batches(
        worker,
        (data, threads),
        readable,
        engine=engine,
        address=address,
        batch_size=batch_size,
        description="predicting",
        threads=threads,
    ):
        for path, probs, error in zip(batch["path"], batch["probs"], batch["error"]):
            rows[str(path)] = np.asarray(probs, dtype=np.float32)
            if error:
                errors[str(path)] = str(error)
    width = next((len(v) for v in rows.values()), 0)
    out = np.array([rows.get(str(f), np.full(width, np.nan, np.float32)) for f in files], dtype=np.float32).reshape(
        len(files), width
    )
    return out, errors
