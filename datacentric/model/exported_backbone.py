"""A backbone already exported to ONNX in the cache: embed new images without torch or a model.

:func:`datacentric.model.embed` exports the feature backbone once, to
``<cache>/onnx/<torch key>.<form>.onnx``, and writes ``key.json`` (backbone, weights id, data config,
runtime) beside the vectors of each embedding key. With both on disk, a later call needs
neither torch nor timm to embed *new* images: the file is the model, and the data config is
the preprocessing, which :func:`datacentric.edge.preprocess` computes bit for bit as timm's
eval transform does. Importing torch and timm costs seconds and ~0.85 GB with the CUDA wheel,
so ``drift`` on a production batch, or ``improve`` on its generated images, skips both.

A probe run's whole model is that file, the preprocessing and its head: :func:`probe_package`
packs the three into one ``.npz`` for a worker that has no cache of its own (a Ray node), and
:func:`probe_runner` runs them there, with ONNX Runtime alone.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from datacentric import edge
from datacentric.model.key_hints import embedding_key_for, key_meta
from datacentric.model.onnx_features import OnnxFeatures, cached_session, exported_file
from datacentric.runs import ProbeHead

__all__ = ["ExportedBackbone", "ProbeRunner", "edge_transform", "exported_backbone", "probe_package", "probe_runner"]


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
    meta = key_meta(cache, key)
    if meta is None or meta.get("runtime") in (None, "torch"):
        return None
    config = meta["data"]
    preprocess, path = _exported(cache, backbone, meta["weights"], config)
    if preprocess is None or path is None:
        return None
    runner = cached_session(path, name=backbone)
    return ExportedBackbone(runner, functools.partial(edge.preprocess, config=preprocess), config)


def edge_transform(config: dict) -> Callable[[object], np.ndarray] | None:
    """timm's eval transform for the data ``config``, computed by :mod:`datacentric.edge` in
    numpy (the same bits, without torch's intra-op threads fighting ONNX Runtime's for the
    cores), or None when edge cannot preprocess that config as timm does.
    """
    preprocess = _preprocess_config(config)
    return None if preprocess is None else functools.partial(edge.preprocess, config=preprocess)


def _exported(
    cache: Path, backbone: str, weights: str, config: dict
) -> tuple[edge.PreprocessConfig | None, Path | None]:
    """The backbone's preprocessing for :mod:`datacentric.edge` and its exported ONNX file
    under ``cache``, each None when missing (timm's transform has no edge twin; not exported).
    """
    path = exported_file(cache, embedding_key_for(backbone, weights, config, "torch"))
    return _preprocess_config(config), (path if path.is_file() else None)


@dataclass
class ProbeRunner:
    """A probe run's model without torch: backbone features by ONNX Runtime, then the head."""

    features: OnnxFeatures
    preprocess: edge.PreprocessConfig
    weight: np.ndarray  # (K, D)
    bias: np.ndarray  # (K,)

    def __call__(self, images: Sequence[object]) -> np.ndarray:
        """Class probabilities (N, K) of RGB PIL images."""
        batch = np.stack([edge.preprocess(image, self.preprocess) for image in images])
        return edge.softmax(self.features(batch) @ self.weight.T + self.bias).astype(np.float32)


def probe_package(head: ProbeHead, cache: Path) -> bytes | None:
    """The probe ``head`` with its backbone's cached ONNX file and preprocessing, as ``.npz``
    bytes for :func:`probe_runner`; None when the file is not cached (``embed`` exports it) or
    :mod:`datacentric.edge` cannot preprocess as timm does (then the torch model is needed).
    """
    preprocess, path = _exported(Path(cache), head.backbone, str(head.weights), head.data_config)
    if preprocess is None or path is None:
        return None
    buffer = io.BytesIO()
    np.savez(
        buffer,
        onnx=np.frombuffer(path.read_bytes(), dtype=np.uint8),
        weight=np.asarray(head.weight, dtype=np.float32),
        bias=np.asarray(head.bias, dtype=np.float32),
        preprocess=np.array(json.dumps(asdict(preprocess))),
    )
    return buffer.getvalue()


def probe_runner(package: bytes, *, threads: int = 0) -> ProbeRunner:
    """The model packed by :func:`probe_package` (``threads``: calls side by side, 0 = one per usable core)."""
    with np.load(io.BytesIO(package), allow_pickle=False) as data:
        onnx, weight, bias = data["onnx"].tobytes(), data["weight"], data["bias"]
        config = json.loads(str(data["preprocess"]))
    preprocess = edge.PreprocessConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    return ProbeRunner(OnnxFeatures(onnx, threads=threads, name="probe backbone"), preprocess, weight, bias)


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
