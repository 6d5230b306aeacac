"""What commands write and print: whole files only, one line per history entry."""

from __future__ import annotations

import shutil
import stat

import pytest

from datacentric.paths import copy_atomic, write_atomic
from tests.support.factories import write_image
from tests.support.cli import invoke, promise


@promise("X2")
def test_a_new_line_in_a_file_name_keeps_history_one_line_per_label(tmp_path):
    root = tmp_path / "p"
    invoke("init", root)
    folder = tmp_path / "in"
    write_image(folder / "ok" / "two\nlines.png", seed=5)
    write_image(folder / "pit" / "plain.png", seed=6)
    assert invoke("import", root, folder, "--annotator", "a\nb").exit_code == 1  # a name holds no new line
    assert invoke("import", root, folder, "--annotator", "ab").exit_code == 0
    history = invoke("history", root)
    assert history.exit_code == 0
    lines = history.output.strip().splitlines()
    assert len(lines) == 2, history.output
    assert "two\\nlines.png" in lines[0] and "ab: ok" in lines[0]


@promise("X1")
def test_an_interrupted_copy_leaves_the_old_file_whole(tmp_path, monkeypatch):
    """export --out goes through copy_atomic: a kill mid-copy never truncates a good model."""
    target = tmp_path / "model.onnx"
    target.write_bytes(b"good model" * 1000)
    source = tmp_path / "new.onnx"
    source.write_bytes(b"new model" * 1000)

    def half_then_die(src, dst, *args):
        dst.write(src.read(100))
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfileobj", half_then_die)
    with pytest.raises(KeyboardInterrupt):
        copy_atomic(source, target)
    assert target.read_bytes() == b"good model" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "new.onnx"]  # no temp left
    monkeypatch.undo()
    copy_atomic(source, target)
    assert target.read_bytes() == b"new model" * 1000


@promise("X1")
def test_write_atomic_replaces_whole_files(tmp_path):
    path = write_atomic(tmp_path / "sub" / "a.json", "{}")
    assert path.read_text() == "{}"
    write_atomic(path, b"[1]")
    assert path.read_bytes() == b"[1]" and len(list(path.parent.iterdir())) == 1


@promise("X1")
def test_export_copies_to_out_atomically():
    """export writes --out through the atomic copy (export itself is tested elsewhere)."""
    import inspect

    from datacentric import export

    source = inspect.getsource(export.export_run)
    assert "copy_atomic(result.path, out)" in source and "copyfile(result.path" not in source


def test_atomic_writes_get_the_permissions_a_plain_write_would(tmp_path):
    plain = tmp_path / "plain.html"
    plain.write_text("x")
    atomic = write_atomic(tmp_path / "atomic.html", "x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
