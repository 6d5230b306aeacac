"""Write a torch classifier as an fp32 ONNX file whose metadata carries its classes and preprocessing."""

from __future__ import annotations

import contextlib
import functools
import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datacentric import edge
from datacentric.errors import DatacentricError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["OPSET", "config_from_metadata", "export_onnx", "onnx_metadata", "set_metadata"]

OPSET = 17


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
    slower and which int8 quantization would round -- see :func:`quantize_int8`.

    Returns the path written.
    """
    import onnx
    import torch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    example = torch.zeros((1, *[int(v) for v in data_config["input_size"]]), dtype=torch.float32)
    with warnings.catch_warnings(), torch.inference_mode(), _static_same_padding(module, example):
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        torch.onnx.export(
            module,
            (example,),
            str(out),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
        )
    set_metadata(out, onnx_metadata(classes, data_config, backbone))
    try:
        onnx.checker.check_model(str(out), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise DatacentricError(f"exported ONNX model is invalid: {str(exc).splitlines()[0]}", out) from None
    return out


@contextlib.contextmanager
def _static_same_padding(module: "torch.nn.Module", example: "torch.Tensor") -> Iterator[None]:
    """Within the block, timm's ``Conv2dSame`` layers pad by constants computed for ``example``'s size.

    The padding is what ``Conv2dSame`` itself computes for that input size
    (``timm.layers.padding.get_same_padding``), so the outputs are unchanged; only the
    traced graph differs (a Conv with its padding, or a constant Pad then a Conv).
    The layers get their own ``forward`` back afterwards.
    """
    try:
        from timm.layers import Conv2dSame
        from timm.layers.padding import get_same_padding
    except ImportError:  # pragma: no cover - timm is a dependency; be lenient for plain torch models
        yield
        return
    import torch

    targets = [m for m in module.modules() if isinstance(m, Conv2dSame)]
    if not targets:
        yield
        return
    sizes: dict[Any, tuple[int, int]] = {}

    def record(layer: Any, args: tuple) -> None:
        sizes[layer] = (int(args[0].shape[-2]), int(args[0].shape[-1]))

    hooks = [m.register_forward_pre_hook(record) for m in targets]
    try:
        with torch.inference_mode():
            module(example)
    finally:
        for hook in hooks:
            hook.remove()
    patched = []
    try:
        for layer in targets:
            if layer not in sizes:  # not on the forward path
                continue
            (ih, iw), (kh, kw) = sizes[layer], layer.weight.shape[-2:]
            pad_h = int(get_same_padding(ih, kh, layer.stride[0], layer.dilation[0]))
            pad_w = int(get_same_padding(iw, kw, layer.stride[1], layer.dilation[1]))
            layer.forward = functools.partial(_conv_same_static, layer, (pad_h, pad_w))
            patched.append(layer)
        yield
    finally:
        for layer in patched:
            del layer.forward  # back to the class's forward


def _conv_same_static(layer: Any, pad: tuple[int, int], x: "torch.Tensor") -> "torch.Tensor":
    import torch.nn.functional as F

    pad_h, pad_w = pad
    if pad_h % 2 == 0 and pad_w % 2 == 0:  # symmetric: the convolution's own padding
        return F.conv2d(x, layer.weight, layer.bias, layer.stride, (pad_h // 2, pad_w // 2), layer.dilation, layer.groups)
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))  # TF puts the odd pixel last
    return F.conv2d(x, layer.weight, layer.bias, layer.stride, 0, layer.dilation, layer.groups)



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
