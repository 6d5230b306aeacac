"""export_run and the `datacentric export` command on a trained project."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from datacentric import edge
from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.export import export_run
from datacentric.project import Project

runner = CliRunner()


def test_export_run_records_an_export_run_and_matches_torch(trained_root, tmp_path):
    from datacentric.export.measuring import _torch_bytes
    from datacentric.model import load_classifier

    with Project.open(trained_root) as proj:
        result = export_run(proj, int8=True, out=tmp_path / "m.onnx", force=True, repeats=1)
        run = proj.run(result.run_id)
        train_run = proj.latest_run("train")
        paths = [r.path for r in proj.images("real")]
        torch_labels = [
            train_run and load_classifier(train_run).classes[i]
            for i in load_classifier(train_run).predict_proba(paths).argmax(1)
        ]
    assert run.kind == "export" and run.status == "done"
    assert run.metrics["path"] == str(tmp_path / "m.onnx")
    assert [f["name"] for f in run.metrics["formats"]] == ["torch-fp32", "onnx-fp32", "onnx-int8"]
    assert (run.dir / "model.onnx").exists() and (run.dir / "model.int8.onnx").exists()
    assert result.path == (tmp_path / "m.onnx").resolve() and result.path.exists()
    assert result.train_run == train_run.id and result.n_images == 18
    # the model saw every labelled image: accuracy is on training images, and says so
    assert result.accuracy_on == "training" and result.cv_accuracy == pytest.approx(train_run.metrics["cv_accuracy"])
    # a probe run keeps only its head: torch-fp32 is the size of the model built from it
    assert result.format("torch-fp32").bytes == _torch_bytes(load_classifier(train_run).module) > 100_000
    fp32 = edge.OnnxClassifier(run.dir / "model.onnx").predict(paths)
    assert [p.label for p in fp32] == torch_labels
    assert result.format("onnx-fp32").agreement == 1.0


def test_images_added_after_training_are_the_holdout(trained_root, tmp_path):
    from PIL import Image

    from datacentric.data.importers import import_path

    extra = tmp_path / "later" / "red"
    extra.mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(2):
        pixels = np.clip(np.array([200, 40, 40]) + rng.normal(0, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(extra / f"late_{i}.png")
    work = tmp_path / "copy"
    import shutil

    shutil.copytree(trained_root, work)
    with Project.open(work) as proj:
        import_path(proj, tmp_path / "later", annotator="mira")
        result = export_run(proj, repeats=0)
    assert result.accuracy_on == "holdout" and result.n_accuracy == 2 and result.n_images == 20


def test_a_run_with_model_pt_from_before_probe_npz_still_exports(trained_root, tmp_path):
    """Back-compat: probe runs made before probe.npz hold a whole model.pt."""
    import shutil

    from datacentric.model import load_classifier, save_classifier

    work = tmp_path / "old"
    shutil.copytree(trained_root, work)
    with Project.open(work) as proj:
        train_run = proj.latest_run("train")
        clf = load_classifier(train_run, cache_dir=proj.cache_dir)
        save_classifier(
            clf.module,
            train_run.dir / "model.pt",
            classes=clf.classes,
            backbone=clf.backbone,
            data_config=clf.data_config,
            mode="probe",
        )
        (train_run.dir / "probe.npz").unlink()
        result = export_run(proj, repeats=0)
    assert result.format("torch-fp32").bytes == (train_run.dir / "model.pt").stat().st_size
    assert result.format("onnx-fp32").agreement == 1.0


def test_cli_export_json_has_the_issue_schema(trained_root, tmp_path):
    out = tmp_path / "cli.onnx"
    done = runner.invoke(app, ["export", str(trained_root), "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["path"] == str(out.resolve()) and out.exists()
    assert [f["name"] for f in data["formats"]] == ["torch-fp32", "onnx-fp32"]
    for row in data["formats"]:
        for key in ("bytes", "latency_ms_b1", "latency_ms_b16", "agreement", "max_prob_diff", "accuracy"):
            assert isinstance(row[key], (int, float)), key
    assert data["formats"][1]["agreement"] == 1.0


def test_cli_export_prints_a_table(trained_root):
    done = runner.invoke(app, ["export", str(trained_root)])
    assert done.exit_code == 0, done.output
    for text in ("torch-fp32", "onnx-fp32", "agreement", "accuracy", "wrote", "model.onnx", "trained on"):
        assert text in done.output, text


def test_cli_skip_torch_b16_leaves_that_cell_empty_and_says_so(trained_root):
    done = runner.invoke(app, ["export", str(trained_root), "--skip-torch-b16"])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "not timed: torch-fp32 at batch 16 (skipped on request, --skip-torch-b16)" in text
    with Project.open(trained_root) as proj:
        run = proj.runs("export")[-1]
    torch_row, onnx_row = run.metrics["formats"]
    assert torch_row["latency_ms_b1"] > 0 and torch_row["latency_ms_b16"] is None
    assert onnx_row["latency_ms_b16"] > 0  # only torch's batch of 16 is left out
    assert run.config["torch_b16"] is False


def test_cli_export_times_torch_b16_unless_asked_not_to(trained_root):
    done = runner.invoke(app, ["export", str(trained_root)])
    assert done.exit_code == 0, done.output
    assert "not timed" not in done.output
    with Project.open(trained_root) as proj:
        run = proj.runs("export")[-1]
    assert run.metrics["formats"][0]["latency_ms_b16"] > 0 and "torch_b16" not in run.config


def test_cli_int8_refusal_shows_the_table_and_the_kept_fp32_model(trained_root):
    done = runner.invoke(app, ["export", str(trained_root), "--int8", "--threshold", "1.01"])
    assert done.exit_code == 1
    assert "error: onnx-int8 model agrees with torch on" in done.output
    assert "points below the 101.0% threshold" in done.output and "Traceback" not in done.output
    with Project.open(trained_root) as proj:
        failed = proj.runs("export")[-1]
    assert failed.status == "failed" and failed.metrics["formats"][-1]["name"] == "onnx-int8"
    assert not (failed.dir / "model.int8.onnx").exists()
    text = " ".join(done.output.split())
    assert "torch-fp32" in text and "onnx-int8" in text and "agreement" in text  # the table
    fp32 = failed.dir / "model.onnx"
    assert fp32.is_file() and "kept: the fp32 ONNX model" in text and f"is at {fp32}" in text
    assert "--force would ship onnx-int8 anyway" in text
    assert text.index("--force would ship") < text.index("error:")  # the one-line error comes last


def test_no_train_run_names_datacentric_train(tmp_path):
    with Project.init(tmp_path / "empty") as proj:
        with pytest.raises(DatacentricError, match="datacentric train"):
            export_run(proj)
    done = runner.invoke(app, ["export", str(tmp_path / "empty")])
    assert done.exit_code == 1 and "datacentric train" in done.output


def test_unknown_format_and_wrong_run_kind_are_refused(trained_root):
    done = runner.invoke(app, ["export", str(trained_root), "--format", "tflite"])
    assert done.exit_code == 1 and "unknown format 'tflite'" in done.output
    with Project.open(trained_root) as proj:
        other = proj.new_run("audit")
        proj.finish_run(other, {})
        with pytest.raises(DatacentricError, match="not a train run"):
            export_run(proj, other.id)


def test_predict_with_model_needs_no_torch(trained_root, tmp_path):
    """`datacentric predict P imgs --model x.onnx` in a process where torch cannot be imported."""
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.no_torch import BLOCK_TORCH

    model = tmp_path / "edge.onnx"
    with Project.open(trained_root) as proj:
        export_run(proj, out=model, repeats=0)
        paths = [r.path for r in proj.images("real")]
        expected = {str(p.path): p.label for p in edge.OnnxClassifier(model).predict(paths)}
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    folder = paths[0].parent
    script = BLOCK_TORCH + (
        "import sys; from datacentric.cli import main; sys.argv = ['datacentric'] + sys.argv[1:]\n"
        "try:\n    main()\nfinally:\n    assert 'torch' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "predict",
            str(trained_root),
            str(folder),
            str(bad),
            "--model",
            str(model),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    got = {p["path"]: p["label"] for p in data["predictions"]}
    assert got[str(bad)] is None
    assert {k: v for k, v in got.items() if k != str(bad)} == {
        k: v for k, v in expected.items() if k.startswith(str(folder))
    }
    assert data["run"] == str(model)


def test_predict_with_missing_model_is_one_line(trained_root, tmp_path):
    done = runner.invoke(app, ["predict", str(trained_root), str(tmp_path), "--model", str(tmp_path / "none.onnx")])
    assert done.exit_code == 1 and "model file not found" in done.output
