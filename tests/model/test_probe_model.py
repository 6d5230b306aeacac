"""A probe run keeps its head in probe.npz; the torch model built from it is the one model.pt held."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from datacentric.errors import DatacentricError
from datacentric.model import ProbeClassifier, create_backbone, embed, load_classifier, predict, train
from datacentric.model.classifier import classifier_from_payload, model_bytes, save_classifier
from datacentric.runs import model_file
from datacentric.scale.predict import predict_probs
from tests.support.factories import write_image

ROOT = Path(__file__).resolve().parents[2]


def _old_way(colour_project, run) -> torch.nn.Module:
    """The model a probe run saved as model.pt before probe.npz: backbone plus the probe's head."""
    data = colour_project.dataset()
    X = embed(data.paths, backbone=run.config["backbone"], cache_dir=colour_project.cache_dir, image_size=32)
    probe = ProbeClassifier(C=run.config["C"], n_classes=3).fit(X, data.labels)
    module = create_backbone(run.config["backbone"], num_classes=3, cache_dir=colour_project.cache_dir)
    with torch.no_grad():
        module.get_classifier().weight.copy_(torch.from_numpy(probe.weight_))
        module.get_classifier().bias.copy_(torch.from_numpy(probe.bias_))
    return module.eval()


def _claim_other_weights(run) -> None:
    """Rewrite the run's probe.npz as if its head had been trained on other backbone weights."""
    path = run.dir / "probe.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["weights"] = "file-0123456789abcdef"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_model_built_from_probe_npz_is_the_one_model_pt_held(colour_project):
    run = train(colour_project).run
    assert model_file(run) == run.dir / "probe.npz"
    clf = load_classifier(run, cache_dir=colour_project.cache_dir)
    assert _same(clf.module, _old_way(colour_project, run))
    # workers get it as self-contained model.pt bytes
    payload = torch.load(io.BytesIO(model_bytes(run, cache_dir=colour_project.cache_dir)), weights_only=True)
    again = classifier_from_payload(payload, "bytes")
    assert _same(again.module, clf.module) and again.classes == clf.classes
    assert again.data_config == clf.data_config and again.mode == "probe"


def test_a_run_with_model_pt_from_before_still_loads_predicts_and_serves_workers(colour_project):
    """Back-compat: probe runs made before probe.npz hold model.pt; every reader still takes it."""
    run = train(colour_project).run
    new = predict(colour_project, colour_project.dataset().paths[:4])
    module = _old_way(colour_project, run)
    clf = load_classifier(run)
    save_classifier(
        module,
        run.dir / "model.pt",
        classes=clf.classes,
        backbone=clf.backbone,
        data_config=clf.data_config,
        mode="probe",
    )
    (run.dir / "probe.npz").unlink()
    assert model_file(run) == run.dir / "model.pt"
    old = load_classifier(run)
    assert _same(old.module, module) and old.classes == clf.classes and old.data_config == clf.data_config
    # model.pt runs in torch; probe.npz answered from the cached ONNX Runtime embeddings: float rounding apart
    old_probs = [list(p.probs.values()) for p in predict(colour_project, colour_project.dataset().paths[:4])]
    np.testing.assert_allclose(old_probs, [list(p.probs.values()) for p in new], atol=1e-5)
    assert model_bytes(run) == (run.dir / "model.pt").read_bytes()
    files = colour_project.dataset().paths[:4]
    probs, errors = predict_probs(run, files)  # the scale workers' path
    assert not errors and np.allclose(probs, old_probs, atol=1e-6)


def test_a_probe_refuses_backbone_weights_it_was_not_trained_on(colour_project):
    run = train(colour_project).run
    _claim_other_weights(run)
    clf = load_classifier(run)
    assert clf.classes == ["blue", "green", "red"]  # the head alone reads fine
    with pytest.raises(DatacentricError, match="not the ones this probe was trained on"):
        clf.module


def test_a_broken_probe_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "probe.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatacentricError, match="cannot read model"):
        load_classifier(bad)
    np.savez(bad, weight=np.zeros((2, 3)), bias=np.zeros(2), meta=np.array('{"format": "other"}'))
    with pytest.raises(DatacentricError, match="not a datacentric probe file"):
        load_classifier(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatacentricError, match="train a model first"):
        load_classifier(tmp_path / "empty")


def test_training_a_probe_on_cached_embeddings_imports_no_torch(colour_project):
    """Torch and timm cost seconds to import: a probe on cached embeddings needs neither."""
    first = train(colour_project)  # fills the embedding cache
    script = (
        "import sys\n"
        "from datacentric.project import Project\n"
        "from datacentric.model import train\n"
        f"with Project.open({str(colour_project.root)!r}) as p:\n"
        "    result = train(p)\n"
        "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))\n"
        "print(result.run.dir)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    imported, run_dir = done.stdout.split("\n")[:2]
    assert imported == "[]"
    oof_a, oof_b = np.load(first.run.dir / "oof.npz"), np.load(Path(run_dir) / "oof.npz")
    np.testing.assert_array_equal(oof_a["probs"], oof_b["probs"])


def test_a_probe_predicts_from_its_embeddings_as_its_torch_model_does(colour_project, tmp_path):
    run = train(colour_project).run
    new = write_image(tmp_path / "new.png", seed=99)  # not embedded yet
    broken, missing = tmp_path / "broken.png", tmp_path / "missing.png"
    broken.write_bytes(b"not an image")
    files = [*colour_project.dataset().paths[:3], new, broken, missing]
    probs, errors = load_classifier(run, cache_dir=colour_project.cache_dir).predict_files(files)
    assert sorted(errors) == [4, 5] and np.isnan(probs[4:]).all()
    torch_probs, torch_errors = load_classifier(run).predict_files(files)  # no cache: the torch model
    assert sorted(torch_errors) == [4, 5]
    assert {i: str(e) for i, e in errors.items()} == {i: str(e) for i, e in torch_errors.items()}
    np.testing.assert_allclose(probs[:4], torch_probs[:4], atol=1e-5)


def test_a_probe_predicts_cached_images_without_torch(colour_project):
    train(colour_project)
    script = (
        "import sys\n"
        "from datacentric.project import Project\n"
        "from datacentric.model import predict\n"
        f"with Project.open({str(colour_project.root)!r}) as p:\n"
        "    out = predict(p, p.dataset().paths)\n"
        "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules), len(out))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == f"[] {len(colour_project.dataset().paths)}"


def test_a_probe_answering_from_embeddings_refuses_other_backbone_weights(colour_project, tmp_path):
    run = train(colour_project).run
    _claim_other_weights(run)
    clf = load_classifier(run, cache_dir=colour_project.cache_dir)
    with pytest.raises(DatacentricError, match="not the ones this probe was trained on"):
        clf.predict_files(colour_project.dataset().paths[:2])
