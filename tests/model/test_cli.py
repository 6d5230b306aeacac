"""`datacentric train` and `datacentric predict` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from datacentric.cli import app

runner = CliRunner()


def test_train_json_then_predict(colour_project, images, tmp_path: Path):
    root = str(colour_project.root)
    out = runner.invoke(app, ["train", root, "--json", "--seed", "1"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {"run", "backbone", "cv_accuracy", "per_class", "seconds"} <= set(data)
    assert set(data["per_class"]["red"]) >= {"precision", "recall", "n"}
    assert data["per_class"]["red"]["n"] == 8 and 0 <= data["cv_accuracy"] <= 1

    table = runner.invoke(app, ["train", root])
    assert table.exit_code == 0, table.output
    assert "precision" in table.stdout and "accuracy" in table.stdout and "±" in table.stdout

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    pred = runner.invoke(app, ["predict", root, str(images["red"][0]), str(bad), "--run", data["run"], "--json"])
    assert pred.exit_code == 0, pred.output
    got = json.loads(pred.stdout)
    assert got["run"] == data["run"]
    assert got["predictions"][0]["label"] == "red" and got["predictions"][1]["error"]

    text = runner.invoke(app, ["predict", root, str(images["blue"][0])])
    assert text.exit_code == 0 and "blue" in text.stdout


def test_cli_errors_are_one_line(colour_project):
    out = runner.invoke(app, ["predict", str(colour_project.root), str(colour_project.root)])
    assert out.exit_code == 1
    out = runner.invoke(app, ["train", str(colour_project.root), "--mode", "magic"])
    assert out.exit_code == 1 and "unknown mode" in out.output
    out = runner.invoke(app, ["train", str(colour_project.root), "--backbone", "resnet18"])
    assert out.exit_code == 1 and "DATACENTRIC_ONLINE" in out.output
