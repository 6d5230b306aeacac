"""U8, U9 (and S1 through Label Studio): reviewer labels are checked like any other label.

The server is replaced by a stand-in answering the three calls a pull makes, so the
rules run without Label Studio; tests/labelstudio covers the real server.
"""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from datacentric.errors import DatacentricError
from datacentric.labelstudio.links import system_name
from datacentric.labelstudio.pull_labels import _pull
from datacentric.project import Project, SyncLink
from tests.support.cli import promise
from tests.support.files import store_digest

URL = "http://ls.invalid"
PID = 7


class FakeServer:
    """The part of :class:`datacentric.labelstudio.client.Connection` that a pull uses."""

    def __init__(self, tasks: list[dict]) -> None:
        self.url = URL
        self.action = "pull"
        projects = SimpleNamespace(
            get=lambda id: SimpleNamespace(title="review"),
            exports=SimpleNamespace(as_json=lambda pid: tasks),
        )
        users = SimpleNamespace(list=lambda: [SimpleNamespace(id=1, email="rev@lab", username="rev")])
        self.sdk = SimpleNamespace(projects=projects, users=users)

    @contextmanager
    def errors(self, doing: str | None = None):
        yield


def _task(task_id: int, image_id: str, *labels: str) -> dict:
    annotations = [
        {
            "id": 100 * task_id + i,
            "completed_by": 1,
            "updated_at": f"2026-12-0{i + 1}",
            "result": [{"type": "choices", "from_name": "label", "value": {"choices": [label]}}],
        }
        for i, label in enumerate(labels)
    ]
    return {"id": task_id, "data": {"image_hash": image_id}, "annotations": annotations}


def _linked(root) -> tuple[Project, list[str]]:
    proj = Project.open(root)
    ids = [r.id for r in proj.images()]
    proj.save_sync_links(
        SyncLink(system_name(URL, PID), image_id, str(n + 1), {"title": "review"}) for n, image_id in enumerate(ids)
    )
    return proj, ids


@pytest.fixture
def fixed(tmp_path, photos):
    """A project with a fixed class list, its images linked to Label Studio tasks 1..12."""
    from datacentric.data.importers import import_path

    with Project.init(tmp_path / "fixed", classes=["ok", "pit", "scratch"]) as proj:
        import_path(proj, photos)
    proj, ids = _linked(tmp_path / "fixed")
    yield proj, ids
    proj.close()


@pytest.fixture
def open_list(tmp_path, photos):
    from datacentric.data.importers import import_path

    with Project.init(tmp_path / "open") as proj:
        import_path(proj, photos)
    proj, ids = _linked(tmp_path / "open")
    yield proj, ids
    proj.close()


@promise("U8")
def test_one_unknown_label_names_task_annotation_and_reviewer(fixed):
    proj, ids = fixed
    before = store_digest(proj.root)
    tasks = [_task(1, ids[0], "pit"), _task(2, ids[1], "dent")]
    with pytest.raises(DatacentricError) as caught:
        _pull(FakeServer(tasks), proj, PID)
    text = str(caught.value)
    assert "unknown label 'dent'" in text and "task 2, annotation 200 by rev@lab" in text
    assert "--skip-bad" in text
    assert store_digest(proj.root) == before


@promise("U8")
def test_skip_bad_pulls_the_rest_and_lists_what_it_left(fixed):
    proj, ids = fixed
    result = _pull(FakeServer([_task(1, ids[0], "pit"), _task(2, ids[1], "dent")]), proj, PID, skip_bad=True)
    assert result.added == 1 and len(result.refused) == 1 and "task 2" in result.refused[0]
    assert proj.labels()[ids[0]] == "pit"


@promise("S1", "U9")
@pytest.mark.parametrize("label", ["../../x/ESC", "a\x00b", "Pit"])
def test_a_hostile_reviewer_label_never_becomes_a_class(open_list, label):
    proj, ids = open_list
    before = store_digest(proj.root)
    with pytest.raises(DatacentricError, match="task 1, annotation 100 by rev@lab"):
        _pull(FakeServer([_task(1, ids[0], label)]), proj, PID)
    assert store_digest(proj.root) == before


@promise("U9")
def test_new_classes_from_reviewers_are_said(open_list):
    proj, ids = open_list
    tasks = [_task(1, ids[0], " dent "), _task(2, ids[1], "dent")]
    result = _pull(FakeServer(tasks), proj, PID, new_classes=True)
    assert result.new_classes == ["dent"] and "dent" in proj.classes()


def test_a_pulled_typo_is_refused_with_the_closest_class_unless_new_classes(open_list):
    proj, ids = open_list
    before = proj.annotations()
    with pytest.raises(DatacentricError, match="unknown label 'scrach' — did you mean 'scratch'"):
        _pull(FakeServer([_task(1, ids[0], "scrach")]), proj, PID)
    assert proj.annotations() == before and "scrach" not in proj.classes()


@promise("U8", "U9")
def test_the_pull_command_offers_skip_bad_and_prints_what_it_left_and_added(proj, monkeypatch):
    from datacentric.labelstudio import PullResult
    from tests.support.cli import invoke

    seen = {}

    def fake_pull(project, token, **options):
        seen.update(options)
        return PullResult(
            url=URL,
            project_id=PID,
            title="review",
            annotations_seen=2,
            annotations_new=1,
            added=1,
            changed=0,
            confirmed=0,
            new=1,
            consensus_changed=1,
            skipped=0,
            refused=["unknown label 'x' (task 2, annotation 200 by rev@lab)"],
            new_classes=["dent"],
        )

    import datacentric.labelstudio as labelstudio  # the command imports pull when it runs

    monkeypatch.setattr(labelstudio, "pull", fake_pull)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    result = invoke("labelstudio", "pull", proj, "--skip-bad")
    assert result.exit_code == 0 and seen["skip_bad"] is True
    text = " ".join(result.output.split())
    assert "warning: new classes from Label Studio reviewers: dent" in text
    assert "skipped unknown label 'x' (task 2, annotation 200 by rev@lab)" in text
