"""``embed``: production images into the project's embedding store, locally or on Ray."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.scale.engine import check_engine, readable_files, require_ray, run_batches

if TYPE_CHECKING:
    from datacentric.project import Project

__all__ = ["EmbedResult", "embed_images", "input_files"]


@dataclass
class EmbedResult:
    """What :func:`embed_images` did; rows of ``paths``/``ids`` line up (id '' when unreadable)."""

    engine: str
    key: str  # embedding key: backbone, weights and preprocessing
    store: str  # the store's folder (Parquet parts under parts/)
    paths: list[str]
    ids: list[str]
    embedded: int  # vectors computed by this job
    already: int  # images whose vector the store (or the local cache) had
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason
    nodes: dict[str, int] = field(default_factory=dict)  # Ray node (or "local") -> images handled
    job: str | None = None  # the committed job, None when nothing new was embedded
    seconds: float = 0.0
    statistics: np.ndarray | None = None  # per-image rows of the ``statistics`` function, if given


def input_files(inputs: Sequence[Path | str] | Path | str) -> list[Path]:
    """Image files named by ``inputs`` (folders searched recursively), absolute, in order."""
    from datacentric.data.images import expand_paths

    files = [p.resolve() for p in expand_paths(inputs)]
    if not files:
        shown = inputs if isinstance(inputs, (str, Path)) else ", ".join(map(str, inputs))
        raise DatacentricError("no image files here (png, jpg, bmp, tif)", shown)
    return files


def embed_images(
    project: Project,
    inputs: Sequence[Path | str] | Path | str,
    *,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 32,
    statistics: Callable | None = None,
    pretrained: bool = True,
    backbone: str | None = None,
) -> EmbedResult:
    """Embed images with the project's backbone into its Parquet embedding store.

    Images whose vector is stored already are hashed, not embedded again; unreadable files
    are listed in ``errors``. The job's parts become visible in one commit at the end, so a
    job that fails or is interrupted leaves the store as it was. ``statistics`` (a function
    images -> rows) is computed from the same decoded pixels, for drift. ``backbone``
    defaults to the project's.
    """
    check_engine(engine)
    if engine == "ray":
        require_ray()
    started = time.perf_counter()
    files = input_files(inputs)
    spec, store = _spec_and_store(project, pretrained, backbone)
    readable, errors = readable_files(files)
    job = store.new_job()
    import torch

    threads = torch.get_num_threads()
    spec = replace(
        spec,
        staging=str(job),
        skip=frozenset(store.ids()) | _cached_ids(store.folder),
        statistics=statistics,
        threads=threads,
    )
    rows, committed = _run_job(project, store, job, spec, readable, errors, engine, address, batch_size, len(files))
    ids = [rows[str(p)]["id"] if str(p) in rows and not rows[str(p)]["error"] else "" for p in files]
    embedded = sum(1 for row in rows.values() if row["embedded"])
    return EmbedResult(
        engine=engine,
        key=store.key,
        store=str(store.folder),
        paths=[str(p) for p in files],
        ids=ids,
        embedded=embedded,
        already=sum(1 for i in ids if i) - embedded,
        errors=errors,
        nodes=dict(Counter(row["node"] for row in rows.values())),
        job=committed.name if committed is not None else None,
        seconds=time.perf_counter() - started,
        statistics=_statistics(rows, files) if statistics is not None else None,
    )


def _run_job(project, store, job, spec, readable, errors: dict, engine, address, batch_size: int, n_files: int):
    """Embed ``readable`` files on the engine into the ``job`` folder, then commit the job (or
    discard it when nothing new was embedded, or on any failure); unreadable files join ``errors``.
    Returns (path -> row, the committed job or None).
    """
    from datacentric.scale.workers import Embedder

    rows: dict[str, dict] = {}
    try:
        for batch in run_batches(
            Embedder,
            (spec,),
            readable,
            engine=engine,
            address=address,
            batch_size=batch_size,
            description="embedding images",
            threads=spec.threads,
        ):
            _collect(batch, rows)
        embedded = sum(1 for row in rows.values() if row["embedded"])
        errors.update({path: row["error"] for path, row in rows.items() if row["error"]})
        if not embedded:
            store.discard(job)
            return rows, None
        committed = store.commit(
            job,
            lambda: project.record_embedding_job(
                job.name, key=store.key, engine=engine, images=n_files, embedded=embedded, errors=len(errors)
            ),
        )
    except BaseException:
        store.discard(job)
        raise
    return rows, committed


def _statistics(rows: dict[str, dict], files: list[Path]) -> np.ndarray:
    """The ``statistics`` rows in the order of ``files`` (NaN rows where a file gave none)."""
    width = next((len(r["statistics"]) for r in rows.values()), 0)
    return np.array([rows[str(p)]["statistics"] if str(p) in rows else np.full(width, np.nan) for p in files]).reshape(
        len(files), width
    )


def _spec_and_store(project, pretrained: bool, backbone: str | None):
    """The worker spec for the project's backbone and the store of its embedding key."""
    from datacentric.model.backbone import data_config
    from datacentric.model.embedding_store import EmbeddingStore
    from datacentric.model.embeddings import embedding_key, feature_model
    from datacentric.model.onnx_features import DEFAULT_RUNTIME
    from datacentric.scale.workers import EmbedSpec

    backbone, size = backbone or project.config.backbone, project.config.image_size
    model = feature_model(backbone, pretrained=pretrained, cache_dir=project.cache_dir)
    key = embedding_key(backbone, model, data_config(model, size), DEFAULT_RUNTIME)
    spec = EmbedSpec(
        backbone=backbone,
        image_size=size,
        pretrained=pretrained,
        cache_dir=str(project.cache_dir),
        runtime=DEFAULT_RUNTIME,
    )
    return spec, EmbeddingStore(project.cache_dir, key)


def _cached_ids(folder: Path) -> frozenset:
    """Ids that the per-image ``.npy`` cache of the same key holds."""
    if not folder.is_dir():
        return frozenset()
    return frozenset(p.stem for p in folder.glob("*.npy") if not p.name.startswith("."))


def _collect(batch: dict, rows: dict[str, dict]) -> None:
    """Add a worker's result batch to ``rows`` (path -> row)."""
    stats = batch.get("statistics")
    for i, path in enumerate(batch["path"]):
        rows[str(path)] = {
            "id": str(batch["id"][i]),
            "error": str(batch["error"][i]),
            "embedded": bool(batch["embedded"][i]),
            "node": str(batch["node"][i]),
            "statistics": None if stats is None else np.asarray(stats[i], dtype=np.float64),
        }
