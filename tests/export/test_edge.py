"""The standalone ONNX predictor: same preprocessing as timm, no torch needed, bad images reported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.no_torch import BLOCK_TORCH
from datacentric import edge


@pytest.mark.parametrize("size", [(40, 40), (48, 32), (32, 56), (300, 200), (64, 64)])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_preprocess_matches_timm_eval_transform(size, interpolation, tiny):
    import timm.data

    _, _, config = tiny
    config = {**config, "interpolation": interpolation}
    rng = np.random.default_rng(sum(size))
    image = Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8))
    expected = timm.data.create_transform(**config, is_training=False)(image).numpy()
    got = edge.preprocess(
        image,
        edge.PreprocessConfig(
            input_size=tuple(config["input_size"]),
            mean=tuple(config["mean"]),
            std=tuple(config["std"]),
            interpolation=interpolation,
            crop_pct=config["crop_pct"],
            crop_mode=config["crop_mode"],
        ),
    )
    assert got.shape == expected.shape == (3, 64, 64) and got.dtype == np.float32
    # the same bits: embed() preprocesses with edge on the ONNX Runtime path, and its vectors
    # share a cache with timm-preprocessed ones
    np.testing.assert_array_equal(got, expected)


def test_predictor_runs_with_torch_blocked_and_gives_torch_labels(exported, varied_photos, tmp_path):
    from datacentric.export import export_model  # noqa: F401  (the torch side lives in this process)

    model = exported.format("onnx-fp32").path
    expected = [p.label for p in edge.OnnxClassifier(model).predict(varied_photos)]
    # The module file alone, copied next to nothing else of datacentric.
    alone = tmp_path / "device"
    alone.mkdir()
    shutil.copy(Path(edge.__file__), alone / "edge_predict.py")
    script = (
        BLOCK_TORCH
        + f"""
import json, sys
sys.path.insert(0, {str(alone)!r})
import edge_predict
clf = edge_predict.OnnxClassifier({str(model)!r})
preds = clf.predict({[str(p) for p in varied_photos]!r})
print(json.dumps({{"labels": [p.label for p in preds], "torch": "torch" in sys.modules}}))
"""
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"labels": expected, "torch": False}


def test_predictor_labels_match_torch_model(tiny, exported, varied_photos):
    import timm.data
    import torch

    from datacentric.data.images import load_image

    module, classes, config = tiny
    transform = timm.data.create_transform(**config, is_training=False)
    with torch.inference_mode():
        logits = module(torch.stack([transform(load_image(p)) for p in varied_photos]))
    torch_labels = [classes[i] for i in logits.argmax(1).tolist()]
    preds = edge.OnnxClassifier(exported.format("onnx-fp32").path).predict(varied_photos)
    assert [p.label for p in preds] == torch_labels
    assert all(abs(sum(p.probs.values()) - 1) < 1e-4 and p.probability == max(p.probs.values()) for p in preds)


def test_package_import_of_edge_does_not_import_torch():
    script = BLOCK_TORCH + "import datacentric.edge, sys; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_bad_images_are_reported_not_fatal(exported, varied_photos, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\\x89PNG garbage")
    missing = tmp_path / "missing.png"
    preds = edge.OnnxClassifier(exported.path).predict([varied_photos[0], broken, missing, varied_photos[1]])
    assert [p.path for p in preds] == [varied_photos[0], broken, missing, varied_photos[1]]
    assert preds[0].label in ("ok", "pit", "scratch")
    assert preds[1].label is None and preds[1].probability == 0.0 and preds[1].probs == {}
    assert preds[1].error and preds[2].label is None and "No such file" in preds[2].error
    assert preds[3].label is not None and preds[3].error is None


def test_grayscale_and_rgba_images_are_predicted(exported, tmp_path):
    rng = np.random.default_rng(1)
    gray = tmp_path / "gray.png"
    Image.fromarray((rng.random((40, 50)) * 255).astype(np.uint8), mode="L").save(gray)
    rgba = tmp_path / "rgba.png"
    Image.fromarray((rng.random((40, 50, 4)) * 255).astype(np.uint8), mode="RGBA").save(rgba)
    preds = edge.OnnxClassifier(exported.path).predict([gray, rgba])
    assert all(p.label is not None for p in preds)


def test_model_without_metadata_is_refused(tiny, tmp_path):
    import onnx

    from datacentric.export import export_onnx

    module, classes, config = tiny
    path = export_onnx(module, tmp_path / "m.onnx", classes=classes, data_config=config)
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="lacks datacentric metadata"):
        edge.OnnxClassifier(path)
    with pytest.raises(FileNotFoundError):
        edge.OnnxClassifier(tmp_path / "nope.onnx")


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("crop_pct", "0", "crop_pct"),
        ("input_size", "[3, 100000, 100000]", "input_size"),
        ("classes", '["a"]', "names 1 classes for a model with"),
        ("classes", '["ok", "pit\\u001b[31m", "x"]', "without control characters"),
        ("std", "[0, 1, 1]", "std above 0"),
    ],
)
def test_model_with_nonsense_metadata_is_refused_on_load(tiny, tmp_path, key, value, needle):
    """A model file edited by hand (or broken) fails at load with the key named, not mid-prediction."""
    import onnx

    from datacentric.export import export_onnx

    module, classes, config = tiny
    path = export_onnx(module, tmp_path / "m.onnx", classes=classes, data_config=config)
    model = onnx.load(str(path))
    next(p for p in model.metadata_props if p.key == key).value = value
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match=needle):
        edge.OnnxClassifier(path)


def test_model_with_class_names_datacentric_accepts_loads(tiny, tmp_path):
    """Names the class-name rule lets in (a Persian zero-width non-joiner, a no-break space, an
    emoji sequence) load and print as they are."""
    from datacentric.export import export_onnx

    module, classes, config = tiny
    names = ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "a\xa0b", "\U0001f468\u200d\U0001f527"]
    path = export_onnx(module, tmp_path / "m.onnx", classes=names[: len(classes)], data_config=config)
    assert edge.OnnxClassifier(path).classes == names[: len(classes)]


def test_predictor_plans_no_memory_pattern_but_keeps_the_arena(exported):
    """Batch-16 runs reuse the arena (fast) without a planned block per input shape on top (memory)."""
    clf = edge.OnnxClassifier(exported.format("onnx-fp32").path, threads=1)
    config = clf.session.get_session_options()
    assert config.enable_mem_pattern is False and config.enable_cpu_mem_arena is True


def test_normalising_a_batch_of_crops_gives_the_bits_of_preprocess(varied_photos, exported):
    """The export keeps uint8 crops and normalises them batch by batch: it must see preprocess's inputs exactly."""
    config = edge.OnnxClassifier(exported.format("onnx-fp32").path).config
    rgb = [edge.load_rgb(p) for p in varied_photos[:5]]
    crops = np.stack([edge.crop(image, config) for image in rgb])
    assert crops.dtype == np.uint8 and crops.shape == (5, 64, 64, 3)
    batch = edge.normalise(crops, config)
    assert batch.shape == (5, 3, 64, 64) and batch.flags["C_CONTIGUOUS"]
    assert np.array_equal(batch, np.stack([edge.preprocess(image, config) for image in rgb]))


def test_normalise_gives_the_bits_of_the_arithmetic_for_every_level():
    config = edge.PreprocessConfig(
        input_size=(3, 16, 16), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), interpolation="bicubic"
    )
    levels = np.arange(256, dtype=np.uint8)
    pixels = np.stack([np.roll(levels, shift) for shift in (0, 85, 170)], axis=-1).reshape(16, 16, 3)
    arithmetic = (pixels.astype(np.float32) / np.float32(255.0) - np.float32(config.mean)) / np.float32(config.std)
    expected = np.moveaxis(arithmetic, -1, 0)
    assert np.array_equal(edge.normalise(pixels, config), expected)  # uint8, as decoded
    assert np.array_equal(edge.normalise(pixels.astype(np.float32), config), expected)  # any other dtype
    gray = pixels[..., :1]  # one channel broadcasts against the three means, as the arithmetic does
    spread = (gray.astype(np.float32) / np.float32(255.0) - np.float32(config.mean)) / np.float32(config.std)
    assert np.array_equal(edge.normalise(gray, config), np.moveaxis(spread, -1, 0))
