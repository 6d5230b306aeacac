"""ONNX export, int8 quantization, parity and refusal (tiny random model, tiny images)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from datacentric import edge
from datacentric.errors import DatacentricError
from datacentric.export import export_model, export_onnx, measure_latency, measuring


def torch_probs(module, config, paths):
    import timm.data
    import torch

    from datacentric.data.images import load_image

    transform = timm.data.create_transform(**config, is_training=False)
    with torch.inference_mode():
        x = torch.stack([transform(load_image(p)) for p in paths])
        return torch.softmax(module(x), dim=1).numpy()


def test_onnx_fp32_round_trips_torch_probabilities(tiny, varied_photos, exported):
    module, classes, config = tiny
    clf = edge.OnnxClassifier(exported.format("onnx-fp32").path)
    np.testing.assert_allclose(clf.predict_proba(varied_photos), torch_probs(module, config, varied_photos), atol=1e-4)
    row = exported.format("onnx-fp32")
    assert row.agreement == 1.0
    assert row.max_prob_diff < 1e-4


def test_export_table_has_three_formats_with_measured_numbers(exported):
    assert [r.name for r in exported.formats] == ["torch-fp32", "onnx-fp32", "onnx-int8"]
    for row in exported.formats:
        assert row.bytes > 10_000
        assert row.latency_ms_b1 > 0 and row.latency_ms_b16 > 0
        assert 0.0 <= row.agreement <= 1.0 and row.accuracy is not None
    assert exported.format("onnx-int8").bytes < exported.format("onnx-fp32").bytes
    assert exported.path == exported.format("onnx-int8").path
    assert exported.path.name == "model.int8.onnx" and exported.path.exists()
    assert exported.n_images == 9 and exported.n_accuracy == 9
    assert "static QDQ" in exported.quantization


def test_metadata_holds_classes_and_preprocessing(tiny, exported):
    _, classes, config = tiny
    for name in ("onnx-fp32", "onnx-int8"):
        model = onnx.load(str(exported.format(name).path))
        onnx.checker.check_model(model)
        meta = {p.key: json.loads(p.value) for p in model.metadata_props}
        assert meta["classes"] == classes
        assert meta["input_size"] == [3, 64, 64]
        assert meta["mean"] == pytest.approx(list(config["mean"]))
        assert meta["std"] == pytest.approx(list(config["std"]))
        assert meta["interpolation"] == config["interpolation"]
        assert meta["crop_pct"] == pytest.approx(config["crop_pct"])
        assert meta["backbone"] == "test_efficientnet"
    int8 = onnx.load(str(exported.format("onnx-int8").path))
    assert any(n.op_type == "QuantizeLinear" for n in int8.graph.node)


def test_batch_axis_is_dynamic(exported):
    clf = edge.OnnxClassifier(exported.format("onnx-fp32").path)
    for n in (1, 5):
        probs = clf.run(np.zeros((n, 3, 64, 64), dtype=np.float32))
        assert probs.shape == (n, 3)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_int8_refused_below_threshold_says_by_how_much(tiny, varied_photos, tmp_path):
    module, classes, config = tiny
    with pytest.raises(DatacentricError) as err:
        export_model(module, classes, config, tmp_path, paths=varied_photos[:4], int8=True, threshold=1.01, repeats=0)
    message = str(err.value)
    agreement = err.value.result.format("onnx-int8").agreement
    assert "onnx-int8" in message and "below the 101.0% threshold" in message
    missed = float(re.search(r"([0-9.]+) points below", message).group(1))
    assert missed == pytest.approx((1.01 - agreement) * 100, abs=0.051)
    assert "--force" in message
    rows = err.value.result.disagreements
    assert len(rows) == round((1 - agreement) * 4)
    assert f"of its {len(rows)} disagreements are near-ties for torch" in message
    assert not (tmp_path / "model.int8.onnx").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_int8_forced_below_threshold_is_written(tiny, varied_photos, tmp_path):
    module, classes, config = tiny
    result = export_model(
        module, classes, config, tmp_path, paths=varied_photos[:4], int8=True, threshold=1.01, force=True, repeats=0
    )
    assert result.path == tmp_path / "model.int8.onnx" and result.path.exists()
    assert result.format("onnx-int8").latency_ms_b1 is None


def test_slow_int8_steps_show_progress_with_a_time_estimate(tiny, varied_photos, tmp_path, monkeypatch):
    """Calibration, rounding and each format's agreement check draw a bar with the time left."""
    import io

    from rich.console import Console

    from datacentric import progress

    screen = io.StringIO()
    monkeypatch.setattr(progress, "_console", Console(file=screen, force_terminal=True, width=160))
    progress.set_enabled(True)
    try:
        module, classes, config = tiny
        export_model(module, classes, config, tmp_path, paths=varied_photos[:4], int8=True, force=True, repeats=0)
    finally:
        progress.set_enabled(False)
    drawn = screen.getvalue()
    for step in [
        "torch reference",
        "int8 rounding: activations",
        "int8 rounding: layers",
        "int8 calibration",
        "onnx-fp32 agreement",
        "onnx-int8 agreement",
    ]:
        assert step in drawn, step
    assert re.search(r"-:--:--|\d:\d\d:\d\d", drawn)  # rich's time-remaining column


def test_disagreements_list_the_images_nearest_tie_first():
    reference = np.array([[0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [0.1, 0.8, 0.1]])
    probs = np.array([[0.3, 0.5, 0.2], [0.33, 0.34, 0.33], [0.1, 0.8, 0.1]])
    rows = measuring._disagreements(
        probs, reference, [Path("a.png"), Path("b.png"), Path("c.png")], ["ok", "pit", "dent"]
    )
    assert [(d.image, d.torch_label, d.label) for d in rows] == [("b.png", "ok", "pit"), ("a.png", "ok", "pit")]
    assert rows[0].torch_gap == pytest.approx(0.01) and rows[0].near_tie
    assert rows[1].torch_gap == pytest.approx(0.2) and not rows[1].near_tie


def test_fp32_export_writes_a_valid_model(tiny, tmp_path):
    module, classes, config = tiny
    path = export_onnx(module, tmp_path / "sub" / "m.onnx", classes=classes, data_config=config)
    onnx.checker.check_model(str(path))
    assert edge.OnnxClassifier(path).classes == classes


def test_unreadable_images_are_skipped_not_fatal(tiny, varied_photos, tmp_path):
    module, classes, config = tiny
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    result = export_model(module, classes, config, tmp_path / "out", paths=[*varied_photos[:3], bad], repeats=0)
    assert result.n_images == 3
    assert [s[0] for s in result.skipped] == [str(bad)]


def test_no_images_is_a_clear_error(tiny, tmp_path):
    module, classes, config = tiny
    with pytest.raises(DatacentricError, match="no real images"):
        export_model(module, classes, config, tmp_path, paths=[])


def test_measure_latency_is_per_image_median():
    ms = measure_latency(lambda: time.sleep(0.02), batch=4, repeats=3, warmup=0)
    assert 4.0 <= ms < 15.0
