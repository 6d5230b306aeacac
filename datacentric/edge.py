"""A standalone predictor for an exported ``.onnx`` classifier: onnxruntime, numpy and pillow only.

This module imports nothing from torch, timm or the rest of datacentric, so it can be
copied alone onto an edge device next to the model file. Everything it needs to
predict -- class names and the preprocessing constants (input size, mean, std,
interpolation, crop_pct, crop_mode) -- is read from the model's ``metadata_props``,
written there by :func:`datacentric.export.export_onnx`.

Preprocessing reproduces timm's evaluation transform (resize the shorter side to
``floor(size / crop_pct)``, centre-crop ``size``, scale to [0, 1], normalise), so the
ONNX model sees the same pixels the torch model saw in training.

Example::

    from datacentric.edge import OnnxClassifier
    clf = OnnxClassifier("model.onnx")
    for p in clf.predict(["a.png", "b.png"]):
        print(p.path, p.label, round(p.probability, 3), p.error or "")
"""

from __future__ import annotations

import json
import math
import unicodedata
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps


def _import_onnxruntime():
    """``onnxruntime`` with its usage telemetry off, ``os.environ`` left as it was.

    onnxruntime 1.2x+ on Linux otherwise keeps a device id and an event database under
    ``~/.cache/Microsoft`` (outside the project) and queues events to upload. It reads the
    switch when imported, so the variable is set for the import only.
    """
    import importlib

    old = os.environ.get("ORT_DISABLE_TELEMETRY")
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    try:
        return importlib.import_module("onnxruntime")
    finally:
        if old is None:
            os.environ.pop("ORT_DISABLE_TELEMETRY", None)
        else:
            os.environ["ORT_DISABLE_TELEMETRY"] = old


ort = _import_onnxruntime()

__all__ = [
    "INTERPOLATIONS",
    "EdgePrediction",
    "OnnxClassifier",
    "PreprocessConfig",
    "crop",
    "load_rgb",
    "normalise",
    "preprocess",
    "read_metadata",
    "softmax",
]

# Metadata keys written by datacentric.export (values are JSON).
METADATA_KEYS = ("classes", "input_size", "mean", "std", "interpolation", "crop_pct", "crop_mode")

_PIL_INTERPOLATION = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
    "lanczos": Image.Resampling.LANCZOS,
}
INTERPOLATIONS = tuple(_PIL_INTERPOLATION)  # the interpolation names preprocess knows


@dataclass
class EdgePrediction:
    """One prediction: the image, its top label and probability, all class probabilities.

    For an image that could not be read, ``label`` is None, ``probability`` 0.0,
    ``probs`` empty and ``error`` says why (the same fields as ``datacentric.model.Prediction``).
    """

    path: Path
    label: str | None
    probability: float
    probs: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class PreprocessConfig:
    """The preprocessing a model expects (timm's data config, evaluation mode)."""

    input_size: tuple[int, int, int]  # (channels, height, width)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    crop_mode: str = "center"  # center | squash


MAX_SIDE = 4096  # the largest input side a model file may ask for (a wrong one would exhaust memory)


def _checked_classes(classes: object, outputs: object) -> list[str]:
    """The class names of a model file: text without control characters, one per output."""
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and _plain(c) for c in classes):
        raise ValueError("metadata 'classes' is not a list of names without control characters")
    if isinstance(outputs, int) and outputs != len(classes):
        raise ValueError(f"metadata names {len(classes)} classes for a model with {outputs} outputs")
    return list(classes)


def _plain(name: str) -> bool:
    """No control character, line or paragraph separator (datacentric's class names have none)."""
    return not any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in name)


def _checked_config(config: PreprocessConfig) -> PreprocessConfig:
    """``config`` when a model file's preprocessing makes sense, else ValueError naming the key."""
    channels, height, width = (list(config.input_size) + [0, 0, 0])[:3]
    if len(config.input_size) != 3 or channels != 3 or not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ValueError(
            f"metadata 'input_size' {list(config.input_size)} is not (3, H, W) with sides up to {MAX_SIDE}"
        )
    if len(config.mean) != 3 or len(config.std) != 3 or not all(float(v) > 0 for v in config.std):
        raise ValueError("metadata 'mean'/'std' are not three numbers each, std above 0")
    if not 0 < config.crop_pct <= 2:
        raise ValueError(f"metadata 'crop_pct' {config.crop_pct} is not in (0, 2]")
    if config.interpolation not in _PIL_INTERPOLATION or config.crop_mode not in ("center", "squash"):
        raise ValueError(f"metadata 'interpolation'/'crop_mode' unknown: {config.interpolation}, {config.crop_mode}")
    return config


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Return an ONNX model file's ``metadata_props`` as a dict (without loading torch or onnx)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Load an image as 8-bit RGB, upright: EXIF orientation, 16-bit, float, alpha handled."""
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float64)
            scale = 65535.0 if float(array.max()) > 255 else 255.0
            image = Image.fromarray(np.clip(array / scale * 255.0, 0, 255).astype(np.uint8))
        elif image.mode == "F":
            array = np.asarray(image, dtype=np.float64)
            low, high = float(array.min()), float(array.max())
            image = Image.fromarray(((array - low) / ((high - low) or 1.0) * 255.0).astype(np.uint8))
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            background = Image.new("RGB", image.size, (255, 255, 255))
            rgba = image.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image.convert("RGB")


def preprocess(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """Turn an RGB image into a normalised float32 array of shape (3, H, W), as timm's eval transform."""
    return normalise(crop(image, config), config)


def crop(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """The first half of :func:`preprocess`: the resized, cropped pixels, uint8 (H, W, 3), a quarter of the bytes."""
    _, height, width = config.input_size
    interpolation = _PIL_INTERPOLATION[config.interpolation]
    if config.crop_mode == "squash":
        size = (math.floor(width / config.crop_pct), math.floor(height / config.crop_pct))
        image = image.resize(size, interpolation)
    elif config.crop_mode == "center":
        if height != width:
            raise ValueError(f"centre crop needs a square input size, got {height}x{width}")
        short_target = math.floor(height / config.crop_pct)
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        if short != short_target:
            new_short, new_long = short_target, int(short_target * long / short)
            size = (new_short, new_long) if w <= h else (new_long, new_short)
            image = image.resize(size, interpolation)
    else:
        raise ValueError(f"unsupported crop_mode '{config.crop_mode}' (expected center or squash)")
    w, h = image.size
    if w < width or h < height:  # pad like torchvision's CenterCrop (zeros), rarely needed
        padded = Image.new("RGB", (max(w, width), max(h, height)))
        padded.paste(image, ((max(w, width) - w) // 2, (max(h, height) - h) // 2))
        image, (w, h) = padded, padded.size
    top = int(round((h - height) / 2.0))
    left = int(round((w - width) / 2.0))
    return np.asarray(image.crop((left, top, left + width, top + height)), dtype=np.uint8)


def normalise(pixels: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """The second half of :func:`preprocess`: uint8 (..., H, W, 3) from :func:`crop` to float32 (..., 3, H, W).

    Element by element, so a batch gives the same bits as its images one at a time, and the
    same float32 steps as timm's eval transform (divide by 255, subtract the mean, divide by
    the standard deviation), each done in place on the planar copy while it is in the cache.
    """
    planes = np.moveaxis(np.asarray(pixels), -1, -3)  # (..., C, H, W), a view
    shape = (len(config.mean), 1, 1)
    out = np.empty(np.broadcast_shapes(planes.shape, shape), dtype=np.float32)  # one gray plane: every channel
    np.copyto(out, planes, casting="unsafe")  # uint8 or float to float32, one copy
    out /= np.float32(255.0)
    out -= np.asarray(config.mean, dtype=np.float32).reshape(shape)
    out /= np.asarray(config.std, dtype=np.float32).reshape(shape)
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, numerically stable, float32 out."""
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class OnnxClassifier:
    """An exported image classifier run by onnxruntime.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file written by ``datacentric export`` (its metadata holds the
        class names and preprocessing).
    threads : int, optional
        Intra-op threads for onnxruntime (default: onnxruntime's choice).
    batch_size : int
        Images per forward pass in :meth:`predict`.
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None, batch_size: int = 16) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"model file not found: {self.path}")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # No memory pattern: planned per input shape, it reserved one block for batch 16 on top of the
        # arena (EfficientNet-Lite0: 383 MB grown, not 217); the arena still reuses memory between runs,
        # so latency stayed within noise -- without the arena, batch 16 took 26-63% more CPU-seconds.
        options.enable_mem_pattern = False
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in METADATA_KEYS if k not in self.metadata]
        if missing:
            raise ValueError(
                f"{self.path} lacks datacentric metadata ({', '.join(missing)}); export it with `datacentric export`"
            )
        outputs = self.session.get_outputs()[0].shape[-1]
        self.classes: list[str] = _checked_classes(json.loads(self.metadata["classes"]), outputs)
        self.config = _checked_config(
            PreprocessConfig(
                input_size=tuple(json.loads(self.metadata["input_size"])),
                mean=tuple(json.loads(self.metadata["mean"])),
                std=tuple(json.loads(self.metadata["std"])),
                interpolation=json.loads(self.metadata["interpolation"]),
                crop_pct=float(json.loads(self.metadata["crop_pct"])),
                crop_mode=json.loads(self.metadata["crop_mode"]) or "center",
            )
        )
        self.input_name = self.session.get_inputs()[0].name
        self.batch_size = batch_size

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, K) for a preprocessed float32 batch (N, 3, H, W)."""
        (logits,) = self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        return softmax(logits)

    def predict_proba(self, paths: Sequence[str | os.PathLike]) -> np.ndarray:
        """Probabilities (N, K) for image files; raises on an unreadable image."""
        out = []
        for start in range(0, len(paths), self.batch_size):
            chunk = paths[start : start + self.batch_size]
            out.append(self.run(np.stack([preprocess(load_rgb(p), self.config) for p in chunk])))
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(out)

    def predict(self, paths: Sequence[str | os.PathLike]) -> list[EdgePrediction]:
        """Predict each image's label; an unreadable image gets label None and its error, not a crash."""
        results: list[EdgePrediction | None] = [None] * len(paths)
        good: list[tuple[int, np.ndarray]] = []
        for i, p in enumerate(paths):
            try:
                good.append((i, preprocess(load_rgb(p), self.config)))
            except (OSError, ValueError, SyntaxError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                results[i] = EdgePrediction(Path(p), None, 0.0, {}, error=reason)
        for start in range(0, len(good), self.batch_size):
            chunk = good[start : start + self.batch_size]
            probs = self.run(np.stack([a for _, a in chunk]))
            for (i, _), row in zip(chunk, probs):
                k = int(row.argmax())
                results[i] = EdgePrediction(
                    Path(paths[i]),
                    self.classes[k],
                    float(row[k]),
                    {c: float(v) for c, v in zip(self.classes, row)},
                )
        return [r for r in results if r is not None]
