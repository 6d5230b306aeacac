"""Run the CLI in-process and check how it refuses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datacentric.cli import app

runner = CliRunner()


# @promise("F1", ...): the cases of README.md's "What we promise" that a test checks
# (test_readme.py holds the two in step).
promise = pytest.mark.promise


def invoke(*args: object):
    """Run the CLI in-process; returns click's Result (exit_code, output, stdout)."""
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *needles: str) -> str:
    """A refusal: exit code != 0, no traceback, exactly one line starting ``error:``."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
