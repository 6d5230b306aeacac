"""Joining a cluster that is not there fails at once, in one line (no cluster is started)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datacentric.project import Project

from ._ray import require_isolated_ray

pytestmark = pytest.mark.ray


@pytest.mark.parametrize(
    "address, message",
    [
        ("127.0.0.1:1", "cannot reach the Ray head at 127.0.0.1:1"),
        ("nonsense", "not a Ray address"),
        ("auto", "Could not find any running Ray instance"),
    ],
)
def test_a_missing_cluster_is_one_line_and_exit_1(scaled, address, message):
    require_isolated_ray()
    import ray

    from datacentric.cli import app

    assert not ray.is_initialized()
    root, new = scaled
    done = CliRunner().invoke(app, ["embed", str(root), str(new), "--engine", "ray", "--address", address])
    assert done.exit_code == 1 and message in done.output
    assert len(done.output.strip().splitlines()) == 1
    assert not ray.is_initialized()
    with Project.open(root) as project:
        assert project.embedding_jobs() == []
