"""The ONNX Runtime embedding runtime: same vectors as torch up to rounding, its own cache key,
one exported file per model, a one-line error when onnxruntime fails."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import datacentric.model.onnx_features as onnx_mod
from tests.support.no_torch import BLOCK_TORCH
from datacentric.errors import DatacentricError
from datacentric.model import embed

TINY = "test_efficientnet@random"


@pytest.fixture(autouse=True)
def _fresh_sessions():
    """Every test exports or loads its own file: no session kept from an earlier test."""
    onnx_mod._SESSIONS.clear()
    yield
    onnx_mod._SESSIONS.clear()


@pytest.mark.parametrize(("backbone", "size"), [(TINY, 32), ("tf_efficientnet_lite0@random", 64)])
def test_onnxruntime_vectors_equal_torch_up_to_rounding(images, backbone, size):
    paths = [p for ps in images.values() for p in ps][::3]
    ort = embed(paths, backbone=backbone, image_size=size, runtime="onnxruntime")
    torch = embed(paths, backbone=backbone, image_size=size, runtime="torch")
    assert ort.shape == torch.shape and ort.dtype == np.float32
    np.testing.assert_allclose(ort, torch, atol=1e-4, rtol=0)
    assert not np.allclose(ort[0], ort[-1])  # red and blue images differ


def test_a_batch_runs_in_chunks_with_the_same_vectors_as_one_image_at_a_time(images):
    paths = [p for ps in images.values() for p in ps][: onnx_mod.RUN_BATCH + 3]  # one full chunk and a part
    together = embed(paths, backbone=TINY, image_size=32, batch_size=len(paths))
    alone = embed(paths, backbone=TINY, image_size=32, batch_size=1)
    assert together.shape == (len(paths), 256)
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
    assert not np.allclose(together[0], together[-1])  # red and blue images differ


def test_calls_side_by_side_give_the_bits_of_one_call_at_a_time(images):
    from datacentric.model.backbone import data_config
    from datacentric.model.embeddings import feature_model, runtime_model

    model = feature_model(TINY, pretrained=False)
    config = data_config(model, 32)
    batch = np.random.default_rng(0).standard_normal((2 * onnx_mod.RUN_BATCH + 1, *config["input_size"]))
    batch = batch.astype(np.float32)
    side_by_side = runtime_model(model, TINY, config, None, "onnxruntime", threads=2)
    one_by_one = runtime_model(model, TINY, config, None, "onnxruntime", threads=1)
    assert one_by_one is not side_by_side
    sizes, run = [], side_by_side.session.run
    meet = threading.Barrier(2, timeout=30)

    def recording_run(outputs, feeds):
        sizes.append(len(feeds[side_by_side.input]))
        if len(sizes) <= 2:
            meet.wait()  # breaks (and the call fails) unless two calls run at the same time
        return run(outputs, feeds)

    side_by_side.session.run = recording_run
    together = side_by_side(batch)
    assert together.shape == (len(batch), 256)
    assert sorted(sizes) == [1, onnx_mod.RUN_BATCH, onnx_mod.RUN_BATCH]
    np.testing.assert_array_equal(together, np.concatenate([one_by_one(row[None]) for row in batch]))
    sizes.clear()
    meet.reset()
    np.testing.assert_array_equal(side_by_side(batch[:2]), together[:2])
    assert sizes == [1, 1]  # two images fill two cores too


def test_the_onnxruntime_path_preprocesses_as_timm_does(images):
    import timm.data

    from datacentric.data.images import load_image
    from datacentric.model.backbone import data_config
    from datacentric.model.embeddings import feature_model, runtime_model

    paths = [p for ps in images.values() for p in ps][:5]
    model = feature_model(TINY, pretrained=False)
    config = data_config(model, 32)
    transform = timm.data.create_transform(**config, is_training=False)
    by_timm = np.stack([transform(load_image(p)).numpy() for p in paths])
    expected = runtime_model(model, TINY, config, None, "onnxruntime")(by_timm)
    np.testing.assert_array_equal(embed(paths, backbone=TINY, image_size=32), expected)


def _kernels_run(model: bytes, batch: np.ndarray, folder: Path) -> tuple[np.ndarray, set[str]]:
    """The features of ``batch`` and the operator types ONNX Runtime ran (from its profile)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(folder / "profile")
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    features = session.run(None, {"input": batch})[0]
    events = json.loads(Path(session.end_profiling()).read_text())
    return features, {e["args"]["op_name"] for e in events if e.get("cat") == "Node" and "op_name" in e["args"]}


def test_same_padding_runs_inside_the_convolutions_with_the_same_bits(tmp_path: Path, monkeypatch):
    import io

    from datacentric.model.backbone import data_config
    from datacentric.model.embeddings import feature_model

    model = feature_model("tf_efficientnet_lite0", pretrained=False)
    config = data_config(model, 64)
    fusable, as_exported = io.BytesIO(), io.BytesIO()
    onnx_mod.trace_onnx(model, fusable, config["input_size"])
    with monkeypatch.context() as patch:
        patch.setattr(onnx_mod, "fusable_pads", lambda traced: traced)  # the exporter's own graph
        onnx_mod.trace_onnx(model, as_exported, config["input_size"])
    batch = np.random.default_rng(0).standard_normal((2, *config["input_size"])).astype(np.float32)
    as_traced, ran_traced = _kernels_run(as_exported.getvalue(), batch, tmp_path)
    fused, ran_fused = _kernels_run(fusable.getvalue(), batch, tmp_path)
    assert "Pad" in ran_traced and "Pad" not in ran_fused  # folded into the strided convolutions
    np.testing.assert_array_equal(fused, as_traced)


def test_pads_are_stored_without_touching_the_rest_of_a_graph():
    """A computed zero Pad before a Conv is stored; a value read only inside an If body stays."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    def constant(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value)))

    def branch(name):
        return helper.make_graph(
            [helper.make_node("Add", ["convolved", "outer"], [name])],
            name,
            [],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, 2, 2])],
        )

    nodes = [
        constant("amounts", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64)),
        helper.make_node("Identity", ["amounts"], ["computed"]),
        helper.make_node("Pad", ["x", "computed", ""], ["padded"]),
        helper.make_node("Conv", ["padded", "w"], ["convolved"], pads=[0, 0, 0, 0], strides=[2, 2]),
        helper.make_node("Relu", ["x"], ["outer_full"]),
        helper.make_node("Slice", ["outer_full", "start", "end", "axes"], ["outer"]),
        constant("start", np.array([0, 0], np.int64)),
        constant("end", np.array([2, 2], np.int64)),
        constant("axes", np.array([2, 3], np.int64)),
        constant("yes", np.array(True)),
        helper.make_node("If", ["yes"], ["y"], then_branch=branch("then"), else_branch=branch("else")),
    ]
    nodes = nodes[:5] + nodes[6:10] + nodes[5:6] + nodes[10:]  # topological order
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])],
        [numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    rewritten = onnx.load_from_string(onnx_mod.fusable_pads(model))
    onnx.checker.check_model(rewritten)
    (pad,) = [node for node in rewritten.graph.node if node.op_type == "Pad"]
    assert len(pad.input) == 2 and pad.input[1] in {t.name for t in rewritten.graph.initializer}
    assert "Relu" in {node.op_type for node in rewritten.graph.node}
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)

    def run(m):
        session = onnxruntime.InferenceSession(m, providers=["CPUExecutionProvider"])
        return session.run(None, {"x": x})[0]

    np.testing.assert_array_equal(run(rewritten.SerializeToString()), run(model))


def test_onnxruntime_is_the_default(images, tmp_path: Path):
    paths = images["red"][:2]
    embed(paths, backbone=TINY, cache_dir=tmp_path / "cache", image_size=32)
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))


def test_each_runtime_caches_under_its_own_key(images, tmp_path: Path):
    cache = tmp_path / "cache"
    paths = images["red"][:3]
    embed(paths, backbone=TINY, cache_dir=cache, image_size=32, runtime="torch")
    embed(paths, backbone=TINY, cache_dir=cache, image_size=32, runtime="onnxruntime")
    folders = sorted(p for p in (cache / "embeddings").iterdir() if p.is_dir())
    assert len(folders) == 2
    runtimes = sorted(json.loads((f / "key.json").read_text())["runtime"] for f in folders)
    assert runtimes == ["onnxruntime", "torch"]
    assert all(len(list(f.glob("*.npy"))) == 3 for f in folders)
    known = json.loads((cache / "embeddings" / "keys.json").read_text())
    assert sorted(known.values()) == sorted(f.name for f in folders)  # two shortcuts, one per runtime


def test_the_exported_file_is_reused_by_the_next_call(images, tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    embed(images["red"], backbone=TINY, cache_dir=cache, image_size=32)
    (exported,) = (cache / "onnx").glob("*.onnx")
    written = exported.stat().st_mtime_ns
    onnx_mod._SESSIONS.clear()  # as in a new process

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the file is cached")

    monkeypatch.setattr(onnx_mod, "trace_onnx", no_export)
    out = embed(images["green"], backbone=TINY, cache_dir=cache, image_size=32)  # new images: a forward
    assert out.shape == (8, 256) and np.isfinite(out).all()
    assert exported.stat().st_mtime_ns == written
    assert not [p for p in (cache / "onnx").iterdir() if p != exported]  # no temporary file left


def test_a_backbone_exported_in_an_older_form_is_exported_again(images, tmp_path: Path):
    cache = tmp_path / "cache"
    first = embed(images["red"], backbone=TINY, cache_dir=cache, image_size=32)
    (exported,) = (cache / "onnx").glob("*.onnx")
    assert exported.name.endswith(f".{onnx_mod.FILE_FORM}.onnx")
    older = exported.with_name(exported.name.replace(f".{onnx_mod.FILE_FORM}", ""))
    exported.rename(older)  # a cache written before the form was named
    older.write_bytes(b"not this file")
    shutil.rmtree(cache / "embeddings")
    onnx_mod._SESSIONS.clear()  # as in a new process
    again = embed(images["red"], backbone=TINY, cache_dir=cache, image_size=32)
    assert np.array_equal(first, again)
    assert [p.name for p in (cache / "onnx").iterdir()] == [exported.name]  # the older file is gone


def test_onnxruntime_failure_is_one_clear_line(images, monkeypatch):
    import onnxruntime

    def broken(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Load model failed\nlong trace ...")

    monkeypatch.setattr(onnxruntime, "InferenceSession", broken)
    with pytest.raises(DatacentricError) as info:
        embed(images["red"][:2], backbone=TINY, image_size=32)
    message = str(info.value)
    assert "\n" not in message
    assert "ONNX Runtime cannot run backbone 'test_efficientnet@random'" in message
    assert "Load model failed" in message and "runtime='torch'" in message
    # torch still works
    assert embed(images["red"][:2], backbone=TINY, image_size=32, runtime="torch").shape == (2, 256)


def test_unknown_runtime_is_refused(images):
    with pytest.raises(DatacentricError, match="unknown embedding runtime 'tensorrt'"):
        embed(images["red"][:1], backbone=TINY, image_size=32, runtime="tensorrt")


def test_new_images_embed_from_the_cached_onnx_file_without_torch(images, tmp_path: Path):
    """Once the backbone's ONNX file and key are cached, new images need neither torch nor the
    model, and get the very vectors the model path gives them."""
    import subprocess
    import sys

    paths = [p for ps in images.values() for p in ps]
    cache = tmp_path / "cache"
    embed(paths[:3], backbone=TINY, cache_dir=cache, image_size=32)  # exports the file, remembers the key
    script = (
        BLOCK_TORCH + "import json, sys\nfrom datacentric.model import embed\n"
        f"X = embed({[str(p) for p in paths[3:12]]!r}, backbone={TINY!r}, cache_dir={str(cache)!r}, image_size=32)\n"
        "print(json.dumps(X.tolist()))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(root)}
    )
    assert done.returncode == 0, done.stderr
    from_file = np.array(json.loads(done.stdout), dtype=np.float32)
    from_model = embed(paths[3:12], backbone=TINY, image_size=32)  # no cache: the model, exported in memory
    np.testing.assert_array_equal(from_file, from_model)
    again = embed(paths[3:12], backbone=TINY, cache_dir=cache, image_size=32)  # cached by the torch-free run
    np.testing.assert_array_equal(again, from_model)
