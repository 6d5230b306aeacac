"""Write a torch classifier as an fp32 ONNX file whose metadata carries its classes and preprocessing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric import edge
from datacentric.errors import DatacentricError
from datacentric.model.onnx_features import OPSET, trace_onnx

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["OPSET", "config_from_metadata", "export_onnx", "onnx_metadata", "set_metadata"]


def onnx_metadata(classes: Sequence[str], data_config: dict, backbone: str) -> dict[str, str]:
    """The ``metadata_props`` of an exported file: class names and the timm data config, as JSON values."""
    input_size = [int(v) for v in data_config["input_size"]]
    return {
        "classes": json.dumps(list(classes)),
        "input_size": json.dumps(input_size),
        "mean": json.dumps([float(v) for v in data_config["mean"]]),
        "std": json.dumps([float(v) for v in data_config["std"]]),
        "interpolation": json.dumps(str(data_config.get("interpolation") or "bicubic")),
        "crop_pct": json.dumps(float(data_config.get("crop_pct") or 0.875)),
        "crop_mode": json.dumps(str(data_config.get("crop_mode") or "center")),
        "backbone": json.dumps(backbone),
        "output": json.dumps("logits"),
        "producer": json.dumps("datacentric"),
    }


def set_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Replace the ``metadata_props`` of the ONNX file at ``path`` (in place)."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(path))


def export_onnx(
    module: "torch.nn.Module",
    out: Path | str,
    *,
    classes: Sequence[str],
    data_config: dict,
    backbone: str = "",
    opset: int = OPSET,
) -> Path:
    """Export a torch classifier (NCHW float in, K logits out) to an fp32 ONNX file.

    The batch axis is dynamic; class names and the timm data config (input_size, mean,
    std, interpolation, crop_pct, crop_mode) are stored as ``metadata_props`` (JSON
    values); the file is validated with ``onnx.checker``. Uses the TorchScript-based
    exporter (``dynamo=False``), which needs no extra package.

    TensorFlow-style "SAME" convolutions (timm's ``Conv2dSame``, in every ``tf_*``
    backbone) are exported with their padding computed for the fixed input size,
    as constants: traced as is they compute the padding at run time from the
    input's shape (a float Cast/Div/Ceil/... subgraph per strided conv), which is
    slower and which int8 quantization would round -- see :func:`quantize_int8` and
    :func:`datacentric.model.onnx_features.trace_onnx`, which traces it, in the form ONNX
    Runtime folds into the convolutions (the same outputs, 1.4x faster).

    Returns the path written.
    """
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    trace_onnx(module, out, data_config["input_size"], output="logits", opset=opset)
    set_metadata(out, onnx_metadata(classes, data_config, backbone))
    try:
        onnx.checker.check_model(str(out), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise DatacentricError(f"exported ONNX model is invalid: {str(exc).splitlines()[0]}", out) from None
    return out


def config_from_metadata(metadata: dict[str, str]) -> edge.PreprocessConfig:
    """The edge preprocessing that :func:`onnx_metadata` describes (the inverse of writing it)."""
    return edge.PreprocessConfig(
        input_size=tuple(json.loads(metadata["input_size"])),
        mean=tuple(json.loads(metadata["mean"])),
        std=tuple(json.loads(metadata["std"])),
        interpolation=json.loads(metadata["interpolation"]),
        crop_pct=float(json.loads(metadata["crop_pct"])),
        crop_mode=json.loads(metadata["crop_mode"]),
    )
