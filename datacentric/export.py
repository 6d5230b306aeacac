"""Ship small: export a trained classifier to ONNX (fp32, optionally int8) and prove it still works.

The exported file carries the class names and preprocessing constants as ONNX
``metadata_props``, so :class:`datacentric.edge.OnnxClassifier` needs nothing but the
file (and onnxruntime, numpy, pillow) to predict.

Every export is checked against the torch model on the project's real images:
top-1 agreement, largest absolute probability difference, accuracy, file size and
latency per image at batch 1 and batch 16 (median of repeated runs after warm-up,
same thread count for every format).

Why *static* int8: dynamic quantization quantizes activations on the fly and, in
onnxruntime, only speeds up MatMul/Gemm-heavy models (transformers, LSTMs); for a
conv net it leaves the convolutions in float and adds quantize/dequantize work
(measured on this project's CPU: 85 ms vs 6 ms at batch 1 for EfficientNet-Lite0).
Static QDQ quantization with per-channel weights, calibrated on the project's own
real images, quantizes the convolutions too and keeps accuracy.

Shapes: N images, K classes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacentric import edge
from datacentric.errors import DatacentricError
from datacentric.runs import OOF_FILE, read_oof
from datacentric.paths import copy_atomic
from datacentric.progress import track
from datacentric.weight_rounding import MIN_SQNR_DB, round_conv_weights

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from datacentric.project import Project, Run

__all__ = [
    "Disagreement",
    "ExportResult",
    "FormatResult",
    "ImageCalibrationReader",
    "RefusedExport",
    "export_model",
    "export_onnx",
    "export_run",
    "measure_latency",
    "optimized_op_counts",
    "quantize_int8",
]

FORMAT_NAMES = ("torch-fp32", "onnx-fp32", "onnx-int8")
OPSET = 17
DEFAULT_THRESHOLD = 0.99
NEAR_TIE = 0.05  # a torch top-2 probability gap under this: a flip there says little about the export
INT8_RECIPE = ("static QDQ: asymmetric uint8 activations, per-channel symmetric int8 weights with adaptive "
               f"rounding; float stem, head and any layer under {MIN_SQNR_DB:.0f} dB SQNR; head bias corrected")


@dataclass
class FormatResult:
    """One row of the export table: a model format measured against the torch model."""

    name: str  # torch-fp32 | onnx-fp32 | onnx-int8
    bytes: int  # file size (torch: the saved state dict)
    latency_ms_b1: float | None  # median milliseconds per image at batch 1 (None: not measured)
    latency_ms_b16: float | None  # median milliseconds per image at batch 16
    agreement: float  # share of real images with the same top-1 label as torch-fp32
    max_prob_diff: float  # largest |p_format - p_torch| over images and classes
    accuracy: float | None  # top-1 accuracy on labelled real images (see ExportResult.accuracy_on)
    path: Path | None = None  # the file (None for torch-fp32 when not from a run)


@dataclass
class Disagreement:
    """A real image on which the delivered model's top-1 label differs from the torch model's."""

    image: str
    torch_label: str
    label: str  # the delivered model's
    torch_gap: float  # torch's top-1 minus top-2 probability: near 0, torch itself is torn

    @property
    def near_tie(self) -> bool:
        """Whether torch's two most likely classes are within :data:`NEAR_TIE` of each other."""
        return self.torch_gap < NEAR_TIE


@dataclass
class ExportResult:
    """What an export wrote and how the formats compare (the ``--json`` of ``datacentric export``)."""

    path: Path  # the model file delivered (int8 when int8 was asked for)
    formats: list[FormatResult]
    run_id: str | None = None  # the "export" run recording this table
    train_run: str | None = None  # the train run the model came from
    n_images: int = 0  # real images compared for agreement / probability difference
    n_accuracy: int = 0  # labelled real images the accuracy is measured on
    accuracy_on: str = "labelled"  # "holdout" (not seen in training) | "training" (seen) | "labelled"
    cv_accuracy: float | None = None  # the train run's cross-validated accuracy (honest held-out figure)
    threads: int = 1
    threshold: float = DEFAULT_THRESHOLD
    quantization: str | None = None  # how int8 was made
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image, reason) not compared
    disagreements: list[Disagreement] = field(default_factory=list)  # the delivered format's, nearest ties first

    def format(self, name: str) -> FormatResult:
        """The row for one format name."""
        for row in self.formats:
            if row.name == name:
                return row
        raise KeyError(name)


# -- ONNX export ---------------------------------------------------------------------------------
def _metadata(classes: Sequence[str], data_config: dict, backbone: str) -> dict[str, str]:
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


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
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
    _set_metadata(out, _metadata(classes, data_config, backbone))
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


# -- int8 ----------------------------------------------------------------------------------------
class ImageCalibrationReader:
    """Feeds preprocessed real images to onnxruntime's static-quantization calibrator.

    An ``onnxruntime.quantization.CalibrationDataReader``: ``get_next()`` returns
    ``{input_name: array (1, 3, H, W)}`` per image, then None. The images are read and
    preprocessed once, into ``inputs`` (unreadable ones are skipped), so the reader
    can be rewound and its inputs reused without decoding them again.
    """

    def __init__(self, paths: Sequence[Path | str], config: edge.PreprocessConfig, input_name: str = "input") -> None:
        self.paths = list(paths)
        self.config = config
        self.input_name = input_name
        self.inputs: list[np.ndarray] = []
        for path in self.paths:
            try:
                self.inputs.append(edge.preprocess(edge.load_rgb(path), config)[None])
            except (OSError, ValueError):
                continue
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next calibration input, or None when done."""
        if self._next >= len(self.inputs):
            return None
        self._next += 1
        return {self.input_name: self.inputs[self._next - 1]}

    def rewind(self) -> None:
        """Start again from the first image."""
        self._next = 0

    def __len__(self) -> int:
        return len(self.inputs)


def quantize_int8(fp32_path: Path | str, out: Path | str, calibration_paths: Sequence[Path | str]) -> Path:
    """Quantize an fp32 ONNX classifier to int8: static QDQ, uint8 activations, per-channel int8 weights.

    The recipe is onnxruntime's standard one for x86 CPUs ("U8S8"): activations
    unsigned 8-bit with an asymmetric range (zero point anywhere), weights signed 8-bit,
    symmetric, one scale per output channel; activation ranges are calibrated
    (min/max) on ``calibration_paths`` -- the project's real images, preprocessed
    exactly as at prediction time. The model is first prepared with
    ``quant_pre_process`` (shape inference, constant folding, graph optimisation).
    Three steps of our own make int8 agree with the float model:

    * adaptive rounding -- each convolution's weights are rounded up or down, not just
      to the nearest int8 step, so that the convolution's output on the calibration
      images changes least (:mod:`datacentric.weight_rounding`); a convolution whose
      output would still lose more than about 1.5 of its 8 bits
      (:data:`~datacentric.weight_rounding.MIN_SQNR_DB`) stays float, with its activation;
    * a float stem -- the first convolution (and its input padding and activation)
      stays float: a per-channel normalised 8-bit photo re-rounded onto one uint8 grid
      loses detail, and that layer has a few hundred weights and little compute;
    * bias correction -- int8's mean logit shift on the calibration images is
      subtracted from the float classifier's bias (:func:`_correct_output_bias`).

    Also kept in float: the head (global pooling and the classifier after the last
    convolution and its activation; a few thousand multiply-adds, and quantizing it
    cost agreement), and shape arithmetic (nodes computing on tensor shapes, e.g.
    run-time "SAME" padding, which quantizing would round; :func:`export_onnx` writes
    constant padding, so the guard is for other files). Metadata is carried over.

    Why this recipe (demo projects of 250 images, seeds 0-2, tf_efficientnet_lite0):

    * Speed. uint8 asymmetric activations let onnxruntime fuse the convolutions and
      residual adds into its int8 kernels (QLinearConv, QLinearAdd; see
      :func:`optimized_op_counts`), the ReLU6 Clips vanishing into the quantized
      range; signed symmetric activations left 14 of 49 convolutions and all Clips in
      float and ran 1.7x *slower* than fp32. The two float convolutions (stem and
      first depthwise, 1.2k weights) cost no measurable time.
    * Agreement. Round-to-nearest int8 moved the logits by 0.34-0.43 (RMS) and agreed
      with torch on 95.6-98.0% of the images. Most of it came from the weights of the
      first depthwise convolution, whose edge filters (large weights of opposite sign)
      turn 0.3% weight errors into output errors the rest of the network amplifies.
      With adaptive rounding, the float stem and that layer float, the logits move by
      0.10-0.11 and agreement is 98.0-99.6%; bias correction takes that to 0.09-0.10
      and 98.4-99.6%. What still disagrees is images torch is unsure about (its top two
      probabilities within 0.03 after correction). The remaining error is split between
      the weights (0.07) and the 8-bit activations (0.08). Calibration alternatives measured no better:
      entropy, percentile (99.99 / 99.999), moving-average min/max, ``reduce_range``,
      32, 64 or 128 calibration images; per-tensor weights gave 76%.

    Returns the path written.
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out = Path(fp32_path), Path(out)
    if not calibration_paths:
        raise DatacentricError("no images to calibrate int8 quantization with", fp32_path)
    model = onnx.load(str(fp32_path))
    metadata = {p.key: p.value for p in model.metadata_props}
    config = _config_from_metadata(metadata)
    input_name = model.graph.input[0].name
    ort.set_default_logger_severity(3)  # the optimiser's notes on unused initialisers are noise here
    with tempfile.TemporaryDirectory(prefix="datacentric-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:
            quant_pre_process(str(fp32_path), str(prepared))
        except Exception:  # noqa: BLE001 - the optimiser is optional; quantize the plain graph
            shutil.copyfile(fp32_path, prepared)
        graph = onnx.load(str(prepared))
        exclude = _shape_nodes(graph) + _stem_nodes(graph) + _head_nodes(graph)
        reader = ImageCalibrationReader(calibration_paths, config, input_name)
        rounding = round_conv_weights(graph, track(reader.inputs, "int8 rounding"), input_name=input_name,
                                      skip=set(exclude))
        exclude += _with_activations(graph, [layer.name for layer in rounding if layer.kept_float])
        onnx.save(graph, str(prepared))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_static(
                str(prepared),
                str(Path(tmp) / "int8.onnx"),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=exclude,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            )
        _correct_output_bias(Path(tmp) / "int8.onnx", fp32_path, reader.inputs)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "int8.onnx"), out)
    _set_metadata(out, {**metadata, "quantization": json.dumps(INT8_RECIPE)})
    onnx.checker.check_model(str(out))
    return out


def _correct_output_bias(int8_path: Path, fp32_path: Path, inputs: Sequence[np.ndarray]) -> bool:
    """Subtract int8's mean logit shift on the calibration inputs from the float head's bias (in place).

    Quantization errors do not all average out: a consistent shift of the pooled
    features moves each class's logit by a constant (up to 0.1 on the demo), which
    tips images near a tie towards one class. This is bias correction (Nagel et al.,
    2019) at the one layer where it is exact and cheap, the float classifier: the
    final Gemm's (or Add's) constant bias. Returns whether it did (False when the
    output is not made that way).
    """
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(int8_path))
    inits = {t.name: t for t in model.graph.initializer}
    last = next((n for n in model.graph.node if model.graph.output[0].name in n.output), None)
    bias_name = None
    if last is not None and last.op_type == "Gemm" and len(last.input) == 3:
        bias_name = last.input[2]
    elif last is not None and last.op_type == "Add":
        bias_name = next((i for i in last.input if i in inits), None)
    if bias_name not in inits or not inputs:
        return False
    batch = np.concatenate(inputs)

    def logits(path: Path) -> np.ndarray:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Without the arena, the activations of the whole calibration batch are freed node by
        # node instead of growing a pool that outlives them (~0.7 GB less peak, same logits).
        options.enable_cpu_mem_arena = False
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return session.run(None, {model.graph.input[0].name: batch})[0]

    shift = (logits(int8_path) - logits(fp32_path)).mean(axis=0)
    bias = numpy_helper.to_array(inits[bias_name])
    if bias.shape != shift.shape:
        return False
    inits[bias_name].CopyFrom(numpy_helper.from_array((bias - shift).astype(bias.dtype), bias_name))
    onnx.save(model, str(int8_path))
    return True


# Element-wise activations that onnxruntime fuses into the preceding int8 convolution.
_ACTIVATIONS = frozenset({"Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh"})


def _stem_nodes(model: Any) -> list[str]:
    """Names of the nodes up to the first convolution and its activation (input padding, the stem)."""
    nodes = list(model.graph.node)
    first = next((i for i, n in enumerate(nodes) if n.op_type == "Conv"), None)
    if first is None:
        return []
    return [n.name for n in nodes[:first] if n.name] + _with_activations(model, [nodes[first].name])


def _with_activations(model: Any, names: Sequence[str]) -> list[str]:
    """``names`` and the activation nodes applied straight to their outputs (kept float together).

    A float convolution whose activation were quantized alone would have the
    activation's input (the convolution's raw, wide-ranged output) rounded to 8 bits.
    """
    chosen = set(names)
    produced = {o for n in model.graph.node if n.name in chosen for o in n.output}
    for node in model.graph.node:
        if node.op_type in _ACTIVATIONS and node.input and node.input[0] in produced:
            chosen.add(node.name)
            produced.update(node.output)
    return [n.name for n in model.graph.node if n.name in chosen]


def _head_nodes(model: Any) -> list[str]:
    """Names of the nodes after the last convolution and its activation (global pooling, the classifier)."""
    nodes = list(model.graph.node)
    convs = [i for i, n in enumerate(nodes) if n.op_type == "Conv"]
    if not convs:
        return [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
    start = convs[-1] + 1
    while start < len(nodes) and nodes[start].op_type in _ACTIVATIONS:
        start += 1
    return [n.name for n in nodes[start:] if n.name]


def _shape_nodes(model: Any) -> list[str]:
    """Names of the nodes that compute only on shapes and constants, never on the image data.

    A tensor is shape data when it is an initializer, a Constant's output, a Shape's
    output, or the output of a node whose inputs are all shape data.
    """
    graph = model.graph
    static = {t.name for t in graph.initializer} | {""}
    names = []
    for node in graph.node:  # ONNX graphs are topologically sorted
        if node.op_type in ("Shape", "Size", "Constant") or all(i in static for i in node.input):
            static.update(node.output)
            if node.name and node.op_type not in ("Shape", "Size", "Constant"):
                names.append(node.name)
    return names


def optimized_op_counts(path: Path | str, *, threads: int = 1) -> dict[str, int]:
    """Op types (and how many of each) onnxruntime's CPU provider actually runs for a model file.

    The graph after onnxruntime's optimisations, as a session builds it: for an int8
    model this shows whether the quantize/dequantize pairs were fused into int8
    kernels (``QLinearConv``, ``QLinearAdd``, ...) or left around float ops.
    """
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="datacentric-opt-") as tmp:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        graph = onnx.load(options.optimized_model_filepath).graph
    return dict(Counter(node.op_type for node in graph.node).most_common())


def _config_from_metadata(metadata: dict[str, str]) -> edge.PreprocessConfig:
    return edge.PreprocessConfig(
        input_size=tuple(json.loads(metadata["input_size"])),
        mean=tuple(json.loads(metadata["mean"])),
        std=tuple(json.loads(metadata["std"])),
        interpolation=json.loads(metadata["interpolation"]),
        crop_pct=float(json.loads(metadata["crop_pct"])),
        crop_mode=json.loads(metadata["crop_mode"]),
    )


# -- measuring -----------------------------------------------------------------------------------
def measure_latency(fn: Callable[[], Any], batch: int, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median milliseconds *per image* of ``fn()`` (which runs one batch of ``batch`` images).

    ``warmup`` untimed calls first, then ``repeats`` timed ones.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0 / batch


def _batch_of(arrays: np.ndarray, size: int) -> np.ndarray:
    reps = math.ceil(size / len(arrays))
    return np.ascontiguousarray(np.concatenate([arrays] * reps)[:size])


def _torch_bytes(module: "torch.nn.Module") -> int:
    import torch

    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.tell()


def _agreement(probs: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    if len(probs) == 0:
        return float("nan"), float("nan")
    agree = float(np.mean(probs.argmax(1) == reference.argmax(1)))
    return agree, float(np.max(np.abs(probs - reference)))


def _disagreements(probs: np.ndarray, reference: np.ndarray, paths: Sequence[Path], classes: Sequence[str]) -> list[Disagreement]:
    top2 = np.sort(reference, axis=1)[:, -2:]
    gaps = top2[:, 1] - top2[:, 0]
    rows = [
        Disagreement(str(paths[i]), classes[int(reference[i].argmax())], classes[int(probs[i].argmax())], float(gaps[i]))
        for i in np.flatnonzero(probs.argmax(1) != reference.argmax(1))
    ]
    return sorted(rows, key=lambda d: d.torch_gap)


def _accuracy(probs: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float | None:
    if not mask.any():
        return None
    return float(np.mean(probs[mask].argmax(1) == labels[mask]))


# -- the whole export ----------------------------------------------------------------------------
def export_model(
    module: "torch.nn.Module",
    classes: Sequence[str],
    data_config: dict,
    out_dir: Path | str,
    *,
    paths: Sequence[Path | str],
    labels: Sequence[int] | np.ndarray | None = None,
    accuracy_mask: Sequence[bool] | np.ndarray | None = None,
    transform: Callable | None = None,
    int8: bool = False,
    force: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    backbone: str = "",
    calibration_size: int = 32,
    threads: int = 2,
    repeats: int = 20,
    seed: int = 0,
    torch_bytes: int | None = None,
) -> ExportResult:
    """Export ``module`` to ONNX in ``out_dir`` (``model.onnx``, and ``model.int8.onnx`` with int8) and compare.

    Parameters
    ----------
    module : torch.nn.Module
        The classifier: NCHW float normalised input, K logits out.
    classes : list of str
        The K class names, in the order of the logits.
    data_config : dict
        timm data config (input_size, mean, std, interpolation, crop_pct[, crop_mode]).
    out_dir : Path
        Folder for the ONNX files.
    paths : list of Path
        Real images to compare the formats on (and to calibrate int8 with).
    labels : array (N,) of int, optional
        Class index per image, -1 for unlabelled; enables the accuracy column.
    accuracy_mask : array (N,) of bool, optional
        Which labelled images count for accuracy (default: all labelled).
    transform : callable, optional
        PIL image -> tensor for the torch model (default: timm's eval transform of ``data_config``).
    int8 : bool
        Also write a static int8 model, and deliver it.
    force : bool
        Write the delivered model even if its top-1 agreement is below ``threshold``.
    threshold : float
        Least top-1 agreement with torch the delivered model must reach (default 0.99).
    calibration_size : int
        Real images used to calibrate int8 (chosen at random with ``seed``, spread over classes).
    threads : int
        Threads for torch and onnxruntime alike, for a fair latency comparison.
    repeats : int
        Timed runs per latency figure at batch 1 (batch 16 uses a quarter as many, at least 3);
        0 skips the latency columns (None).
    torch_bytes : int, optional
        Size of the torch model file (default: its state dict, serialised).

    Raises
    ------
    DatacentricError
        When the delivered format's agreement is below ``threshold`` and not ``force``;
        the message says by how many points it missed. Nothing is delivered then.
    """
    import timm.data
    import torch
    from threadpoolctl import threadpool_limits

    from datacentric.images import load_image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in paths]
    if not paths:
        raise DatacentricError("no real images to check the exported model on", out_dir)
    classes = list(classes)
    labels_arr = np.full(len(paths), -1, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    mask = labels_arr >= 0
    if accuracy_mask is not None:
        mask &= np.asarray(accuracy_mask, dtype=bool)
    transform = transform or timm.data.create_transform(**data_config, is_training=False)
    config = _config_from_metadata(_metadata(classes, data_config, backbone))

    old_threads = torch.get_num_threads()
    # The reference pass is not timed: one thread, as its batch-1 forwards between image
    # decodes ran 10x slower on two threads of a busy 2-core machine (threads wait on each other).
    torch.set_num_threads(1)
    try:
        module = module.eval()
        # Torch reference probabilities (timm's transform) and the edge inputs (our numpy preprocessing).
        torch_probs, edge_inputs, keep, skipped = [], [], [], []
        for i, path in enumerate(track(paths, "torch reference", total=len(paths))):
            try:
                image = load_image(path)
            except DatacentricError as exc:
                skipped.append((str(path), exc.what))
                continue
            with torch.inference_mode():
                logits = module(transform(image).unsqueeze(0))
            torch_probs.append(torch.softmax(logits.float(), dim=1).numpy()[0])
            edge_inputs.append(edge.preprocess(image, config))
            keep.append(i)
        if not keep:
            raise DatacentricError("none of the real images could be read", out_dir)
        reference = np.stack(torch_probs)
        inputs = np.stack(edge_inputs)
        labels_arr, mask = labels_arr[keep], mask[keep]
        kept_paths = [paths[i] for i in keep]

        torch.set_num_threads(threads)  # every format's latency on the same threads
        b1, b16 = _batch_of(inputs, 1), _batch_of(inputs, 16)
        t1, t16 = torch.from_numpy(b1), torch.from_numpy(b16)

        def torch_run(x: "torch.Tensor") -> Callable[[], Any]:
            def run() -> Any:
                with torch.inference_mode():
                    return module(x)

            return run

        def latency(make: Callable[[Any], Callable[[], Any]], batch: Any, size: int) -> float | None:
            if repeats <= 0:
                return None
            runs = repeats if size == 1 else max(3, repeats // 4)
            return measure_latency(make(batch), size, repeats=runs, warmup=5 if size == 1 else 2)

        rows = [
            FormatResult(
                name="torch-fp32",
                bytes=torch_bytes or _torch_bytes(module),
                latency_ms_b1=latency(torch_run, t1, 1),
                latency_ms_b16=latency(torch_run, t16, 16),
                agreement=1.0,
                max_prob_diff=0.0,
                accuracy=_accuracy(reference, labels_arr, mask),
            )
        ]

        fp32_path = export_onnx(module, out_dir / "model.onnx", classes=classes, data_config=data_config, backbone=backbone)
        files = [("onnx-fp32", fp32_path)]
        quantization = None
        if int8:
            calib = _calibration_choice(kept_paths, labels_arr, calibration_size, seed)
            # numpy's Gram matrices for adaptive rounding: one BLAS thread, the same bytes
            # written, 45% fewer CPU-seconds on a busy 2-core machine than two fighting threads
            with threadpool_limits(limits=1, user_api="blas"):
                int8_path = quantize_int8(fp32_path, out_dir / "model.int8.onnx.partial", calib)
            files.append(("onnx-int8", int8_path))
            quantization = f"{INT8_RECIPE}; min/max calibration on {len(calib)} real images"

        for name, file in files:
            clf = edge.OnnxClassifier(file, threads=threads)
            probs = np.concatenate([clf.run(inputs[s : s + 16]) for s in range(0, len(inputs), 16)])
            disagreements = _disagreements(probs, reference, kept_paths, classes)
            agree, diff = _agreement(probs, reference)
            rows.append(
                FormatResult(
                    name=name,
                    bytes=file.stat().st_size,
                    latency_ms_b1=latency(lambda x, c=clf: lambda: c.run(x), b1, 1),
                    latency_ms_b16=latency(lambda x, c=clf: lambda: c.run(x), b16, 16),
                    agreement=agree,
                    max_prob_diff=diff,
                    accuracy=_accuracy(probs, labels_arr, mask),
                    path=file,
                )
            )
    finally:
        torch.set_num_threads(old_threads)

    delivered = rows[-1]
    result = ExportResult(
        path=delivered.path,
        formats=rows,
        n_images=len(keep),
        n_accuracy=int(mask.sum()),
        threads=threads,
        threshold=threshold,
        quantization=quantization,
        skipped=skipped,
        disagreements=disagreements,
    )
    if delivered.agreement < threshold and not force:
        if delivered.path is not None and delivered.path.name.endswith(".partial"):
            delivered.path.unlink(missing_ok=True)
            delivered.path = None
        result.path = None  # type: ignore[assignment]
        raise RefusedExport(result, delivered)
    if int8:
        final = out_dir / "model.int8.onnx"
        os.replace(delivered.path, final)
        delivered.path = final
        result.path = final
    return result


class RefusedExport(DatacentricError):
    """The delivered format fell below the agreement threshold.

    ``result`` carries the measured table; its onnx-fp32 row's ``path`` is the float model,
    which was written and checked and stays in the export run's folder.
    """

    def __init__(self, result: ExportResult, row: FormatResult) -> None:
        self.result = result
        miss = (result.threshold - row.agreement) * 100
        ties = sum(d.near_tie for d in result.disagreements)
        super().__init__(
            f"{row.name} model agrees with torch on {row.agreement:.1%} of {result.n_images} real images, "
            f"{miss:.1f} points below the {result.threshold:.1%} threshold ({ties} of its "
            f"{len(result.disagreements)} disagreements are near-ties for torch, top two classes within "
            f"{NEAR_TIE:.2f}); not written (use --force to write it anyway)",
        )


def _calibration_choice(paths: list[Path], labels: np.ndarray, size: int, seed: int) -> list[Path]:
    """Up to ``size`` images, chosen at random but round-robin over classes (unlabelled last)."""
    rng = np.random.default_rng(seed)
    groups: dict[int, list[int]] = {}
    for i in rng.permutation(len(paths)):
        groups.setdefault(int(labels[i]), []).append(int(i))
    order = [groups[k] for k in sorted(groups, key=lambda k: (k < 0, k))]
    chosen: list[int] = []
    while len(chosen) < min(size, len(paths)):
        for group in order:
            if group and len(chosen) < size:
                chosen.append(group.pop())
    return [paths[i] for i in sorted(chosen)]


# -- from a project ------------------------------------------------------------------------------
def export_run(
    project: "Project",
    run: "str | Run | None" = None,
    *,
    int8: bool = False,
    out: Path | str | None = None,
    force: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    threads: int = 2,
    repeats: int = 20,
) -> ExportResult:
    """Export a train run's model (default: the latest) and record an "export" run with the table.

    The ONNX files go to ``runs/<export id>/`` (``model.onnx``, ``model.int8.onnx``);
    the delivered one (int8 when asked) is also copied to ``out`` when given.
    Agreement is measured on all of the project's real images; accuracy on the
    labelled real images the train run did not see, if any, else on all labelled real
    images -- which the final model was trained on, so that accuracy is optimistic
    (``accuracy_on`` says which; the train run's ``cv_accuracy`` is the honest figure).
    """
    from datacentric.model import load_classifier

    train = project.train_run(run)
    model_file = train.dir / "model.pt"
    if not model_file.exists():
        raise DatacentricError("train run has no model.pt; run `datacentric train` again", train.dir)
    clf = load_classifier(train)
    records = project.images("real")
    consensus = project.labels()
    index = {c: i for i, c in enumerate(clf.classes)}
    labels = np.array([index.get(consensus.get(r.id, ""), -1) for r in records], dtype=np.int64)
    seen = _trained_ids(train)
    holdout = np.array([r.id not in seen for r in records]) if seen is not None else np.zeros(len(records), bool)
    has_holdout = bool((holdout & (labels >= 0)).any())
    export = project.new_run("export", {"train_run": train.id, "int8": int8, "threshold": threshold, "threads": threads})
    try:
        result = export_model(
            clf.module,
            clf.classes,
            dict(clf.data_config),
            export.dir,
            paths=[r.path for r in records],
            labels=labels,
            accuracy_mask=holdout if has_holdout else None,
            transform=clf.transform,
            int8=int8,
            force=force,
            threshold=threshold,
            backbone=clf.backbone,
            threads=threads,
            repeats=repeats,
            seed=project.config.seed,
            torch_bytes=model_file.stat().st_size,
        )
    except RefusedExport as exc:
        _describe(exc.result, train, export, has_holdout)
        project.finish_run(export, _metrics(exc.result), status="failed")
        raise
    except BaseException:
        project.finish_run(export, {}, status="failed")
        raise
    _describe(result, train, export, has_holdout)
    if out is not None:
        out = Path(out)
        copy_atomic(result.path, out)  # a kill mid-copy never truncates a good model at out
        result.path = out.resolve()
    project.finish_run(export, _metrics(result))
    return result


def _describe(result: ExportResult, train: "Run", export: "Run", has_holdout: bool) -> None:
    result.run_id = export.id
    result.train_run = train.id
    result.accuracy_on = "holdout" if has_holdout else "training"
    cv = train.metrics.get("cv_accuracy")
    result.cv_accuracy = float(cv) if cv is not None else None


def _metrics(result: ExportResult) -> dict:
    """The result as plain JSON types, for the run's metrics."""
    return json.loads(json.dumps(asdict(result), default=str))


def _trained_ids(train: "Run") -> set[str] | None:
    if not (train.dir / OOF_FILE).exists():
        return None
    return set(read_oof(train).ids)
