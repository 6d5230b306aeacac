"""Adaptive rounding: int8 weights rounded up or down so each convolution's output changes least."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from datacentric.export import export_onnx, quantize_int8
from datacentric.export import int8 as int8_module
from datacentric.export.weight_rounding import choose_rounding, round_conv_weights

from tests.support.models import CLASSES, small_model


def _output_error(rounded: np.ndarray, weight: np.ndarray, x: np.ndarray) -> float:
    """Squared output error of a (Cout, K) weight on inputs x (L, K)."""
    return float((((rounded - weight) @ x.T) ** 2).sum())


def _nearest(weight: np.ndarray) -> np.ndarray:
    scale = np.abs(weight).max(axis=1, keepdims=True) / 127
    return np.round(weight / scale) * scale


def test_rounding_cancels_errors_that_add_up_on_smooth_inputs():
    """Inputs that move together (a smooth image under an edge filter): nearest-rounding errors add up."""
    rng = np.random.default_rng(0)
    weight = rng.normal(0, 1, (16, 9)).astype(np.float32)
    x = 3.0 + rng.normal(0, 0.05, (2000, 9))  # nine nearly equal inputs per output
    rounded, nearest_error, chosen_error, changed = choose_rounding(weight, (x.T @ x)[None])
    assert nearest_error == pytest.approx(_output_error(_nearest(weight), weight, x), rel=1e-4)
    assert chosen_error == pytest.approx(_output_error(rounded, weight, x), rel=1e-4)
    assert chosen_error < 0.25 * nearest_error
    assert changed > 0


def test_rounded_weights_lie_on_the_int8_grid_within_one_step():
    rng = np.random.default_rng(1)
    weight = rng.normal(0, 1, (8, 27)).astype(np.float32)
    weight[3] = 0.0  # an all-zero channel stays zero
    x = rng.normal(0, 1, (500, 27))
    rounded, *_ = choose_rounding(weight, (x.T @ x)[None])
    scale = np.abs(weight).max(axis=1, keepdims=True) / 127
    scale[3] = 1.0
    steps = rounded / scale
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)  # on the grid
    assert np.all(np.abs(rounded - weight) < scale + 1e-7)  # one of the two neighbouring steps
    np.testing.assert_allclose(np.abs(rounded).max(axis=1), np.abs(weight).max(axis=1), rtol=1e-6)  # same scale
    assert not rounded[3].any()


def test_depthwise_channels_each_use_their_own_inputs():
    """Gram per group: channel c of a depthwise convolution only sees input channel c."""
    rng = np.random.default_rng(2)
    weight = rng.normal(0, 1, (4, 9)).astype(np.float32)
    xs = [2.0 + rng.normal(0, 0.05 + c, (1000, 9)) for c in range(4)]
    gram = np.stack([x.T @ x for x in xs])
    rounded, _, chosen, _ = choose_rounding(weight, gram)
    per_channel = [_output_error(rounded[c : c + 1], weight[c : c + 1], xs[c]) for c in range(4)]
    assert chosen == pytest.approx(sum(per_channel), rel=1e-4)


def _conv_model(weight: np.ndarray, *, group: int, pads: list[int], strides: list[int]) -> onnx.ModelProto:
    cin = weight.shape[1] * group
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=group, pads=pads, strides=strides)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, cin, 12, 12])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("group", "pads", "strides"), [(1, [1, 1, 1, 1], [1, 1]), (6, [0, 0, 1, 1], [2, 2])])
def test_round_conv_weights_lowers_the_convolution_output_error(group, pads, strides):
    """Windows are cut as onnxruntime's Conv cuts them (padding, stride, groups): its error really falls."""
    import onnxruntime as ort

    rng = np.random.default_rng(3)
    weight = rng.normal(0, 1, (6, 6 // group, 3, 3)).astype(np.float32)
    smooth = np.cumsum(np.cumsum(rng.normal(0, 1, (4, 6, 12, 12)), axis=2), axis=3).astype(np.float32)
    inputs = [smooth[i : i + 1] for i in range(4)]
    model = _conv_model(weight, group=group, pads=pads, strides=strides)

    def outputs(w: np.ndarray) -> np.ndarray:
        candidate = _conv_model(w, group=group, pads=pads, strides=strides)
        session = ort.InferenceSession(candidate.SerializeToString(), providers=["CPUExecutionProvider"])
        return np.concatenate([session.run(None, {"x": x})[0] for x in inputs])

    (layer,) = round_conv_weights(model, inputs, input_name="x")
    rounded = numpy_helper.to_array(model.graph.initializer[0])
    nearest = _nearest(weight.reshape(6, -1)).reshape(weight.shape).astype(np.float32)
    reference = outputs(weight)
    chosen_error = float(((outputs(rounded) - reference) ** 2).sum())
    nearest_error = float(((outputs(nearest) - reference) ** 2).sum())
    assert layer.name == "conv" and layer.changed > 0
    assert chosen_error == pytest.approx(layer.error_chosen, rel=1e-3)
    assert nearest_error == pytest.approx(layer.error_nearest, rel=1e-3)
    assert chosen_error < 0.95 * nearest_error


def test_skipped_convolutions_keep_their_float_weights():
    weight = np.random.default_rng(4).normal(0, 1, (2, 3, 3, 3)).astype(np.float32)
    model = _conv_model(weight, group=1, pads=[1, 1, 1, 1], strides=[1, 1])
    assert round_conv_weights(model, [np.ones((1, 3, 12, 12), np.float32)], input_name="x", skip={"conv"}) == []
    np.testing.assert_array_equal(numpy_helper.to_array(model.graph.initializer[0]), weight)


def test_int8_file_holds_the_adaptively_rounded_weights(varied_photos, tmp_path):
    """onnxruntime's quantizer keeps our rounding: same scale, weights off nearest where it helped."""
    module, config = small_model("tf_mobilenetv3_small_minimal_100")
    fp32 = export_onnx(module, tmp_path / "m.onnx", classes=CLASSES, data_config=config)
    int8 = onnx.load(str(quantize_int8(fp32, tmp_path / "m.int8.onnx", varied_photos)))
    float_model = onnx.load(str(fp32))
    float_weights = {t.name: numpy_helper.to_array(t) for t in float_model.graph.initializer}
    float_convs = {n.name: float_weights[n.input[1]] for n in float_model.graph.node if n.op_type == "Conv"}
    inits = {t.name: numpy_helper.to_array(t) for t in int8.graph.initializer}
    dequantize = {n.output[0]: n for n in int8.graph.node if n.op_type == "DequantizeLinear"}
    away, total, float_convs_left = 0, 0, []
    for node in (n for n in int8.graph.node if n.op_type == "Conv"):
        if node.input[1] not in dequantize:
            float_convs_left.append(node.name)
            continue
        dq = dequantize[node.input[1]]
        scale = inits[dq.input[1]].reshape(-1, 1, 1, 1)
        weight = float_convs[node.name]
        dequantized = inits[dq.input[0]].astype(np.float32) * scale
        np.testing.assert_allclose(scale[:, 0, 0, 0], np.abs(weight).reshape(len(weight), -1).max(1) / 127, rtol=1e-5)
        assert np.all(np.abs(dequantized - weight) <= scale * 1.0001)
        away += int((np.abs(dequantized - weight) > scale * 0.5001).sum())
        total += weight.size
    assert float_convs_left == [next(iter(float_convs))]  # only the stem stays float
    assert 0 < away < total / 2


def test_stem_nodes_run_from_the_input_to_the_first_activation():
    nodes = [
        helper.make_node("Pad", ["x", "p"], ["xp"], name="pad"),
        helper.make_node("Conv", ["xp", "w"], ["c"], name="stem"),
        helper.make_node("Clip", ["c"], ["a"], name="act"),
        helper.make_node("Conv", ["a", "w2"], ["c2"], name="next"),
    ]
    graph = helper.make_graph(nodes, "g", [], [])
    assert int8_module._stem_nodes(helper.make_model(graph)) == ["pad", "stem", "act"]


def test_a_convolution_int8_cannot_carry_keeps_its_float_weights():
    """One large weight sets the int8 step; the small weights doing the work round to 0 or one coarse step."""
    weight = np.full((2, 3, 3, 3), 0.3, dtype=np.float32)
    weight[:, 0, 1, 1] = 100.0  # on an input channel that is always zero
    model = _conv_model(weight, group=1, pads=[1, 1, 1, 1], strides=[1, 1])
    x = np.random.default_rng(5).random((3, 1, 3, 12, 12)).astype(np.float32)
    x[:, :, 0] = 0.0
    (layer,) = round_conv_weights(model, list(x), input_name="x")
    assert layer.sqnr_db < 40 and layer.kept_float
    np.testing.assert_array_equal(numpy_helper.to_array(model.graph.initializer[0]), weight)
    (kept,) = round_conv_weights(model, list(x), input_name="x", min_sqnr_db=-np.inf)
    assert not kept.kept_float and not np.array_equal(numpy_helper.to_array(model.graph.initializer[0]), weight)


def test_float_convolutions_take_their_activation_along():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Clip", ["c"], ["a"], name="act"),
        helper.make_node("Conv", ["a", "w2"], ["c2"], name="next"),
        helper.make_node("Relu", ["c2"], ["a2"], name="next_act"),
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [], []))
    assert int8_module._with_activations(model, ["conv"]) == ["conv", "act"]
    assert int8_module._with_activations(model, []) == []
