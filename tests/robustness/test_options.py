"""X4: option values out of range and folders that cannot be made end in one line
before any work starts (they used to end in ValueError, IndexError or RuntimeError)."""

from __future__ import annotations

import pytest

from datacentric.errors import DatacentricError
from datacentric.paths import copy_atomic
from datacentric.project import Project
from tests.support.cli import assert_one_line_error, invoke, promise
from tests.support.files import store_digest


@promise("X4")
@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "{p}", "--seed", "-1"], "--seed must be at least 0"),
        (["train", "{p}", "--folds", "0"], "--folds must be at least 2"),
        (["train", "{p}", "--folds", "1"], "--folds must be at least 2"),
        (["improve", "{p}", "--seeds", "0", "--dry-run"], "seeds must be at least 1"),
        (["improve", "{p}", "--budget", "0", "--dry-run"], "budget must be at least 1"),
        (["synth", "{p}", "--class", "pit", "--n", "0"], "n must be at least 1"),
        (["export", "{p}", "--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_an_option_out_of_range_is_one_line_and_changes_nothing(proj, args, needle):
    before = store_digest(proj)
    assert_one_line_error(invoke(*[a.format(p=proj) for a in args]), needle)
    assert store_digest(proj) == before
    assert not (proj / "runs").exists()


@promise("X4")
def test_a_project_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(invoke("init", tmp_path / "file" / "p"), "cannot create the project folder")
    assert_one_line_error(invoke("init", tmp_path / "p", "--seed", "-2"), "setting 'seed'")
    assert not (tmp_path / "p").exists()


@promise("X4")
@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_project_name_is_refused_not_taken_as_the_current_folder(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    for command in ("init", "status", "audit"):
        assert_one_line_error(invoke(command, name), "the project folder name is empty")
    with pytest.raises(DatacentricError, match="the project folder name is empty"):
        Project.init(name)
    assert list(tmp_path.iterdir()) == []


@promise("X4")
def test_an_out_path_that_cannot_be_written_is_one_error(tmp_path):
    (tmp_path / "file").write_text("x")
    source = tmp_path / "model.onnx"
    source.write_bytes(b"model")
    with pytest.raises(DatacentricError, match="cannot write here"):
        copy_atomic(source, tmp_path / "file" / "out.onnx")


@promise("X4")
def test_export_refuses_an_out_path_it_cannot_write_before_any_work(tiny_trained, tmp_path):
    trained_proj = tiny_trained.root
    (tmp_path / "file").write_text("x")
    before = store_digest(trained_proj)
    runs = sorted(p.name for p in (trained_proj / "runs").iterdir())
    for out, needle in ((tmp_path / "file" / "m.onnx", "cannot write here"), (tmp_path, "this is a folder")):
        assert_one_line_error(invoke("export", trained_proj, "--out", out), needle)
    assert store_digest(trained_proj) == before
    assert sorted(p.name for p in (trained_proj / "runs").iterdir()) == runs  # no export run started
