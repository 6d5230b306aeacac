"""The int8 recipe: constant SAME padding, uint8 activations, int8 kernels, what stays float.

Uses timm's tf_mobilenetv3_small_minimal_100 (random weights, 64 px): a ``tf_*`` model,
so it has TensorFlow-style "SAME" strided convolutions (timm's ``Conv2dSame``) like the
product's tf_efficientnet_lite0, at a fraction of the export time.
"""

from __future__ import annotations

import contextlib

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from datacentric import edge
from datacentric.export import export_onnx, optimized_op_counts, quantize_int8
from datacentric.model import onnx_features
from datacentric.export import int8 as int8_module

from tests.support.models import CLASSES, small_model

SHAPE_OPS = {"Shape", "Ceil", "Div"}  # what run-time SAME padding is computed with


@pytest.fixture(scope="module")
def tf_model():
    """A tf_ backbone: its convolutions pad TensorFlow's "SAME" way (timm's Conv2dSame)."""
    return small_model("tf_mobilenetv3_small_minimal_100")


@pytest.fixture(scope="module")
def tf_int8(tf_model, varied_photos, tmp_path_factory):
    """(fp32 path, int8 path) for the tf_ model."""
    module, config = tf_model
    out = tmp_path_factory.mktemp("tf")
    fp32 = export_onnx(module, out / "m.onnx", classes=CLASSES, data_config=config)
    return fp32, quantize_int8(fp32, out / "m.int8.onnx", varied_photos)


def _torch_out(module, x):
    import torch

    with torch.inference_mode():
        return module(torch.from_numpy(x)).numpy()


def test_same_padding_is_exported_as_constants(tf_model, tf_int8, varied_photos):
    from timm.layers import Conv2dSame

    module, _ = tf_model
    fp32, _ = tf_int8
    ops = {n.op_type for n in onnx.load(str(fp32)).graph.node}
    assert not ops & SHAPE_OPS, ops & SHAPE_OPS  # no run-time padding arithmetic left
    same = [m for m in module.modules() if isinstance(m, Conv2dSame)]
    assert same and all("forward" not in vars(m) for m in same)  # the torch model is left as it was
    clf = edge.OnnxClassifier(fp32)
    x = np.stack([edge.preprocess(edge.load_rgb(p), clf.config) for p in varied_photos])
    (logits,) = clf.session.run(None, {clf.input_name: x})
    np.testing.assert_allclose(logits, _torch_out(module, x), atol=1e-4)


def test_same_padding_runs_inside_the_convolutions_in_both_files(tf_int8):
    """ONNX Runtime folds each zero Pad into its Conv (no Pad, no layout reorders around it)."""
    fp32, int8 = tf_int8
    assert any(n.op_type == "Pad" for n in onnx.load(str(fp32)).graph.node)  # the model has SAME pads
    assert "Pad" not in optimized_op_counts(fp32)
    assert "Pad" not in optimized_op_counts(int8)


def test_int8_runs_int8_kernels_for_every_convolution_but_the_stem(tf_int8):
    fp32, int8 = tf_int8
    n_conv = sum(n.op_type == "Conv" for n in onnx.load(str(fp32)).graph.node)
    ops = optimized_op_counts(int8)
    assert ops.get("QLinearConv") == n_conv - 1
    assert ops.get("Conv") == 1  # the stem, on the float input image
    assert "Relu" not in ops and "Clip" not in ops and "HardSwish" not in ops
    # only the model input, the residual/pool boundaries and the float head need (de)quantizing
    assert ops.get("DequantizeLinear", 0) <= 8


def test_int8_activations_are_uint8_and_weights_per_channel_int8(tf_int8):
    _, int8 = tf_int8
    model = onnx.load(str(int8))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    quantize = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantize and all(inits[n.input[2]].dtype == np.uint8 for n in quantize)
    weights = [
        n
        for n in model.graph.node
        if n.op_type == "DequantizeLinear" and n.input[0] in inits and inits[n.input[0]].ndim == 4
    ]
    assert weights
    for n in weights:
        assert inits[n.input[0]].dtype == np.int8
        assert inits[n.input[1]].shape == (inits[n.input[0]].shape[0],)  # one scale per output channel
        assert not inits[n.input[2]].any()  # symmetric
    meta = {p.key: p.value for p in model.metadata_props}
    assert "asymmetric uint8 activations" in meta["quantization"]


def test_head_after_the_last_activation_stays_float(tf_int8):
    _, int8 = tf_int8
    nodes = list(onnx.load(str(int8)).graph.node)
    gemm = [n for n in nodes if n.op_type == "Gemm"]
    assert len(gemm) == 1
    produced = {o: n for n in nodes for o in n.output}
    assert produced[gemm[0].input[0]].op_type != "DequantizeLinear"  # classifier input is float, not Q/DQ'd
    assert all(produced[i].op_type != "DequantizeLinear" for i in gemm[0].input[1:] if i in produced)


def test_head_nodes_start_after_the_conv_activation():
    from onnx import helper

    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Clip", ["c"], ["a"], name="act"),
        helper.make_node("GlobalAveragePool", ["a"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "W", "B"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(nodes, "g", [], [])
    assert int8_module._head_nodes(helper.make_model(graph)) == ["pool", "flatten", "fc"]


def test_shape_arithmetic_is_never_quantized(tf_model, varied_photos, tmp_path, monkeypatch):
    """A graph with run-time SAME padding (as the exporter used to write) keeps its pad arithmetic float."""
    module, config = tf_model
    monkeypatch.setattr(onnx_features, "static_same_padding", lambda *a: contextlib.nullcontext())
    fp32 = export_onnx(module, tmp_path / "dyn.onnx", classes=CLASSES, data_config=config)
    model = onnx.load(str(fp32))
    graph = model.graph
    assert {"Shape", "Ceil"} <= {n.op_type for n in graph.node}
    shape_nodes = set(int8_module._shape_nodes(model))
    assert all(n.name in shape_nodes for n in graph.node if n.op_type in ("Ceil", "Div", "Concat"))
    assert not any(n.op_type == "Conv" and n.name in shape_nodes for n in graph.node)

    int8 = onnx.load(str(quantize_int8(fp32, tmp_path / "dyn.int8.onnx", varied_photos)))
    produced = {o: n for n in int8.graph.node for o in n.output}
    for node in int8.graph.node:
        if node.op_type == "Pad":  # its pads input comes straight from float arithmetic, not a DequantizeLinear
            assert produced[node.input[1]].op_type != "DequantizeLinear"
    clf32, clf8 = edge.OnnxClassifier(fp32), edge.OnnxClassifier(tmp_path / "dyn.int8.onnx")
    x = np.zeros((2, 3, 64, 64), dtype=np.float32)
    assert clf8.run(x).shape == clf32.run(x).shape == (2, 3)


def test_int8_logits_carry_no_mean_shift_on_the_calibration_images(tf_int8, varied_photos):
    """The float head's bias absorbs int8's average logit shift (bias correction)."""
    fp32, int8 = tf_int8
    clf32, clf8 = edge.OnnxClassifier(fp32), edge.OnnxClassifier(int8)
    x = np.stack([edge.preprocess(edge.load_rgb(p), clf32.config) for p in varied_photos])
    (z32,) = clf32.session.run(None, {clf32.input_name: x})
    (z8,) = clf8.session.run(None, {clf8.input_name: x})
    assert np.abs(z8 - z32).max() > 1e-3  # int8 does change the logits ...
    np.testing.assert_allclose((z8 - z32).mean(axis=0), 0.0, atol=1e-4)  # ... but not on average
    fp32_bias = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(fp32)).graph.initializer}
    int8_bias = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(int8)).graph.initializer}
    name = next(n.input[2] for n in onnx.load(str(int8)).graph.node if n.op_type == "Gemm")
    assert not np.allclose(fp32_bias[name], int8_bias[name])
