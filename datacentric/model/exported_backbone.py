"""A backbone already exported to ONNX in the cache: embed new images without torch or a model.

:func:`datacentric.model.embed` exports the feature backbone once, to
``<cache>/onnx/<torch key>.onnx``, and writes ``key.json`` (backbone, weights id, data config,
runtime) beside the vectors of each embedding key. With both on disk, a later call needs
neither torch nor timm to embed *new* images: the file is the model, and the data config is
the preprocessing, which :func:`datacentric.edge.preprocess` computes bit for bit as timm's
eval transform does. Importing torch and timm costs seconds and ~0.85 GB with the CUDA wheel,
so ``drift`` on a production batch, or ``improve`` on its generated images, skips both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from datacentric import edge
from datacentric.model.key_hints import key_meta
from datacentric.model.onnx_features import OnnxFeatures, cached_session, exported_file

__all__ = ["ExportedBackbone", "exported_backbone"]


@dataclass
class ExportedBackbone:
    """What :func:`embed` runs when the backbone's ONNX file is cached."""

    runner: OnnxFeatures  # the ONNX Runtime session of the feature backbone
    transform: Callable[[object], np.ndarray]  # PIL image -> normalised (3, H, W) float32
    config: dict  # the timm data config the vectors were made with


def exported_backbone(cache: Path, key: object, backbone: str) -> ExportedBackbone | None:
    """The cached ONNX backbone behind embedding ``key`` (an ONNX Runtime key), or None when
    something is missing (no key, no ``key.json``, no exported file) and only the model can tell.
    """
    from datacentric.model.embeddings import embedding_key_for

    meta = key_meta(cache, key)
    if meta is None or meta.get("runtime") in (None, "torch"):
        return None
    config = meta["data"]
    preprocess = _preprocess_config(config)
    path = exported_file(cache, embedding_key_for(backbone, meta["weights"], config, "torch"))
    if preprocess is None or not path.is_file():
        return None
    runner = cached_session(path, name=backbone)
    return ExportedBackbone(runner, functools.partial(edge.preprocess, config=preprocess), config)


def _preprocess_config(config: dict) -> edge.PreprocessConfig | None:
    """The data config as :class:`edge.PreprocessConfig`, or None when edge cannot do it as timm does."""
    known = {f.name for f in fields(edge.PreprocessConfig)}
    try:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in known}
        preprocess = edge.PreprocessConfig(**values)
    except TypeError:
        return None
    if preprocess.interpolation not in edge.INTERPOLATIONS or preprocess.crop_mode not in ("center", "squash"):
        return None
    if preprocess.crop_mode == "center" and preprocess.input_size[1] != preprocess.input_size[2]:
        return None  # edge centre-crops square inputs only
    return preprocess
