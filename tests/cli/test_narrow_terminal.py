"""Output at 80 and 120 columns: paths and commands are never split (#14 item 8)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(columns: int, *args: object) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "datacentric", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_paths_and_next_commands_stay_whole(tmp_path, photos, columns):
    project = tmp_path / ("line_7_camera_B_" * 6) / "solar_cells_project"
    out = _run(columns, "init", project)
    lines = out.splitlines()
    assert any(f"created project {project} (backbone" in line for line in lines), out
    assert any(f"next: datacentric import {project} photos/" in line for line in lines), out
    out = _run(columns, "import", project, photos)
    assert any(f"new labels from {photos}" in line for line in out.splitlines()), out
    out = _run(columns, "relabel", project, "pit/pit_1.png", "scratch", "--by", "lead")
    assert "pit/pit_1.png: labelled scratch by lead; consensus is now scratch" in out, out


def _commands():
    from datacentric.cli import app, command_name

    for info in app.registered_commands:
        yield [command_name(info)], info.callback
    for group in app.registered_groups:
        for info in group.typer_instance.registered_commands:
            yield [group.name, command_name(info)], info.callback


@pytest.mark.parametrize("columns", [80, 120])
def test_help_keeps_usage_and_examples_whole(columns):
    from typer.testing import CliRunner

    from datacentric.cli import app

    for words, callback in _commands():
        out = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": str(columns)}).output
        usage = next(line for line in out.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage
        assert "<bool>" not in out, (words, out)  # a switch takes no value
        examples = [
            line.split("Example:")[-1].strip()
            for line in callback.__doc__.splitlines()
            if line.strip().startswith(("Example:", "datacentric "))
        ]
        for example in examples:
            assert any(example in line for line in out.splitlines()), (words, example, out)


def test_group_help_shows_switches_without_a_value():
    from typer.testing import CliRunner

    from datacentric.cli import app

    for words in ([], ["labelstudio"]):
        out = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "80"}).output
        assert "--help" in out and "<bool>" not in out, (words, out)


def test_help_prose_wraps_at_the_terminal_not_at_the_docstring():
    from typer.testing import CliRunner

    from datacentric.cli import app

    for words, _ in _commands():
        out = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "80"}).output
        text = out.split("╭")[0].splitlines()
        lines = [line.strip() for line in text]
        for line, after in zip(lines, lines[1:]):
            # a line of one or two words in the middle of a paragraph is an orphan of a hard wrap
            assert not (0 < len(line.split()) <= 2 and after and not line.startswith("Usage")), (words, line)


def test_sentences_wrap_at_words_on_a_terminal_and_commands_stay_whole(monkeypatch, capsys):
    from rich.console import Console

    from datacentric.cli import common

    text = (
        "Review the 20 flagged images of line_7_camera_B (worst first): datacentric labelstudio push "
        "parts/ --only-flagged — or fix one at a time: datacentric relabel parts/ IMAGE LABEL --by NAME"
    )
    terminal = Console(highlight=False, markup=False, soft_wrap=True, force_terminal=True, width=40)
    monkeypatch.setattr(common, "console", terminal)
    common.say(text)
    lines = capsys.readouterr().out.splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("datacentric ")]
    assert commands == [
        "datacentric labelstudio push parts/ --only-flagged",
        "datacentric relabel parts/ IMAGE LABEL --by NAME",
    ]
    assert all(len(line) <= 40 for line in lines if not line.strip().startswith("datacentric "))
    assert " ".join(" ".join(lines).split()) == text  # every word, in order
    monkeypatch.setattr(common, "console", Console(highlight=False, markup=False, soft_wrap=True, width=40))
    common.say(text)
    assert capsys.readouterr().out == f"  {text}\n"  # piped: one line per sentence
