"""Per-batch workers built from the project's own functions.

Each worker is a callable class: built once (the model is loaded in ``__init__``), then
called on batches ``{"path": [...], "bytes": [...]}``. The local engine calls it in this
process; the Ray engine hands the same class to ``Dataset.map_batches``, so both engines
decode, hash and embed with the same code: :func:`datacentric.data.images.decode_image` on the
raw bytes (EXIF orientation, 16-bit and alpha as everywhere else), and one unreadable
file becomes an ``error`` row, never a failed job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.data.images import bytes_hash, decode_image

__all__ = ["EmbedSpec", "Embedder", "OnnxPredictor", "Predictor"]


@dataclass(frozen=True)
class EmbedSpec:
    """What an :class:`Embedder` needs, small enough to ship to every worker."""

    backbone: str
    image_size: int = 0
    pretrained: bool = True
    cache_dir: str | None = None  # where converted weights are cached (the project's cache)
    staging: str | None = None  # folder for Parquet parts; None = return nothing to store
    skip: frozenset = field(default_factory=frozenset)  # ids already stored: hashed, not embedded
    statistics: object = None  # a function images -> (N, S) array, per image (drift's pixel statistics)
    threads: int = 0  # torch CPU threads; the driver's count, so every engine computes the same bits
    runtime: str = "onnxruntime"  # "onnxruntime" or "torch" (see datacentric.model.embeddings.embed)


def _node() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return "local"


def _decode_all(batch: dict) -> tuple[list[str], list[str], list, list[str]]:
    """Hash and decode a batch: (paths, ids, images or None, errors or '')."""
    paths = [str(p) for p in batch["path"]]
    ids, images, errors = [], [], []
    for path, data in zip(paths, batch["bytes"]):
        data = bytes(data)
        ids.append(bytes_hash(data))
        try:
            images.append(decode_image(data, path))
            errors.append("")
        except DatacentricError as exc:
            images.append(None)
            errors.append(exc.what)
    return paths, ids, images, errors


class Embedder:
    """Batch of image bytes -> content hash, embedding (written to the job's staging) and errors.

    Returns per row: ``path``, ``id``, ``error`` ('' when fine), ``embedded`` (True when a
    vector was computed now, False when the id was already stored or the file unreadable),
    ``node`` (the Ray node that did the work, or "local") and, when the spec names a
    ``statistics`` function, ``statistics`` (its row per image; NaN for unreadable files).
    """

    def __init__(self, spec: EmbedSpec):
        import torch

        from datacentric.model.backbone import data_config
        from datacentric.model.embeddings import feature_model, input_transform, runtime_model

        self.spec = spec
        if spec.threads:
            torch.set_num_threads(spec.threads)  # float sums depend on how threads split them
        cache = Path(spec.cache_dir) if spec.cache_dir else None
        self.model = feature_model(spec.backbone, pretrained=spec.pretrained, cache_dir=cache)
        config = data_config(self.model, spec.image_size)
        self.runner = runtime_model(self.model, spec.backbone, config, cache, spec.runtime, threads=spec.threads)
        self.transform = input_transform(config, spec.runtime)  # the same as the local engine's

    def __call__(self, batch: dict) -> dict:
        """Embed one batch of raw image bytes: one vector (or an error) per row, written as a part."""
        from datacentric.model.embedding_store import write_part
        from datacentric.model.embeddings import forward, stack_batch

        paths, ids, images, errors = _decode_all(batch)
        todo = [i for i, image in enumerate(images) if image is not None and ids[i] not in self.spec.skip]
        if todo and self.spec.staging is not None:
            channels_last = self.runner is self.model  # torch: its fast CPU layout
            tensors = stack_batch([self.transform(images[i]) for i in todo], channels_last)
            vectors = forward(self.runner, tensors)
            write_part(self.spec.staging, [ids[i] for i in todo], [paths[i] for i in todo], vectors)
        done = set(todo) if self.spec.staging is not None else set()
        out = {
            "path": np.array(paths, dtype=object),
            "id": np.array(ids, dtype=object),
            "error": np.array(errors, dtype=object),
            "embedded": np.array([i in done for i in range(len(paths))], dtype=bool),
            "node": np.array([_node()] * len(paths), dtype=object),
        }
        if self.spec.statistics is not None:
            out["statistics"] = _statistics(self.spec.statistics, images)
        return out


def _statistics(function, images: list) -> np.ndarray:
    ok = [i for i, image in enumerate(images) if image is not None]
    if not ok:
        width = function([]).shape[1]
        return np.full((len(images), width), np.nan)
    found = np.asarray(function([images[i] for i in ok]), dtype=np.float64)
    rows = np.full((len(images), found.shape[1]), np.nan)
    rows[ok] = found
    return rows


class Predictor:
    """Batch of image bytes -> the classifier's probabilities (``model.pt`` passed as bytes).

    Returns per row: ``path``, ``id``, ``error``, ``probs`` (K floats; NaN when unreadable)
    and ``node``.
    """

    def __init__(self, model_bytes: bytes, threads: int = 0):
        import io

        import torch

        if threads:
            torch.set_num_threads(threads)
        from datacentric.model.classifier import classifier_from_payload

        payload = torch.load(io.BytesIO(model_bytes), map_location="cpu", weights_only=True)
        self.classifier = classifier_from_payload(payload, "model.pt")

    def __call__(self, batch: dict) -> dict:
        """Predict one batch of raw image bytes with torch: probabilities (or an error) per row."""
        return _predicted_rows(batch, len(self.classifier.classes), self._probabilities)

    def _probabilities(self, images: list) -> np.ndarray:
        import torch

        from datacentric.model.torch_inference import infer

        tensors = torch.stack([self.classifier.transform(image) for image in images])
        return infer(self.classifier.module, tensors).softmax(-1).numpy()


class ProbePredictor:
    """:class:`Predictor` for a probe run: its backbone's ONNX file and its head, packed by
    :func:`~datacentric.model.exported_backbone.probe_package`, run by ONNX Runtime (no torch:
    the vectors are the ones the probe learned from and local ``predict`` uses).
    """

    def __init__(self, package: bytes, threads: int = 0):
        from datacentric.model.exported_backbone import probe_runner

        self.runner = probe_runner(package, threads=threads)

    def __call__(self, batch: dict) -> dict:
        """Predict one batch of raw image bytes: probabilities (or an error) per row."""
        return _predicted_rows(batch, len(self.runner.bias), self.runner)


class OnnxPredictor:
    """:class:`Predictor` for an exported ``.onnx`` model, run by onnxruntime (no torch).

    Decoding is the project's (:func:`decode_image`); resizing and normalising follow the
    model's own metadata, as :mod:`datacentric.edge` does on a device.
    """

    def __init__(self, model_bytes: bytes, threads: int = 0):
        import tempfile

        from datacentric.edge import OnnxClassifier

        self._folder = tempfile.TemporaryDirectory(prefix="datacentric-onnx-")
        path = Path(self._folder.name) / "model.onnx"
        path.write_bytes(model_bytes)
        self.classifier = OnnxClassifier(path, threads=threads or None)

    def __call__(self, batch: dict) -> dict:
        """Predict one batch of raw image bytes with ONNX Runtime: probabilities (or an error) per row."""
        return _predicted_rows(batch, len(self.classifier.classes), self._probabilities)

    def _probabilities(self, images: list) -> np.ndarray:
        from datacentric.edge import preprocess

        return self.classifier.run(np.stack([preprocess(image, self.classifier.config) for image in images]))


def _predicted_rows(batch: dict, k: int, probabilities: Callable[[list], np.ndarray]) -> dict:
    """Decode a batch, run ``probabilities`` on the readable images, and make the result rows
    (``k`` probabilities per row, NaN for a file that could not be decoded).
    """
    paths, ids, images, errors = _decode_all(batch)
    probs = np.full((len(paths), k), np.nan, dtype=np.float32)
    ok = [i for i, image in enumerate(images) if image is not None]
    if ok:
        probs[ok] = probabilities([images[i] for i in ok])
    return _probability_rows(paths, ids, errors, probs)


def _probability_rows(paths: list[str], ids: list[str], errors: list[str], probs: np.ndarray) -> dict:
    """A predictor's result batch: one row per file, probabilities NaN where unreadable."""
    return {
        "path": np.array(paths, dtype=object),
        "id": np.array(ids, dtype=object),
        "error": np.array(errors, dtype=object),
        "probs": probs,
        "node": np.array([_node()] * len(paths), dtype=object),
    }
