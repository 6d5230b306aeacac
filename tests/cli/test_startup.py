"""Store-only commands answer from SQLite alone: they load no numerical, network or validation library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from datacentric.cli import app

HEAVY = ["numpy", "PIL", "httpx", "pydantic", "cleanlab", "torch", "timm", "sklearn", "scipy", "onnxruntime"]

_PROBE = """
import json, sys
from datacentric.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
print(json.dumps({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}))
"""


def _modules_loaded(*args: str) -> dict:
    script = f"HEAVY = {HEAVY!r}\n" + _PROBE
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def project_dir(tmp_path, photos):
    runner = CliRunner()
    proj = tmp_path / "p"
    assert runner.invoke(app, ["init", str(proj)]).exit_code == 0
    assert runner.invoke(app, ["import", str(proj), str(photos), "--annotator", "mira"]).exit_code == 0
    return proj


@pytest.mark.parametrize("command", ["status", "history", "relabel", "--help"])
def test_store_only_commands_load_no_heavy_library(project_dir, command):
    args = {"relabel": ["relabel", str(project_dir), "ok/ok_0.png", "pit", "--by", "lea"], "--help": ["--help"]}.get(
        command, [command, str(project_dir)]
    )
    result = _modules_loaded(*args)
    assert result["code"] in (0, None)
    assert result["loaded"] == []


def test_batch_relabel_and_remove_images_load_no_heavy_library(project_dir, photos):
    decisions = project_dir.parent / "decisions.csv"
    decisions.write_text(f"file,label\n{photos}/ok/ok_1.png,pit\n")
    relabel = _modules_loaded("relabel", str(project_dir), "--from", str(decisions), "--by", "lea")
    remove = _modules_loaded("remove-images", str(project_dir), "ok_2.png", "--by", "lea")
    assert relabel == {"code": 0, "loaded": []} and remove == {"code": 0, "loaded": []}


def test_the_console_entry_point_spares_the_interpreter_a_last_gc_pass_at_exit():
    """``main`` freezes what is alive when a command ends, so shutdown does not walk it once more."""
    script = (
        "import gc, sys\n"
        "from datacentric.cli import main\n"
        "sys.argv = ['datacentric', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit_:\n"
        "    assert exit_.code in (0, None), exit_.code\n"
        "print(gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) > 1000
