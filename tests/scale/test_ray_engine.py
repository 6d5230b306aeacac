"""The Ray engine on a real local cluster: same vectors as local, resumable, one commit.

Runs inside a loopback-only network namespace (make test: scripts/loopback_only).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from datacentric.project import Project

from ._ray import RAY_OPTIONS, require_isolated_ray

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    require_isolated_ray()
    import os

    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", **RAY_OPTIONS)
    yield ray
    ray.shutdown()


def test_ray_vectors_are_bit_identical_to_local_torch_and_resume(cluster, scaled, tmp_path):
    """The default pretrained backbone: the vectors `datacentric embed --engine ray` stores
    are the bits the local engine computes."""
    from datacentric.model import embed
    from datacentric.scale import embed_images

    root, new = scaled
    with Project.open(root) as project:
        project.config.backbone = "tf_efficientnet_lite0"
        project.config.image_size = 0
        result = embed_images(project, new, engine="ray", batch_size=4)
        again = embed_images(project, new, engine="ray", batch_size=4)
        good = [p for p, i in zip(result.paths, result.ids) if i]
        stored = embed(good, cache_dir=project.cache_dir)  # read back from the Parquet parts
    assert result.embedded == 14 and list(result.errors) == [str(new / "broken.png")]
    assert again.embedded == 0 and again.already == 14 and again.job is None
    local = embed(good, cache_dir=None)
    assert np.array_equal(stored, local)


def test_a_ray_job_that_fails_leaves_the_store_as_it_was(cluster, scaled):
    from datacentric.errors import DatacentricError
    from datacentric.scale import embed_images

    root, new = scaled
    with Project.open(root) as project:
        parts_before = sorted((project.cache_dir / "embeddings").rglob("*.parquet"))
        jobs_before = project.embedding_jobs()
        with pytest.raises(DatacentricError, match="the Ray job failed"):
            embed_images(project, new, engine="ray", batch_size=4, statistics=_failing)
        assert sorted((project.cache_dir / "embeddings").rglob("*.parquet")) == parts_before
        assert project.embedding_jobs() == jobs_before


def _failing(images):
    raise RuntimeError("worker died")


def test_predict_and_drift_on_ray_match_the_local_engine(cluster, scaled, tmp_path):
    from datacentric.drift import check_drift
    from datacentric.scale import predict_images

    root, new = scaled
    with Project.open(root) as project:
        local = predict_images(project, new, tmp_path / "local.parquet", batch_size=4)
        remote = predict_images(project, new, tmp_path / "ray.parquet", engine="ray", batch_size=4)
        here = check_drift(project, new, n_permutations=200)
        there = check_drift(project, new, n_permutations=200, engine="ray")
    a = {r["path"]: r for r in pq.read_table(local.out).to_pylist()}
    b = {r["path"]: r for r in pq.read_table(remote.out).to_pylist()}
    assert a.keys() == b.keys() and len(a) == 15
    assert all(a[p]["label"] == b[p]["label"] and a[p]["error"] == b[p]["error"] for p in a)
    assert remote.counts == local.counts and len(remote.errors) == 1
    assert there.drift == here.drift and there.n == here.n == 14
    assert there.p_value == pytest.approx(here.p_value, abs=1e-6)
    assert [s["image"] for s in there.skipped] == [s["image"] for s in here.skipped]


def test_cli_embed_on_ray_prints_json(cluster, scaled):
    from datacentric.cli import app

    root, new = scaled
    done = CliRunner().invoke(app, ["embed", str(root), str(new), "--engine", "ray", "--json"])
    assert done.exit_code == 0, done.output
    document = json.loads(done.output)
    assert document["engine"] == "ray" and document["images"] == 15
    assert sum(document["nodes"].values()) == 15


def test_predict_on_ray_with_an_exported_onnx_model(cluster, scaled, tmp_path):
    from datacentric.export import export_model
    from datacentric.model.classifier import load_classifier
    from datacentric.scale import predict_images

    root, new = scaled
    with Project.open(root) as project:
        classifier = load_classifier(project.train_run())
        exported = export_model(
            classifier.module,
            classifier.classes,
            classifier.data_config,
            tmp_path / "export",
            paths=[r.path for r in project.images()][:6],
            force=True,
            repeats=1,
            threads=1,
            backbone=classifier.backbone,
        )
        here = predict_images(project, new, tmp_path / "here.parquet", model=exported.path)
        there = predict_images(
            project, new, tmp_path / "there.parquet", model=exported.path, engine="ray", batch_size=4
        )
    a = {r["path"]: r["label"] for r in pq.read_table(here.out).to_pylist()}
    b = {r["path"]: r["label"] for r in pq.read_table(there.out).to_pylist()}
    assert a == b and len(there.errors) == 1
