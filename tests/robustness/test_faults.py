"""F1-F6: bad files, markup in names, read-only and full disks, bad settings, odd servers.

Each case ends in one ``error:`` line, a non-zero exit and a store left byte-identical.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from datacentric.errors import DatacentricError
from datacentric.data.images import load_image
from tests.support.factories import write_image
from tests.support.cli import assert_one_line_error, invoke, promise
from tests.support.files import store_digest, write_csv

TINY = "test_efficientnet@random"  # 99k-parameter random timm model, no weights needed


# -- F1: a decompression bomb -------------------------------------------------------------
@pytest.fixture
def bomb_limit(monkeypatch):
    """PIL's bomb limit lowered so a 64x64 picture counts as a bomb (a real one is 30000x30000)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)


@promise("F1")
def test_a_decompression_bomb_is_one_line_from_the_loader(tmp_path, bomb_limit):
    bomb = write_image(tmp_path / "bomb.png", seed=3, size=64)
    with pytest.raises(DatacentricError, match="image too large"):
        load_image(bomb)


@promise("F1")
def test_a_decompression_bomb_refuses_the_import_and_skip_bad_skips_it(tmp_path, proj, bomb_limit):
    folder = tmp_path / "in"
    write_image(folder / "ok" / "small.png", seed=70, size=8)
    write_image(folder / "ok" / "bomb.png", seed=71, size=64)
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, folder), "image too large", "bomb.png")
    assert store_digest(proj) == before
    result = invoke("import", proj, folder, "--skip-bad")
    assert result.exit_code == 0 and "skipped" in result.output and "bomb.png" in result.output


# -- F2: a CSV row with more fields than the header ------------------------------------------
@promise("F2")
def test_a_csv_row_with_too_many_fields_names_the_row(proj, two_images):
    manifest = write_csv(two_images / "m.csv", "file,label\na.png,ok\nb.png,pit,extra,more\n")
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, manifest), "4 fields, the header 2", "m.csv:3")
    assert store_digest(proj) == before


# -- F3: rich markup in names is printed as text, never parsed ---------------------------------
MARKUP = "[bold red]x[/bold red][/]"


@promise("F3")
def test_markup_in_paths_labels_and_notes_never_breaks_a_command(tmp_path, photos):
    root = tmp_path / f"proj {MARKUP}"
    assert invoke("init", root, "--classes", "ok,pit,scratch,[red]x[bold]").exit_code == 0
    folder = tmp_path / f"in {MARKUP}"
    shutil.copytree(photos, folder)
    write_image(folder / "[red]x[bold]" / f"{MARKUP}.png".replace("/", "_"), seed=80)
    result = invoke("import", root, folder, "--annotator", MARKUP)
    assert result.exit_code == 0, result.output
    assert MARKUP in _unwrapped(result)  # the source path, as typed
    status = invoke("status", root)
    assert status.exit_code == 0, status.output
    assert "[red]x[bold] 1" in _unwrapped(status) and "problem:" in status.output
    relabel = invoke("relabel", root, "ok_0.png", "[red]x[bold]", "--by", MARKUP, "--note", MARKUP)
    assert relabel.exit_code == 0 and MARKUP in _unwrapped(relabel)
    history = invoke("history", root, "ok_0.png")
    assert history.exit_code == 0 and _unwrapped(history).count(MARKUP) == 3  # two annotators, one note


def _unwrapped(result) -> str:
    """The output with rich's line wrapping undone (white space runs become one space)."""
    return " ".join(result.output.split())


# -- F4: a read-only project folder, a full disk ------------------------------------------------
def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    return None


@contextmanager
def tmpfs(where: Path, size: str):
    """A tiny tmpfs at ``where`` (unmounted afterwards, whatever happens)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> None:
    """Write a filler file until the disk is full."""
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    try:
        os.fsync(os.open(folder / "filler", os.O_RDONLY))
    except OSError:
        pass


def _small_project(root: Path, photos: Path) -> None:
    assert invoke("init", root, "--backbone", TINY).exit_code == 0
    assert invoke("import", root, photos).exit_code == 0


needs_mount = pytest.mark.skipif(_can_mount() is not None, reason=_can_mount() or "")


@promise("F4")
@needs_mount
def test_a_full_disk_gives_one_line_and_keeps_the_store(tmp_path, photos):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        root = disk / "p"
        _small_project(root, photos)
        extra = tmp_path / "more"
        write_image(extra / "ok" / "new.png", seed=90)
        _fill(disk)
        before = store_digest(root)
        for args in (
            ["relabel", root, "ok_0.png", "pit", "--by", "ann"],
            ["import", root, extra],
            ["train", root, "--folds", "2"],
        ):
            line = assert_one_line_error(invoke(*args))
            assert "full" in line and "no transaction is active" not in line, line
            assert store_digest(root) == before


@promise("F4")
@needs_mount
def test_a_read_only_project_gives_one_line(tmp_path, photos):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        root = disk / "p"
        _small_project(root, photos)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        before = store_digest(root)
        extra = tmp_path / "more"
        write_image(extra / "ok" / "new.png", seed=91)
        for args in (
            ["relabel", root, "ok_0.png", "pit", "--by", "ann"],
            ["import", root, extra],
            ["train", root, "--folds", "2"],
        ):
            line = assert_one_line_error(invoke(*args))
            assert "read-only" in line, line
        assert store_digest(root) == before


# -- F5: datacentric.toml with wrong types ---------------------------------------------------------
@promise("F5")
@pytest.mark.parametrize(
    "text, key",
    [
        ("classes = 5\n", "classes"),
        ('classes = []\nfolds = "abc"\n', "folds"),
        ("classes = []\nfolds = 1\n", "folds"),
        ("classes = []\nimage_size = -5\n", "image_size"),
        ('classes = []\nseed = "x"\n', "seed"),
        ("classes = []\nseed = true\n", "seed"),
        ("classes = []\nbackbone = 3\n", "backbone"),
        ('classes = ["a", 1]\n', "classes"),
        ('classes = ["a\\u0000b"]\n', "classes"),
    ],
)
def test_a_settings_value_of_the_wrong_type_names_its_key(tmp_path, text, key):
    root = tmp_path / "p"
    invoke("init", root)
    (root / "datacentric.toml").write_text(text, encoding="utf-8")
    assert_one_line_error(invoke("status", root), f"setting '{key}'", "datacentric.toml")


@promise("F5")
def test_a_binary_settings_file_is_one_line(tmp_path):
    root = tmp_path / "p"
    invoke("init", root)
    (root / "datacentric.toml").write_bytes(b"\xff\xfe\x00garbage\x89PNG")
    assert_one_line_error(invoke("status", root), "settings file")


@promise("U7")
def test_an_empty_settings_file_does_not_drop_the_class_list(tmp_path):
    """U7: the fixed class list used to vanish with an emptied file; now that is refused."""
    root = tmp_path / "p"
    invoke("init", root, "--classes", "ok,pit")
    (root / "datacentric.toml").write_text("", encoding="utf-8")
    assert_one_line_error(invoke("status", root), "'classes' is missing")


# -- F6 and U11: a server at --url that answers nonsense -------------------------------------------
@contextmanager
def junk_server(body: bytes):
    """An HTTP server answering every request with ``body`` as application/json."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@promise("F6")
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"null",
        b'"text"',
        b'{"id": 1, "email": "a", "username": "u"}',
        b'{"id": "x"}',
    ],
)
def test_malformed_json_from_the_server_is_one_line(proj, monkeypatch, body):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    before = store_digest(proj)
    with junk_server(body) as url:
        line = assert_one_line_error(invoke("labelstudio", "push", proj, "--url", url), url)
    assert "cannot be read" in line
    assert store_digest(proj) == before


@promise("U11")
def test_the_mid_sync_message_says_finished_work_is_kept():
    """U11: after a cut-off push the links of finished batches are kept; the message says so."""
    import httpx

    from datacentric.labelstudio.client import Connection

    conn = Connection("http://127.0.0.1:9", "token")
    try:
        with pytest.raises(DatacentricError) as caught, conn.errors("push"):
            raise httpx.RemoteProtocolError("server disconnected")
    finally:
        conn.close()
    assert "nothing half-done was kept" not in str(caught.value)
    assert "finished before is kept" in str(caught.value)


@promise("F3")
def test_a_progress_bar_about_a_markup_class_does_not_crash(monkeypatch):
    import io

    from rich.console import Console

    from datacentric import progress

    screen = io.StringIO()
    monkeypatch.setattr(progress, "_console", Console(file=screen, force_terminal=True, width=80))
    progress.set_enabled(True)
    try:
        assert list(progress.track([1, 2], "measuring fixes for [/]", total=2)) == [1, 2]
    finally:
        progress.set_enabled(False)
    assert "measuring fixes for [/]" in screen.getvalue()
