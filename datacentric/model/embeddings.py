"""Image embeddings from a frozen backbone, batched and cached on disk.

The cache holds one ``.npy`` per image under
``<cache_dir>/embeddings/<key>/<image sha256>.npy``, where ``key`` is a hash of the
backbone name, the id of its weights and the preprocessing (timm data config), so a
change to any of them never reuses stale vectors. Decoding and resizing run in a
thread pool a few batches ahead of the forward pass.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from datacentric.config import DEFAULT_BACKBONE
from datacentric.errors import DatacentricError
from datacentric.images import content_hash, load_image
from datacentric.model.backbone import create_backbone, data_config, weights_id
from datacentric.progress import track

__all__ = ["embed", "embed_project", "embedding_key", "feature_model", "iter_batches"]

_MODELS: dict[tuple, object] = {}


def feature_model(backbone: str = DEFAULT_BACKBONE, *, pretrained: bool = True, cache_dir: Path | None = None):
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


def embedding_key(backbone: str, model, config: dict) -> str:
    """Cache key for (backbone, weights, preprocessing)."""
    text = json.dumps(
        {"backbone": backbone.split("@", 1)[0], "weights": weights_id(model), "data": config},
        sort_keys=True, default=list,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def iter_batches(
    paths: Sequence[Path | str],
    transform: Callable,
    batch_size: int = 32,
    *,
    workers: int = 2,
    on_error: Callable[[int, DatacentricError], None] | None = None,
) -> Iterator[tuple[list[int], "object"]]:
    """Yield ``(indices, NCHW tensor)`` batches, decoding in threads ahead of the consumer.

    A file that cannot be read raises :class:`DatacentricError`, or, when ``on_error``
    is given, is reported to it (with its index) and left out of the batch.
    """
    import torch

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
                yield indices, torch.stack(tensors).contiguous(memory_format=torch.channels_last)


def _forward(model, batch) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(batch).float().numpy()


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
    """
    import timm.data

    paths = [Path(p) for p in paths]
    cache = Path(cache_dir) if cache_dir is not None else None
    model = feature_model(backbone, pretrained=pretrained, cache_dir=cache)
    config = data_config(model, image_size)
    out = np.zeros((len(paths), model.num_features), dtype=np.float32)
    if not paths:
        return out
    todo = list(range(len(paths)))
    folder = None
    if cache is not None:
        folder = cache / "embeddings" / embedding_key(backbone, model, config)
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "key.json"
        if not meta.exists():
            meta.write_text(json.dumps(
                {"backbone": backbone, "weights": weights_id(model), "data": config}, default=list
            ))
        hashes = list(ids) if ids is not None else [content_hash(p) for p in paths]
        todo = []
        for i, digest in enumerate(hashes):
            try:
                out[i] = np.load(folder / f"{digest}.npy")
            except (OSError, ValueError):
                todo.append(i)
    if not todo:
        return out
    transform = timm.data.create_transform(**config, is_training=False)
    batches = iter_batches([paths[i] for i in todo], transform, batch_size, workers=workers)
    total = (len(todo) + batch_size - 1) // batch_size
    for indices, batch in track(batches, "embedding images", total=total):
        features = _forward(model, batch)
        for j, row in zip(indices, features):
            i = todo[j]
            out[i] = row
            if folder is not None:
                target = folder / f"{hashes[i]}.npy"
                tmp = folder / f".{hashes[i]}.{os.getpid()}.npy"
                np.save(tmp, row)
                tmp.replace(target)
    return out


def embed_project(project, records=None, *, pretrained: bool = True, batch_size: int = 32) -> np.ndarray:
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
