"""Helpers for the robustness suite: run the CLI, fingerprint the store, list stray files.

Every case here is one of issue #17's: a bad input or a fault must end in one line
(``error: ...``), a non-zero exit, and an unchanged store.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from tests.conftest import write_image

runner = CliRunner()

# @promise("F1", ...): the cases of README.md's "What we promise" that a test checks
# (test_readme.py holds the two in step).
promise = pytest.mark.promise


def invoke(*args: object):
    """Run the CLI in-process; returns click's Result (exit_code, output, stdout)."""
    return runner.invoke(app, [str(a) for a in args])


def store_digest(root: Path) -> str:
    """sha256 of the store file: equal before and after means byte-identical."""
    return hashlib.sha256((Path(root) / "datacentric.db").read_bytes()).hexdigest()


def assert_one_line_error(result, *needles: str) -> str:
    """A refusal: exit code != 0, no traceback, exactly one line starting ``error:``."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def files_under(root: Path) -> set[Path]:
    """Every file below ``root`` (to prove nothing was written outside a project)."""
    return {p for p in Path(root).rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def proj(tmp_path: Path, photos: Path) -> Path:
    """A project folder with the ``photos`` fixture (ok, pit, scratch; 4 each) imported."""
    root = tmp_path / "proj"
    assert invoke("init", root).exit_code == 0
    result = invoke("import", root, photos, "--annotator", "mira")
    assert result.exit_code == 0, result.output
    return root


def write_csv(path: Path, text: str) -> Path:
    """Write a CSV manifest next to the images it names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def two_images(tmp_path: Path) -> Path:
    """A folder ``shots/`` with a.png and b.png (distinct bytes)."""
    folder = tmp_path / "shots"
    write_image(folder / "a.png", seed=1001)
    write_image(folder / "b.png", seed=1002)
    return folder
