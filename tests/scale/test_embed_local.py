"""`embed` and `predict --out` on the local engine: the same workers the Ray engine runs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.project import Project
from datacentric.scale import embed_images, predict_images


def test_embed_stores_every_readable_image_once_and_reports_the_broken_one(scaled):
    root, new = scaled
    with Project.open(root) as project:
        first = embed_images(project, new, batch_size=4)
        again = embed_images(project, new, batch_size=4)
        jobs = project.embedding_jobs()
    assert first.embedded == 14 and first.already == 0
    assert list(first.errors) == [str(new / "broken.png")]
    assert "not an image" in first.errors[str(new / "broken.png")]
    assert again.embedded == 0 and again.already == 14 and again.job is None
    assert [job["id"] for job in jobs] == [first.job]
    assert jobs[0]["embedded"] == 14 and jobs[0]["errors"] == 1


def test_stored_vectors_equal_the_local_embed_function(scaled):
    from datacentric.model import embed

    root, new = scaled
    with Project.open(root) as project:
        result = embed_images(project, new, batch_size=4)
        good = [p for p, i in zip(result.paths, result.ids) if i]
        from_store = embed(good, backbone=project.config.backbone, cache_dir=project.cache_dir, image_size=32)
    fresh = embed(good, backbone=project.config.backbone, cache_dir=None, image_size=32)
    assert np.array_equal(from_store, fresh)


@pytest.mark.parametrize("runtime, kind", [("onnxruntime", "ndarray"), ("torch", "Tensor")])
def test_the_workers_preprocess_as_the_local_embed_does(runtime, kind):
    """numpy on the ONNX Runtime path (no torch threads beside ONNX Runtime's), torch's transform for torch."""
    from PIL import Image

    from datacentric.scale.workers import Embedder, EmbedSpec
    from tests.support.factories import TINY

    worker = Embedder(EmbedSpec(TINY, image_size=32, pretrained=False, runtime=runtime))
    pixels = worker.transform(Image.new("RGB", (40, 30), (200, 40, 40)))
    assert type(pixels).__name__ == kind and tuple(pixels.shape) == (3, 32, 32)


def test_a_job_that_fails_before_its_commit_leaves_the_store_as_it_was(scaled, tmp_path):
    from tests.support.factories import write_images

    root, _ = scaled
    fresh = write_images(tmp_path / "more", {"x": (10, 200, 200)}, 9, seed=77)
    calls = []

    def failing_statistics(images):
        calls.append(len(images))
        if len(calls) == 2:
            raise RuntimeError("worker died")
        return np.zeros((len(images), 1))

    with Project.open(root) as project:
        store_before = sorted(p.name for p in (project.cache_dir / "embeddings").rglob("*.parquet"))
        jobs_before = project.embedding_jobs()
        with pytest.raises(RuntimeError, match="worker died"):
            embed_images(project, fresh, batch_size=4, statistics=failing_statistics)
        assert sorted(p.name for p in (project.cache_dir / "embeddings").rglob("*.parquet")) == store_before
        assert project.embedding_jobs() == jobs_before
        assert not [job for p in (project.cache_dir / "embeddings").glob("*/staging") for job in p.iterdir()]
        done = embed_images(project, fresh, batch_size=4)  # a re-run does the whole job
    assert done.embedded == 9


def test_unknown_engine_is_refused_in_one_line(scaled):
    root, new = scaled
    with Project.open(root) as project, pytest.raises(DatacentricError, match="unknown engine 'spark'"):
        embed_images(project, new, engine="spark")


def test_a_run_without_a_model_file_is_refused_in_one_line(scaled, tmp_path):
    from types import SimpleNamespace

    from datacentric.scale.predict import predict_probs

    _, new = scaled
    empty_run = tmp_path / "runs" / "train-0"
    empty_run.mkdir(parents=True)
    with pytest.raises(DatacentricError, match="this run has no model") as info:
        predict_probs(SimpleNamespace(dir=empty_run), sorted(new.iterdir())[:2])
    assert str(empty_run) in str(info.value)


def test_predict_out_writes_one_row_per_file(scaled, tmp_path):
    from datacentric.model import predict

    root, new = scaled
    out = tmp_path / "predictions.parquet"
    with Project.open(root) as project:
        result = predict_images(project, new, out, batch_size=4)
        local = {str(p.path): p for p in predict(project, new)}
    table = pq.read_table(out).to_pylist()
    assert result.n == 15 and len(table) == 15
    rows = {row["path"]: row for row in table}
    assert rows[str(new / "broken.png")]["error"] and rows[str(new / "broken.png")]["label"] is None
    for path, prediction in local.items():
        if prediction.error:
            continue
        assert rows[path]["label"] == prediction.label
        assert rows[path]["probability"] == pytest.approx(prediction.probability, abs=1e-5)
    assert sum(result.counts.values()) == 14


def test_cli_embed_json_and_predict_errors(scaled, tmp_path):
    root, new = scaled
    runner = CliRunner()
    done = runner.invoke(app, ["embed", str(root), str(new), "--json"])
    assert done.exit_code == 0, done.output
    document = json.loads(done.output)
    assert document["images"] == 15 and document["engine"] == "local" and len(document["errors"]) == 1
    refused = runner.invoke(app, ["predict", str(root), str(new), "--engine", "ray"])
    assert refused.exit_code == 1 and "add --out predictions.parquet" in refused.output
    wrong = runner.invoke(app, ["predict", str(root), str(new), "--out", str(tmp_path / "p.csv")])
    assert wrong.exit_code == 1 and ".parquet" in wrong.output
    assert not (tmp_path / "p.csv").exists()


def test_predict_out_runs_an_exported_onnx_model_too(scaled, tmp_path):
    from datacentric.export import export_model
    from datacentric.model.classifier import load_classifier

    root, new = scaled
    with Project.open(root) as project:
        classifier = load_classifier(project.train_run())
        photos = [r.path for r in project.images()]
        exported = export_model(
            classifier.module,
            classifier.classes,
            classifier.data_config,
            tmp_path / "export",
            paths=photos[:6],
            force=True,
            repeats=1,
            threads=1,
            backbone=classifier.backbone,
        )
        torch_out = predict_images(project, new, tmp_path / "torch.parquet", batch_size=4)
        onnx_out = predict_images(project, new, tmp_path / "onnx.parquet", batch_size=4, model=exported.path)
    assert onnx_out.run == str(exported.path) and onnx_out.classes == torch_out.classes
    a = {r["path"]: r for r in pq.read_table(torch_out.out).to_pylist()}
    b = {r["path"]: r for r in pq.read_table(onnx_out.out).to_pylist()}
    assert a.keys() == b.keys()
    for path in a:
        assert a[path]["label"] == b[path]["label"]
        if a[path]["probability"] is not None:
            assert b[path]["probability"] == pytest.approx(a[path]["probability"], abs=1e-3)


PROBE_WORKER = """
import sys
import numpy as np
from pathlib import Path
from datacentric.scale.workers import ProbePredictor
package, files = Path(sys.argv[1]).read_bytes(), sys.argv[2:]
rows = ProbePredictor(package)({"path": files, "bytes": [Path(f).read_bytes() for f in files]})
np.save(sys.argv[1] + ".npy", rows["probs"])
print("torch" in sys.modules, "timm" in sys.modules)
"""


def test_a_probe_run_travels_to_workers_as_its_onnx_backbone_and_head(scaled, tmp_path):
    """A worker (a Ray node) predicts a probe run without torch, as local predict does."""
    import subprocess
    import sys

    from datacentric.model import predict
    from datacentric.scale.predict import _run_worker
    from datacentric.scale.workers import Predictor, ProbePredictor

    root, new = scaled
    files = sorted(p for p in new.iterdir() if p.name != "broken.png")[:5]
    with Project.open(root) as project:
        worker, package = _run_worker(project.train_run(), project.cache_dir)
        local = np.array([list(p.probs.values()) for p in predict(project, files)])
        bare = tmp_path / "empty-cache"
        bare.mkdir()
        assert _run_worker(project.train_run(), bare)[0] is Predictor  # no exported backbone: torch
    assert worker is ProbePredictor
    (tmp_path / "package.npz").write_bytes(package)
    done = subprocess.run(
        [sys.executable, "-c", PROBE_WORKER, str(tmp_path / "package.npz"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
    np.testing.assert_allclose(np.load(tmp_path / "package.npz.npy"), local, atol=1e-5)
