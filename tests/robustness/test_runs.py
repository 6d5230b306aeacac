"""U10: a run whose process was killed (kill -9) is marked stale and shown apart."""

from __future__ import annotations

import json
import subprocess
import sys

from datacentric.project import Project
from tests.support.cli import invoke, promise

KILLED = """
import os, sys
from datacentric.project import Project
Project.open(sys.argv[1]).new_run("train")
os.kill(os.getpid(), 9)
"""


@promise("U10")
def test_a_killed_run_is_stale_and_status_shows_it_apart(proj):
    done = subprocess.run([sys.executable, "-c", KILLED, str(proj)], check=False)
    assert done.returncode == -9
    with Project.open(proj) as p:
        alive = p.new_run("audit")  # this process is alive: still running
        assert {r.kind: r.status for r in p.runs()} == {"train": "stale", "audit": "running"}
        assert p.run(alive.id).status == "running"
    status = json.loads(invoke("status", proj, "--json").stdout)
    assert status["runs"] == {"audit": 1} and status["stale_runs"] == {"train": 1}
    text = " ".join(invoke("status", proj).output.split())
    assert "stale runs (their process ended before they finished; ignored): train 1" in text


@promise("U10")
def test_a_run_from_before_owners_were_kept_stays_running(project):
    run = project.new_run("train")
    (run.dir / ".owner.json").unlink()
    assert project.run(run.id).status == "running"


def test_a_failed_run_is_counted_apart_in_status(proj):
    with Project.open(proj) as p:
        p.finish_run(p.new_run("train"), {}, status="failed")
        p.finish_run(p.new_run("audit"), {})
    status = json.loads(invoke("status", proj, "--json").stdout)
    assert status["runs"] == {"audit": 1} and status["failed_runs"] == {"train": 1}
    text = " ".join(invoke("status", proj).output.split())
    assert "failed runs (they stopped with an error; ignored): train 1" in text
