from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from datacentric.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_init_import_status_json(tmp_path, photos):
    proj = tmp_path / "p"
    assert invoke("init", proj).exit_code == 0
    result = invoke("import", proj, photos, "--annotator", "mira", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images_added"] == 12
    status = json.loads(invoke("status", proj, "--json").stdout)
    assert status["classes"] == {"ok": 4, "pit": 4, "scratch": 4}


def test_user_error_is_one_line_and_exit_1(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    (photos / "ok" / "bad.png").write_text("nope")
    result = invoke("import", proj, photos)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: import refused") and "bad.png" in lines[0]
    assert "Traceback" not in result.output


def test_open_missing_project_is_one_line(tmp_path):
    result = invoke("status", tmp_path / "nowhere")
    assert result.exit_code == 1 and result.output.startswith("error: project folder not found")


def test_relabel_and_history(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    result = invoke("relabel", proj, "pit/pit_1.png", "scratch", "--by", "lead", "--note", "thin line")
    assert result.exit_code == 0 and "consensus is now scratch" in result.output
    history = json.loads(invoke("history", proj, "pit/pit_1.png", "--json").stdout)
    assert [(h["annotator"], h["label"], h["previous"]) for h in history] == [
        ("mira", "pit", None),
        ("lead", "scratch", None),
    ]
    assert history[1]["note"] == "thin line"


def test_every_command_help_has_an_example():
    for name in ["init", "import", "status", "relabel", "history"]:
        result = invoke(name, "--help")
        assert result.exit_code == 0 and "Example" in result.output, name


def test_python_m_datacentric_help_runs_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "datacentric", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "import" in result.stdout


def test_help_lists_every_command_under_its_step_in_loop_order():
    from datacentric.cli import STEPS, command_name

    out = invoke("--help").output
    steps = [out.index(step) for step in STEPS]
    assert steps == sorted(steps)
    commands = [name for names in STEPS.values() for name in names]
    registered = {command_name(info) for info in app.registered_commands}
    assert registered | {"labelstudio"} == set(commands)
    positions = [out.index(f"│ {name} ") for name in commands]
    assert positions == sorted(positions)


def test_status_says_how_many_metadata_values_it_does_not_list(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    rows = [
        f"{label}/{label}_{i}.png,P{n:02d},{'AB'[n % 2]}"
        for n, (label, i) in enumerate((label, i) for label in ("ok", "pit", "scratch") for i in range(4))
    ]
    (photos / "parts.csv").write_text("file,part_id,camera\n" + "\n".join(rows) + "\n")
    assert invoke("import", proj, photos / "parts.csv").exit_code == 0
    lines = invoke("status", proj).stdout.splitlines()
    # a column a line, so the list reads at 80 columns
    assert "  metadata: camera (A, B)" in lines
    assert "            part_id (P00, P01, P02, P03, P04, P05, ... 12 values)" in lines


def test_bracketed_words_in_option_help_are_printed_not_eaten_as_markup():
    import re

    import typer

    group = typer.main.get_command(app)
    checked = 0
    for name, command in group.commands.items():
        wanted = [
            word.replace("\\[", "[")
            for param in command.params
            for word in re.findall(r"\w+\\?\[\w+\]", getattr(param, "help", None) or "")
        ]
        if wanted:
            output = runner.invoke(app, [name, "--help"], terminal_width=200, env={"COLUMNS": "200"}).output
            for word in wanted:
                assert word in output, (name, word)
                checked += 1
    assert checked  # `--engine` names the "datacentric[ray]" extra
