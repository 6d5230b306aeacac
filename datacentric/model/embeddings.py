"""Image embeddings from a frozen backbone, batched and cached on disk.

The cache holds one ``.npy`` per image under
``<cache_dir>/embeddings/<key>/<image sha256>.npy`` (vectors that ``datacentric embed``
stored as Parquet parts beside them are read too, see :mod:`.embedding_store`), where ``key`` is a hash of the
backbone name, the id of its weights, the preprocessing (timm data config) and, for
any runtime but torch, the runtime, so a change to any of them never reuses stale vectors.
Decoding and resizing run in a thread pool a few batches ahead of the forward pass.

The forward pass runs in ONNX Runtime by default (``runtime="onnxruntime"``, see
:mod:`.onnx_features`: about 2x the best plain torch forward on a 2-core CPU), or in torch
(``runtime="torch"``). The two differ by float rounding only (max abs difference ~1e-5 on
the demo's 1280-d vectors), but their vectors are cached under different keys.

Finding ``key`` needs the model (its data config), which costs seconds to build. So
``<cache_dir>/embeddings/keys.json`` remembers which ``key`` a cheap *source id* led to
(backbone name, weights file or package id, image size, timm version; see :mod:`.key_hints`):
when every image is cached under it, :func:`embed` returns without importing torch or building
the model, and when the backbone's ONNX file is cached too, it embeds new images without either
(:mod:`.exported_backbone`).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.config import DEFAULT_BACKBONE
from datacentric.errors import DatacentricError
from datacentric.data.images import content_hash, load_image
from datacentric.model.backbone import create_backbone, data_config, weights_id
from datacentric.model.exported_backbone import edge_transform, exported_backbone
from datacentric.model.key_hints import embedding_key_for, key_meta, known_keys, remember_key, source_id
from datacentric.paths import UNREADABLE_ARRAYS
from datacentric.model.onnx_features import DEFAULT_RUNTIME, OnnxFeatures, check_runtime, onnx_features
from datacentric.progress import track

if TYPE_CHECKING:
    import torch

    from datacentric.project import ImageRecord, Project

__all__ = [
    "embed",
    "embed_project",
    "embedding_config",
    "cached_embeddings",
    "embedding_key",
    "embedding_key_for",
    "feature_model",
    "input_transform",
    "iter_batches",
    "runtime_model",
    "stack_batch",
]

_MODELS: dict[tuple, object] = {}


def feature_model(
    backbone: str = DEFAULT_BACKBONE, *, pretrained: bool = True, cache_dir: Path | None = None
) -> torch.nn.Module:
    """A feature-extractor backbone (``num_classes=0``), built once per process and reused.

    It is prepared for CPU inference (eval mode, channels-last memory format); do not train it.
    """
    import torch

    key = (backbone, pretrained, str(cache_dir))
    if key not in _MODELS:
        model = create_backbone(backbone, num_classes=0, pretrained=pretrained, cache_dir=cache_dir)
        model = model.eval().to(memory_format=torch.channels_last)
        for param in model.parameters():
            param.requires_grad_(False)
        _MODELS[key] = model
    return _MODELS[key]


def embedding_key(backbone: str, model: torch.nn.Module, config: dict, runtime: str = DEFAULT_RUNTIME) -> str:
    """Cache key for (backbone, weights, preprocessing, runtime); torch's key is the one of
    versions before the runtime existed, so caches made then stay valid for ``runtime="torch"``.
    """
    return embedding_key_for(backbone, weights_id(model), config, runtime)


def iter_batches(
    paths: Sequence[Path | str],
    transform: Callable,
    batch_size: int = 32,
    *,
    workers: int = 2,
    on_error: Callable[[int, DatacentricError], None] | None = None,
    channels_last: bool = True,
) -> Iterator[tuple[list[int], "object"]]:
    """Yield ``(indices, NCHW tensor)`` batches, decoding in threads ahead of the consumer.

    The tensors are in channels-last memory format (torch's fast CPU layout), or
    contiguous NCHW with ``channels_last=False`` (what ONNX Runtime reads without a copy).
    A ``transform`` that gives numpy arrays gets a numpy batch (and needs no torch).

    A file that cannot be read raises :class:`DatacentricError`, or, when ``on_error``
    is given, is reported to it (with its index) and left out of the batch.
    """

    def load(index: int):
        try:
            return index, transform(load_image(paths[index])), None
        except DatacentricError as exc:
            return index, None, exc

    n = len(paths)
    starts = list(range(0, n, batch_size))
    ahead = 2  # batches decoded ahead of the forward pass
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        queue: deque = deque()
        for start in starts[:ahead]:
            queue.append([pool.submit(load, i) for i in range(start, min(start + batch_size, n))])
        for b, _ in enumerate(starts):
            futures = queue.popleft()
            if b + ahead < len(starts):
                start = starts[b + ahead]
                queue.append([pool.submit(load, i) for i in range(start, min(start + batch_size, n))])
            indices, tensors = [], []
            for future in futures:
                index, tensor, error = future.result()
                if error is not None:
                    if on_error is None:
                        raise error
                    on_error(index, error)
                    continue
                indices.append(index)
                tensors.append(tensor)
            if tensors:
                yield indices, stack_batch(tensors, channels_last)


def stack_batch(tensors: list, channels_last: bool):
    """One batch from per-image arrays: numpy stays numpy; torch tensors in the memory format asked for."""
    if isinstance(tensors[0], np.ndarray):
        return np.stack(tensors)
    import torch

    batch = torch.stack(tensors)
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch


def forward(model, batch) -> np.ndarray:
    """Features of one NCHW batch (no gradients), as float32 numpy; ``model`` is a torch
    module or an :class:`OnnxFeatures` session.
    """
    if isinstance(model, OnnxFeatures):
        return model(batch if isinstance(batch, np.ndarray) else batch.numpy())
    from datacentric.model.torch_inference import infer

    return infer(model, batch).numpy()


def embed(
    paths: Sequence[Path | str],
    *,
    backbone: str = DEFAULT_BACKBONE,
    cache_dir: Path | str | None = None,
    batch_size: int = 32,
    pretrained: bool = True,
    image_size: int = 0,
    ids: Sequence[str] | None = None,
    workers: int = 2,
    runtime: str = DEFAULT_RUNTIME,
    on_error: Callable[[int, DatacentricError], None] | None = None,
) -> np.ndarray:
    """Embed images with a frozen backbone: N paths -> (N, D) float32 features.

    Parameters
    ----------
    paths
        Image files (any format :func:`datacentric.load_image` reads; grayscale becomes RGB).
    backbone
        Backbone spec (see :func:`create_backbone`).
    cache_dir
        Cache vectors under ``cache_dir/embeddings/``; None = no cache.
    batch_size, workers
        Forward batch size and decoding threads.
    pretrained
        False = random weights (tests).
    image_size
        Override the backbone's input size (0 = its default).
    ids
        The images' content hashes if known (saves re-hashing the files).
    runtime
        "onnxruntime" (default: the backbone exported to ONNX once, cached under
        ``cache_dir/onnx/``) or "torch". Each caches its vectors under its own key.
    on_error
        Called with (index, error) for a file that cannot be decoded; its row stays zero and
        is not cached. Without it such a file raises :class:`DatacentricError`.
    """
    check_runtime(runtime)
    paths = [Path(p) for p in paths]
    cache = Path(cache_dir) if cache_dir is not None else None
    hint = _CacheHint()
    if cache is not None and paths:
        hint = _look_up_hint(cache, paths, ids, backbone, pretrained, image_size, runtime)
        if len(hint.cached) == len(paths):  # the key this source led to before: no model needed
            return np.stack([hint.cached[i] for i in range(len(paths))]).astype(np.float32, copy=False)
        exported = exported_backbone(cache, hint.hinted, backbone) if runtime != "torch" else None
        if exported is not None:  # its ONNX file is cached too: new images need no torch either
            job = _Job(
                paths,
                hint.hashes,
                cache / "embeddings" / str(hint.hinted),
                batch_size,
                workers,
                on_error,
                ids is not None,
            )
            return _complete(job, dict(hint.cached), exported.runner, exported.transform, channels_last=False)
    model = feature_model(backbone, pretrained=pretrained, cache_dir=cache)
    config = data_config(model, image_size)
    if not paths:
        return np.zeros((0, model.num_features), dtype=np.float32)
    folder, cached = None, hint.cached
    if cache is not None:
        folder, key = _key_folder(cache, backbone, model, config, runtime, hint.source)
        if key != hint.hinted:
            cached = _cached_rows(folder, hint.hashes)
    if len(cached) == len(paths):
        return np.stack([cached[i] for i in range(len(paths))]).astype(np.float32, copy=False)
    runner = runtime_model(model, backbone, config, cache, runtime)
    transform = input_transform(config, runtime)
    job = _Job(paths, hint.hashes, folder, batch_size, workers, on_error, ids is not None and bool(hint.hashes))
    return _complete(job, dict(cached), runner, transform, channels_last=runtime == "torch", dim=model.num_features)


def input_transform(config: dict, runtime: str) -> Callable:
    """PIL image -> (3, H, W) input of the backbone: timm's eval transform, computed in numpy
    by :mod:`datacentric.edge` for ONNX Runtime (the same bits, no torch threads competing
    with ONNX Runtime's), by torch for torch or when edge cannot do it as timm does.
    """
    numpy_transform = edge_transform(config) if runtime != "torch" else None
    if numpy_transform is not None:
        return numpy_transform
    import timm.data

    return timm.data.create_transform(**config, is_training=False)


@dataclass
class _Job:
    """The images :func:`embed` was asked for and where their new vectors go."""

    paths: list[Path]
    hashes: list[str]  # content hashes (empty without a cache)
    folder: Path | None  # the key's cache folder; None = no cache
    batch_size: int
    workers: int
    on_error: Callable[[int, DatacentricError], None] | None
    given_ids: bool = False  # ``hashes`` are the ids the caller knows (as imported), not hashed here


def _check_unchanged(job: _Job, rows: list[int]) -> None:
    """Refuse, before any forward pass, an image whose file no longer holds what was imported
    under its id: its vector would be cached, and trained on, under another image's label.
    """
    for i in rows:
        if job.paths[i].is_file() and content_hash(job.paths[i]) != job.hashes[i]:
            raise DatacentricError(
                f"image changed on disk since it was imported as {job.hashes[i][:12]}: take that one out "
                f"(datacentric remove-images PROJECT {job.hashes[i][:12]} --by NAME), then import the file again",
                job.paths[i],
            )


def _complete(
    job: _Job, rows: dict[int, np.ndarray], runner, transform, *, channels_last: bool, dim: int = 0
) -> np.ndarray:
    """Forward the images not in ``rows`` (caching each new vector; see ``on_error`` of :func:`embed`); all rows."""
    todo = [i for i in range(len(job.paths)) if i not in rows]
    if job.given_ids:
        _check_unchanged(job, todo)
    report = None if job.on_error is None else (lambda j, error: job.on_error(todo[j], error))
    batches = iter_batches(
        [job.paths[i] for i in todo],
        transform,
        job.batch_size,
        workers=job.workers,
        channels_last=channels_last,
        on_error=report,
    )
    total = (len(todo) + job.batch_size - 1) // job.batch_size
    for indices, batch in track(batches, "embedding images", total=total):
        for j, row in zip(indices, forward(runner, batch)):
            rows[todo[j]] = row
            if job.folder is not None:
                _save_row(job.folder, job.hashes[todo[j]], row)
    dim = next((len(row) for row in rows.values()), dim)
    out = np.zeros((len(job.paths), dim), dtype=np.float32)
    for i, row in rows.items():
        out[i] = row
    return out


@dataclass
class _CacheHint:
    """What :func:`embed` found in the cache before building any model."""

    hashes: list[str] = field(default_factory=list)  # the images' content hashes
    source: str | None = None  # cheap id of the key's inputs (see source_id)
    hinted: str | None = None  # the key ``source`` led to before
    cached: dict[int, np.ndarray] = field(default_factory=dict)  # row -> vector cached under ``hinted``


def _look_up_hint(cache: Path, paths, ids, backbone, pretrained, image_size, runtime) -> _CacheHint:
    """Hash the images and read the vectors cached under the key their source led to before."""
    hashes = list(ids) if ids is not None else [content_hash(p) for p in paths]
    source = source_id(backbone, pretrained, image_size, runtime)
    hinted = known_keys(cache).get(source) if source is not None else None
    if not isinstance(hinted, str):
        return _CacheHint(hashes=hashes, source=source, hinted=hinted)
    return _CacheHint(
        hashes=hashes, source=source, hinted=hinted, cached=_cached_rows(cache / "embeddings" / hinted, hashes)
    )


def _key_folder(cache: Path, backbone: str, model, config: dict, runtime: str, source: str | None) -> tuple[Path, str]:
    """The cache folder of the model's embedding key (made, with its ``key.json``), and the key;
    remembers that ``source`` leads to it.
    """
    key = embedding_key(backbone, model, config, runtime)
    folder = cache / "embeddings" / key
    folder.mkdir(parents=True, exist_ok=True)
    if source is not None:
        remember_key(cache, source, key)
    meta = folder / "key.json"
    if not meta.exists():
        fields = {"backbone": backbone, "weights": weights_id(model), "data": config, "runtime": runtime}
        meta.write_text(json.dumps(fields, default=list))
    return folder, key


def _save_row(folder: Path, digest: str, row: np.ndarray) -> None:
    """Cache one vector as ``<digest>.npy`` (written aside, then renamed: readers never see half a file)."""
    tmp = folder / f".{digest}.{os.getpid()}.npy"
    np.save(tmp, row)
    tmp.replace(folder / f"{digest}.npy")


def runtime_model(
    model: torch.nn.Module, backbone: str, config: dict, cache_dir: Path | None, runtime: str, *, threads: int = 0
) -> torch.nn.Module | OnnxFeatures:
    """What :func:`forward` runs for ``runtime``: the torch ``model`` itself, or its ONNX Runtime
    session (exported once under ``cache_dir/onnx/``, keyed by the torch embedding key) running
    ``threads`` single-threaded calls side by side (0 = one per usable core; see
    :class:`~.onnx_features.OnnxFeatures`).
    """
    if check_runtime(runtime) == "torch":
        return model
    return onnx_features(
        model, embedding_key(backbone, model, config, "torch"), config, cache_dir, name=backbone, threads=threads
    )


def embedding_config(
    backbone: str = DEFAULT_BACKBONE,
    *,
    pretrained: bool = True,
    image_size: int = 0,
    cache_dir: Path | str | None = None,
    runtime: str = DEFAULT_RUNTIME,
) -> dict:
    """``{"weights": id, "data_config": timm data config}`` of the vectors :func:`embed` gives for
    these arguments: read beside the cached vectors when :func:`embed` found them there
    (no torch, no model), else from the (built once per process) model.
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    source = source_id(backbone, pretrained, image_size, runtime) if cache is not None else None
    meta = key_meta(cache, known_keys(cache).get(source)) if source is not None else None
    if meta is not None:
        return {"weights": meta["weights"], "data_config": meta["data"]}
    model = feature_model(backbone, pretrained=pretrained, cache_dir=cache)
    return {"weights": weights_id(model), "data_config": data_config(model, image_size)}


def cached_embeddings(cache_dir: Path | str, key: str, hashes: Sequence[str]) -> dict[int, np.ndarray]:
    """The vectors cached under embedding ``key`` for images with these content hashes, by row."""
    return _cached_rows(Path(cache_dir) / "embeddings" / key, list(hashes))


def _cached_rows(folder: Path, hashes: list[str]) -> dict[int, np.ndarray]:
    """The cached vectors under ``folder``, by row; rows with none (or a broken file) are absent."""
    rows = {}
    for i, digest in enumerate(hashes):
        try:
            rows[i] = np.load(folder / f"{digest}.npy")
        except UNREADABLE_ARRAYS:
            continue
    missing = [i for i in range(len(hashes)) if i not in rows]
    if missing and (folder / "parts").is_dir():  # vectors from `datacentric embed` (any engine)
        from datacentric.model.embedding_store import EmbeddingStore

        found = EmbeddingStore(folder.parent.parent, folder.name).vectors(hashes[i] for i in missing)
        rows.update({i: found[hashes[i]] for i in missing if hashes[i] in found})
    return rows


def embed_project(
    project: Project, records: Sequence[ImageRecord] | None = None, *, pretrained: bool = True, batch_size: int = 32
) -> np.ndarray:
    """Embed a project's images with its backbone and image size, cached in its ``cache_dir``.

    ``records`` default to the labelled real images in the order of ``project.dataset().ids``.
    """
    if records is None:
        data = project.dataset()
        paths, ids = list(data.paths), list(data.ids)
    else:
        paths, ids = [r.path for r in records], [r.id for r in records]
    return embed(
        paths,
        backbone=project.config.backbone,
        cache_dir=project.cache_dir,
        batch_size=batch_size,
        pretrained=pretrained,
        image_size=project.config.image_size,
        ids=ids,
    )
