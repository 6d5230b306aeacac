"""Faults against a real server: wrong token, unreachable, project deleted, server stopping mid-sync."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.labelstudio import pull, push, push_tasks
from tests.support.files import store_rows

pytestmark = pytest.mark.labelstudio


def _store(proj):
    return (
        store_rows(proj.root, "SELECT * FROM annotations ORDER BY id"),
        store_rows(proj.root, "SELECT * FROM sync_links ORDER BY system, image_id"),
    )


def _choice(label):
    return [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}]


def test_wrong_token_is_one_clear_line_and_never_printed(small_project, ls_server, title, monkeypatch):
    with pytest.raises(DatacentricError, match="refused the API token \\(401"):
        push(small_project, ls_server.url, "not-the-token", title=title)
    secret = "wrong-token-1234567890"
    monkeypatch.setenv("MY_LS_TOKEN", secret)
    out = CliRunner().invoke(
        app,
        [
            "labelstudio",
            "push",
            str(small_project.root),
            "--url",
            ls_server.url,
            "--token-env",
            "MY_LS_TOKEN",
            "--project",
            title,
        ],
    )
    assert out.exit_code == 1
    assert "401" in out.output and secret not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_unreachable_server_fails_fast(small_project, title):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    start = time.monotonic()
    with pytest.raises(DatacentricError, match="cannot reach Label Studio"):
        push(small_project, f"http://127.0.0.1:{port}", "token", title=title)
    # no retry loop: one refused connection ends it (a retrying client would take minutes); the bound is loose
    # so that a loaded CI machine cannot fail it
    assert time.monotonic() - start < 60


def test_cli_round_trip_reads_the_token_from_the_environment(small_project, ls_server, title, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", ls_server.token)
    runner = CliRunner()
    out = runner.invoke(
        app, ["labelstudio", "push", str(small_project.root), "--url", ls_server.url, "--project", title, "--json"]
    )
    assert out.exit_code == 0, out.output
    assert '"tasks_created": 9' in out.output and ls_server.token not in out.output
    out = runner.invoke(app, ["labelstudio", "pull", str(small_project.root), "--json"])
    assert out.exit_code == 0, out.output
    assert '"added": 0' in out.output
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    out = runner.invoke(app, ["labelstudio", "pull", str(small_project.root)])
    assert out.exit_code == 1 and "set LABEL_STUDIO_API_KEY" in out.output


def test_project_deleted_on_the_server(small_project, ls_server, sdk, title):
    result = push(small_project, ls_server.url, ls_server.token, title=title)
    sdk.projects.delete(id=result.project_id)
    before = _store(small_project)
    with pytest.raises(DatacentricError, match="was deleted on the server"):
        pull(small_project, ls_server.token, url=ls_server.url)
    with pytest.raises(DatacentricError, match="was deleted on the server.*--recreate"):
        push(small_project, ls_server.url, ls_server.token, title=title)
    assert _store(small_project) == before
    fresh = push(small_project, ls_server.url, ls_server.token, title=title, recreate=True)
    assert fresh.project_id != result.project_id and fresh.tasks_created == 9


def test_server_stopping_mid_push_then_rerun_has_no_duplicates(small_project, sdk, outage, title, monkeypatch):
    monkeypatch.setattr(push_tasks, "TASK_BATCH", 3)
    real = push_tasks.import_batch
    calls = []

    def flaky(conn, pid, tasks):
        calls.append(len(tasks))
        if len(calls) == 2:  # the server commits the 2nd batch, then dies before answering
            real(conn, pid, tasks)
            outage.cut()
            with conn.errors():  # what the client sees: the connection dropped, no task ids
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return real(conn, pid, tasks)

    monkeypatch.setattr(push_tasks, "import_batch", flaky)
    with pytest.raises(DatacentricError, match="stopped responding mid-push"):
        push(small_project, outage.url, outage.token, title=title)
    outage.restore()
    monkeypatch.setattr(push_tasks, "import_batch", real)
    again = push(small_project, outage.url, outage.token, title=title)
    assert (again.tasks_created, again.tasks_existing) == (3, 6)
    tasks = list(sdk.tasks.list(project=again.project_id, fields="all", page_size=100))
    hashes = [t.data["image_hash"] for t in tasks]
    assert len(hashes) == len(set(hashes)) == 9


def test_server_stopping_mid_pull_changes_nothing_then_rerun_completes(
    small_project, sdk, users, outage, title, monkeypatch
):
    result = push(small_project, outage.url, outage.token, title=title)
    for task in list(sdk.tasks.list(project=result.project_id, fields="all", page_size=100))[:4]:
        sdk.annotations.create(id=task.id, result=_choice("scratch"), completed_by=users["bob"].id)
    before = _store(small_project)

    from label_studio_sdk.users.client import UsersClient

    real_list = UsersClient.list

    def dying_list(self, *args, **kwargs):  # the export was read; the server stops before the users are
        outage.cut()
        return real_list(self, *args, **kwargs)

    monkeypatch.setattr(UsersClient, "list", dying_list)
    with pytest.raises(DatacentricError, match="Label Studio"):
        pull(small_project, outage.token, url=outage.url)
    assert _store(small_project) == before
    monkeypatch.setattr(UsersClient, "list", real_list)
    outage.restore()
    done = pull(small_project, outage.token, url=outage.url)
    assert done.added == 4
    assert pull(small_project, outage.token, url=outage.url).added == 0
