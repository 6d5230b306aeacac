"""Choose how each convolution weight is rounded to int8 so the convolution's output changes least.

Rounding every weight to the *nearest* step of its int8 grid is what a quantizer does
by default; the errors are small per weight but, in a filter whose large weights of
opposite sign cancel (an edge detector on a smooth image), they add up in the output.
Rounding some weights the other way (down instead of up, or the reverse) can cancel
them instead. This module picks, per output channel, the up/down choice that
minimises the squared error of the channel's output on real calibration images, the
local objective of AdaRound (Nagel et al., 2020, "Up or Down? Adaptive Rounding for
Post-Training Quantization"), solved greedily (coordinate descent from
round-to-nearest) rather than by gradient descent.

The chosen weights are written back into the float model *on the int8 grid*, so the
quantizer that runs next (onnxruntime's ``quantize_static``, per-channel symmetric
int8: scale = largest absolute weight / 127) reproduces them exactly: each channel's
largest weight sits on the grid already and is never moved, so the scale stays the same.

Shapes: a convolution with weight (Cout, Cin/g, kh, kw) in g groups has, per group,
K = Cin/g * kh * kw inputs per output; its calibration "Gram" is (g, K, K).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from datacentric.progress import track
from datacentric.quiet import import_onnxruntime

if TYPE_CHECKING:
    import onnx

__all__ = ["INT8_MAX", "MIN_SQNR_DB", "LayerRounding", "choose_rounding", "conv_input_grams", "round_conv_weights"]

INT8_MAX = 127  # symmetric int8 weights use -127..127
MIN_SQNR_DB = 40.0  # below this a convolution stays float: 8 bits carry ~50 dB, so it lost over 1.5 bits
MAX_INPUTS = 4096  # K above this is left to round-to-nearest (the (K, K) Gram and the search grow as K^2)


@dataclass
class LayerRounding:
    """What the rounding did to one convolution (squares summed over its calibration outputs)."""

    name: str  # the Conv node
    energy: float  # squared output (bias left out): the signal
    error_nearest: float  # squared output error with round-to-nearest weights
    error_chosen: float  # squared output error with the chosen rounding
    changed: int  # weights rounded the other way than nearest
    kept_float: bool = False  # int8 would lose too much here (see round_conv_weights): weights left as they were

    @property
    def sqnr_db(self) -> float:
        """Signal-to-quantization-noise ratio of the output with the chosen rounding, in dB."""
        return 10 * math.log10(self.energy / self.error_chosen) if self.error_chosen > 0 else math.inf


def _conv_attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _roundable(node, weight: np.ndarray | None) -> bool:
    if weight is None or weight.ndim != 4:  # 2-D convolutions with a constant weight only
        return False
    attrs = _conv_attributes(node)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    return auto_pad == "NOTSET" and int(np.prod(weight.shape[1:])) <= MAX_INPUTS


def _patches(x: np.ndarray, node, kernel: tuple[int, int]) -> np.ndarray:
    """The convolution's input windows, (g, K, L) for L output positions; ``x`` is (Cin, H, W)."""
    attrs = _conv_attributes(node)
    kh, kw = kernel
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
    groups = int(attrs.get("group", 1))
    x = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    windows = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(1, 2))
    windows = windows[:, ::sh, ::sw, ::dh, ::dw]  # (Cin, Ho, Wo, kh, kw)
    cin, ho, wo = windows.shape[:3]
    windows = windows.reshape(groups, cin // groups, ho * wo, kh, kw).transpose(0, 1, 3, 4, 2)
    return windows.reshape(groups, (cin // groups) * kh * kw, ho * wo)


def conv_input_grams(
    model: onnx.ModelProto, inputs: Iterable[np.ndarray], *, input_name: str, convs: Collection[str]
) -> dict[str, np.ndarray]:
    """Per convolution in ``convs``: the Gram matrix (g, K, K) of its input windows over ``inputs``.

    ``model`` is an fp32 ``onnx.ModelProto``; each of ``inputs`` is one model input
    (B, C, H, W), run through onnxruntime with every named convolution's input as an
    extra output.
    """
    import onnx

    ort = import_onnxruntime()

    nodes = {n.name: n for n in model.graph.node if n.op_type == "Conv" and n.name in convs}
    weights = {t.name: t for t in model.graph.initializer}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outputs = {o.name for o in probe.graph.output}
    for tensor in dict.fromkeys(n.input[0] for n in nodes.values()):
        if tensor not in outputs:
            probe.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    kernels = {name: tuple(weights[n.input[1]].dims[2:]) for name, n in nodes.items()}
    grams: dict[str, np.ndarray] = {}
    for x in inputs:
        acts = dict(zip(names, session.run(None, {input_name: x})))
        for name, node in nodes.items():
            for sample in acts[node.input[0]]:
                cols = _patches(sample, node, kernels[name])
                gram = np.matmul(cols, cols.transpose(0, 2, 1)).astype(np.float64)
                if name in grams:
                    grams[name] += gram  # in place: a new sum per image fragmented the heap (~0.1 GB more peak)
                else:
                    grams[name] = gram
    return grams


def choose_rounding(weight: np.ndarray, gram: np.ndarray, *, sweeps: int = 6) -> tuple[np.ndarray, float, float, int]:
    """Round ``weight`` (Cout, K) onto its per-channel symmetric int8 grid, up or down, to minimise output error.

    ``gram`` is (g, K, K): the inputs' Gram per group (output channel c belongs to group
    ``c // (Cout // g)``). The output error of channel c is ``e_c @ gram @ e_c`` with
    ``e_c`` the rounding error of its weights. Starting from round-to-nearest, each
    sweep tries every weight rounded the other way and keeps the change when the error
    falls; it stops when a sweep changes nothing. The channel's largest weight (the
    one that sets its scale) stays where it is.

    Returns (weights on the grid, float32 (Cout, K); error with nearest rounding; error
    with the chosen rounding; how many weights were rounded the other way).
    """
    w = weight.astype(np.float64)
    cout, k = w.shape
    scale = np.abs(w).max(axis=1) / INT8_MAX
    scale[scale == 0] = 1.0  # an all-zero channel stays zero
    steps = w / scale[:, None]
    nearest = np.round(steps)
    low = np.clip(np.floor(steps), -INT8_MAX, INT8_MAX)
    high = np.clip(np.floor(steps) + 1, -INT8_MAX, INT8_MAX)
    pinned = np.abs(nearest) >= INT8_MAX
    low[pinned] = high[pinned] = nearest[pinned]
    group = _groups(cout, gram)
    q = nearest.copy()
    error = (q - steps) * scale[:, None]
    gradient = _times_gram(error, gram)
    before = float(np.einsum("ck,ck->", gradient, error))
    diagonal = np.diagonal(gram, axis1=1, axis2=2)[group]  # (Cout, K)
    for _ in range(sweeps):
        changed = False
        for i in range(k):
            other = np.where(q[:, i] == low[:, i], high[:, i], low[:, i])
            step = (other - q[:, i]) * scale
            gain = step * step * diagonal[:, i] + 2 * step * gradient[:, i]
            flip = (other != q[:, i]) & (gain < 0)
            if not flip.any():
                continue
            changed = True
            q[flip, i] = other[flip]
            error[flip, i] += step[flip]
            gradient[flip] += step[flip, None] * gram[group[flip], i, :]
        if not changed:
            break
    after = float(np.einsum("ck,ck->", gradient, error))
    return (q * scale[:, None]).astype(np.float32), before, after, int((q != nearest).sum())


def round_conv_weights(
    model: onnx.ModelProto,
    inputs: Iterable[np.ndarray],
    *,
    input_name: str,
    skip: Collection[str] = (),
    min_sqnr_db: float = MIN_SQNR_DB,
) -> list[LayerRounding]:
    """Replace each convolution weight of ``model`` (in place) by its error-minimising int8 rounding.

    ``model`` is an fp32 ``onnx.ModelProto``; ``inputs`` are calibration inputs (1, C, H, W)
    preprocessed as at prediction time; Conv nodes named in ``skip`` (those that stay
    float) are left alone, and so are convolutions this cannot handle (non-constant or
    non-2-D weights, ``auto_pad``, more than :data:`MAX_INPUTS` inputs per output).
    A convolution whose output would still fall below ``min_sqnr_db`` (default
    :data:`MIN_SQNR_DB`) keeps its float weights and is marked ``kept_float``: the caller
    should not quantize it. (In EfficientNet-Lite0 that is the first depthwise
    convolution, whose edge filters of large weights of opposite sign cancel on smooth
    images: about 38 dB, where every other layer reaches 44-60.)
    Returns one :class:`LayerRounding` per convolution looked at.
    """
    from onnx import numpy_helper

    tensors = {t.name: t for t in model.graph.initializer}
    convs = {}  # name -> (node, weight)
    for node in model.graph.node:
        if node.op_type != "Conv" or node.name in skip or len(node.input) < 2:
            continue
        tensor = tensors.get(node.input[1])
        weight = None if tensor is None else numpy_helper.to_array(tensor)
        if _roundable(node, weight):
            convs[node.name] = (node, weight)
    if not convs:
        return []
    grams = conv_input_grams(model, inputs, input_name=input_name, convs=set(convs))
    report = []
    for name, (node, weight) in track(convs.items(), "int8 rounding: layers", total=len(convs)):
        if name not in grams:  # no calibration input reached it
            continue
        tensor = tensors[node.input[1]]
        flat = weight.reshape(weight.shape[0], -1)
        rounded, before, after, changed = choose_rounding(flat, grams[name])
        layer = LayerRounding(
            name=name,
            energy=_output_energy(flat, grams[name]),
            error_nearest=before,
            error_chosen=after,
            changed=changed,
        )
        layer.kept_float = layer.sqnr_db < min_sqnr_db
        if not layer.kept_float:
            tensor.CopyFrom(numpy_helper.from_array(rounded.reshape(weight.shape), tensor.name))
        report.append(layer)
    return report


def _groups(cout: int, gram: np.ndarray) -> np.ndarray:
    """The group (index into ``gram``, (g, K, K)) of each of ``cout`` output channels."""
    return np.arange(cout) // max(1, cout // gram.shape[0])


def _times_gram(rows: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Row c of ``rows`` (Cout, K) times its channel's group Gram: (Cout, K)."""
    if gram.shape[0] == 1:  # one group: a plain product, no (Cout, K, K) copy of the Gram
        return rows @ gram[0]
    return np.einsum("ck,ckj->cj", rows, gram[_groups(len(rows), gram)])


def _output_energy(weight: np.ndarray, gram: np.ndarray) -> float:
    """Sum of the squared outputs (bias left out) of a (Cout, K) weight over the inputs behind ``gram``."""
    w = weight.astype(np.float64)
    return float((_times_gram(w, gram) * w).sum())
