"""The README's first command ends in `datacentric demo`: it must run the whole loop."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.project import Project


@pytest.mark.slow
def test_demo_runs_every_step_end_to_end(tmp_path):
    result = CliRunner().invoke(app, ["demo", str(tmp_path / "demo"), "--per-class", "8"])
    assert result.exit_code == 0, result.output
    for command in ["init", "import", "status", "train", "audit", "improve", "export", "predict", "drift", "retrain"]:
        assert f"$ datacentric {command}" in result.output, command
    with Project.open(tmp_path / "demo" / "project") as proj:
        kinds = {run.kind for run in proj.runs() if run.status == "done"}
        assert {"train", "audit", "improve", "export", "drift", "retrain"} <= kinds
        assert len(proj.images()) == 40
    assert (tmp_path / "demo" / "model.onnx").is_file()


def test_demo_refuses_a_folder_that_holds_other_files(tmp_path):
    from tests.support.cli import assert_one_line_error, invoke

    mine = tmp_path / "work" / "project" / "my_labels.csv"
    mine.parent.mkdir(parents=True)
    mine.write_text("file,label\n")
    assert_one_line_error(invoke("demo", tmp_path / "work"), "holds other files")
    assert mine.read_text() == "file,label\n"  # the demo clears project/ only in a folder it made
