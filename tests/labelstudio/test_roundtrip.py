"""Round trip against a real Label Studio server: push, annotate as two users, pull."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from datacentric.labelstudio import pull, push, system_name

pytestmark = pytest.mark.labelstudio


def _tasks(sdk, pid):
    return sorted(sdk.tasks.list(project=pid, fields="all", page_size=100), key=lambda t: t.id)


def _choice(label):
    return [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}]


def test_push_makes_one_task_per_image_and_serves_the_image(small_project, ls_server, sdk, title):
    result = push(small_project, ls_server.url, ls_server.token, title=title)
    images = {r.id: r for r in small_project.images()}
    assert result.project_created and result.tasks_created == 9 and result.uploaded == 9
    tasks = _tasks(sdk, result.project_id)
    assert sorted(t.data["image_hash"] for t in tasks) == sorted(images)
    task = tasks[0]
    assert task.data["given"] == task.data["file"].split("_")[0]  # consensus label shown to the reviewer
    assert task.data["labels"].startswith("mira: ")
    served = httpx.get(ls_server.url + task.data["image"], headers={"Authorization": f"Token {ls_server.token}"})
    assert served.status_code == 200
    assert served.content == images[task.data["image_hash"]].path.read_bytes()
    config = sdk.projects.get(id=result.project_id).label_config
    assert all(f'<Choice value="{c}"/>' in config for c in small_project.classes())
    links = small_project.sync_links(system_name(ls_server.url, result.project_id))
    assert sorted(int(link.external_id) for link in links) == [t.id for t in tasks]

    again = push(small_project, ls_server.url, ls_server.token, title=title)
    assert (again.project_id, again.tasks_created, again.tasks_existing, again.uploaded) == (result.project_id, 0, 9, 0)
    assert len(_tasks(sdk, result.project_id)) == 9


def test_two_reviewers_round_trip_keeps_history(small_project, ls_server, sdk, users, title):
    result = push(small_project, ls_server.url, ls_server.token, title=title)
    by_file = {t.data["file"]: t for t in _tasks(sdk, result.project_id)}
    alice, bob = users["alice"], users["bob"]
    # alice confirms pit_0, relabels ok_0 as scratch; bob disagrees with her on ok_0
    sdk.annotations.create(id=by_file["pit_0.png"].id, result=_choice("pit"), completed_by=alice.id)
    fix = sdk.annotations.create(id=by_file["ok_0.png"].id, result=_choice("scratch"), completed_by=alice.id)
    sdk.annotations.create(id=by_file["ok_0.png"].id, result=_choice("ok"), completed_by=bob.id)
    rows_before = len(small_project.annotations())

    pulled = pull(small_project, ls_server.token, url=ls_server.url, title=title)
    assert (pulled.added, pulled.changed, pulled.confirmed, pulled.new) == (3, 1, 2, 0)
    assert pulled.annotators == sorted([alice.email, bob.email])
    assert len(small_project.annotations()) == rows_before + 3
    ok0 = small_project.image("ok_0.png").id
    current = small_project.current_labels()[ok0]
    assert current == {"mira": "ok", alice.email: "scratch", bob.email: "ok"}
    history = [(c.annotator, c.label, c.source) for c in small_project.history("ok_0.png")]
    assert history == [
        ("mira", "ok", "import"),
        (alice.email, "scratch", "labelstudio"),
        (bob.email, "ok", "labelstudio"),
    ]
    assert small_project.labels()[ok0] == "ok"  # reviewers tie: the latest review wins

    twice = pull(small_project, ls_server.token, url=ls_server.url, title=title)
    assert (twice.added, twice.annotations_new, twice.annotations_seen) == (0, 0, 3)
    assert len(small_project.annotations()) == rows_before + 3

    # bob changes his mind in Label Studio: the edit comes back, his old label stays in the history
    sdk.annotations.update(id=fix.id, result=_choice("pit"))
    edited = pull(small_project, ls_server.token, url=ls_server.url, title=title)
    assert (edited.added, edited.changed) == (1, 1)
    assert [c.label for c in small_project.history("ok_0.png") if c.annotator == alice.email] == ["scratch", "pit"]


def _fake_train_run(proj):
    data = proj.dataset()
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(data.classes)), size=len(data)).astype(np.float32)
    run = proj.new_run("train", {"mode": "probe"})
    np.savez(
        run.dir / "oof.npz", ids=np.array(data.ids), labels=data.labels, probs=probs, classes=np.array(data.classes)
    )
    proj.finish_run(run, {"cv_accuracy": 0.5})
    return run, dict(zip(data.ids, probs)), data.classes


def _fake_audit_run(proj, flagged):
    run = proj.new_run("audit", {})
    issues = [
        {"image": image_id, "given": given, "suggested": suggested, "quality": q, "is_issue": True}
        for image_id, given, suggested, q in flagged
    ]
    issues.append({"image": proj.images()[0].id, "given": "ok", "suggested": "ok", "quality": 0.9, "is_issue": False})
    (run.dir / "audit.json").write_text(json.dumps({"label_issues": issues}))
    proj.finish_run(run, {})
    return run


def test_prelabels_and_flags_sort_first_without_duplicates(small_project, ls_server, sdk, title):
    proj = small_project
    run, probs, classes = _fake_train_run(proj)
    pit1, scratch2 = proj.image("pit_1.png").id, proj.image("scratch_2.png").id
    audit = _fake_audit_run(proj, [(pit1, "pit", "scratch", 0.30), (scratch2, "scratch", "ok", 0.05)])

    result = push(proj, ls_server.url, ls_server.token, title=title)
    assert (result.model_version, result.audit_run, result.flagged) == (run.id, audit.id, 2)
    assert result.predictions_added == 9
    tasks = _tasks(sdk, result.project_id)
    assert [t.data["image_hash"] for t in tasks[:2]] == [scratch2, pit1]  # worst label quality first
    assert (tasks[0].data["flag"], tasks[0].data["given"], tasks[0].data["suggested"]) == (
        "label issue",
        "scratch",
        "ok",
    )
    assert tasks[0].meta["datacentric"]["flag"]["rank"] == 1
    assert all(t.data["flag"] == "" for t in tasks[2:])
    for task in tasks:
        (pred,) = task.predictions
        expected = probs[task.data["image_hash"]]
        assert pred.model_version == run.id
        assert pred.score == pytest.approx(float(expected.max()), abs=1e-5)
        assert pred.result[0]["value"]["choices"] == [classes[int(expected.argmax())]]

    again = push(proj, ls_server.url, ls_server.token, title=title)
    assert (again.tasks_created, again.predictions_added) == (0, 0)
    assert [len(t.predictions) for t in _tasks(sdk, result.project_id)] == [1] * 9

    only = push(proj, ls_server.url, ls_server.token, title=title + " flagged", only_flagged=True)
    assert [t.data["image_hash"] for t in _tasks(sdk, only.project_id)] == [scratch2, pit1]


def test_push_puts_the_label_book_rules_in_the_instructions(small_project, ls_server, sdk, title):
    from datacentric.labelbook import add_rule

    add_rule(small_project, "pit vs scratch: longer than 2 mm is a scratch")
    result = push(small_project, ls_server.url, ls_server.token, title=title)
    assert result.rules == 1
    info = sdk.projects.get(id=result.project_id)
    assert "<b>pit vs scratch</b>: longer than 2 mm is a scratch" in info.expert_instruction
    assert info.show_instruction is True
    sdk.projects.update(id=result.project_id, expert_instruction="<p>Zoom in first.</p>\n" + info.expert_instruction)
    add_rule(small_project, "scratch vs pit: longer than 3 mm is a scratch")  # the newer rule wins
    push(small_project, ls_server.url, ls_server.token, title=title)
    text = sdk.projects.get(id=result.project_id).expert_instruction
    assert text.startswith("<p>Zoom in first.</p>")  # the team's own instructions are kept
    assert "longer than 3 mm" in text and "longer than 2 mm" not in text
