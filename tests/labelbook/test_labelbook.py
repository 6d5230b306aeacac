"""The label book: canonical examples, borderline pairs, rules kept in the project, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.data.importers import import_path
from datacentric.labelbook import add_rule, build_labelbook, load_rules, render_labelbook
from datacentric.project import Project

CLASSES = ["ok", "minor", "defect"]


@pytest.fixture
def project(tmp_path):
    """18 images, 6 per class, labelled by mira (and bob on a few); a fake train run in which the
    model tells defect apart but is torn between ok and minor."""
    rows = ["file,label,annotator"]
    for c, name in enumerate(CLASSES):
        folder = tmp_path / "photos" / name
        folder.mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (24, 24), (60 * c + 10 * i, 90, 120)).save(folder / f"{name}{i}.png")
            if i < 2:
                other = "minor" if name == "ok" and i == 0 else name
                rows.append(f"photos/{name}/{name}{i}.png,{other},bob")
    (tmp_path / "bob.csv").write_text("\n".join(rows) + "\n")
    proj = Project.init(tmp_path / "parts", classes=CLASSES)
    import_path(proj, tmp_path / "photos", annotator="mira")
    import_path(proj, tmp_path / "bob.csv")
    data = proj.dataset()
    probs = np.full((len(data.ids), 3), 0.02)
    for row, (path, y) in enumerate(zip(data.paths, data.labels)):
        i = int(path.stem[-1])
        if y == 2:
            probs[row, 2] = 0.96
        else:  # ok and minor: the model's confidence falls with i, image 5 is predicted the other way
            probs[row, y] = 0.9 - 0.1 * i
            probs[row, 1 - y] = 0.98 - probs[row, y]
    run = proj.new_run("train", {"mode": "probe"})
    np.savez(
        run.dir / "oof.npz",
        ids=np.array(data.ids),
        labels=data.labels,
        probs=probs.astype(np.float32),
        classes=np.array(data.classes),
    )
    proj.finish_run(run, {"cv_accuracy": 0.8})
    yield proj
    proj.close()


def test_canonical_examples_are_agreed_and_surest_first(project):
    book = build_labelbook(project)
    ok = book.canonical["ok"]
    assert [e.image.split("/")[-1] for e in ok] == ["ok1.png", "ok2.png", "ok3.png", "ok4.png"]
    assert all(set(e.votes.values()) == {"ok"} for e in ok)  # ok0: bob said minor, not canonical
    assert len(book.canonical["defect"]) == 4


def test_the_confused_pair_shows_its_closest_calls_and_the_rule(project):
    book = build_labelbook(project)
    assert [(p.a, p.b) for p in book.borderline] == [("ok", "minor")]
    pair = book.borderline[0]
    assert pair.confused == 2 and pair.rule is None
    names = [e.image.split("/")[-1] for e in pair.examples]
    assert names[:2] == ["ok4.png", "ok5.png"] and "minor4.png" in names  # closest call first
    add_rule(project, "ok vs minor: a crack shorter than 5 mm is minor")
    add_rule(project, "minor vs ok: any visible crack is minor")
    book = build_labelbook(project)
    assert book.borderline[0].rule.text == "any visible crack is minor"  # the latest is in force
    assert len(load_rules(project)) == 2  # every version kept
    page = render_labelbook(book)
    assert "any visible crack is minor" in page and "<script" not in page and "http" not in page


@pytest.mark.parametrize(
    "text, message",
    [
        ("ok minor crack", "a rule reads"),
        ("ok vs scratch: long", "unknown class 'scratch'"),
        ("ok vs ok: same", "two different classes"),
        ("ok vs minor:   ", "a rule reads"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(project, text, message):
    with pytest.raises(DatacentricError, match=message):
        add_rule(project, text)
    assert not (project.root / "labelbook.json").exists()


def test_cli_writes_the_page_in_the_project_or_at_out(project, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["labelbook", str(project.root), "--rule", "ok vs minor: [b]cracks[/b]"])
    assert result.exit_code == 0, result.output
    assert "rule kept for ok vs minor" in result.output and "ok vs minor" in result.output
    page = (project.root / "labelbook.html").read_text()
    assert "[b]cracks[/b]" in page  # user text is data, not markup
    out = tmp_path / "book" / "lb.html"
    result = runner.invoke(app, ["labelbook", str(project.root), "--out", str(out), "--json"])
    assert result.exit_code == 0 and out.exists()
    assert json.loads(result.output)["labelbook"] == str(out)


def test_the_audit_quotes_the_rule_for_its_flagged_pair():
    from datacentric.audit import audit_arrays

    labels = np.repeat([0, 1], 20)
    probs = np.where(labels[:, None] == np.arange(2), 0.95, 0.05)
    probs[[0, 1, 2]] = [0.02, 0.98]  # three ok labels the model is sure are minor
    rule = {frozenset(("ok", "minor")): "any visible crack is minor"}
    without = audit_arrays(labels, probs, ["ok", "minor"], project="parts/")
    assert any("labelbook parts/ --rule 'minor vs ok: ...'" in s for s in without.next_steps)
    with_rule = audit_arrays(labels, probs, ["ok", "minor"], project="parts/", rules=rule)
    assert any("your rule: any visible crack is minor" in s for s in with_rule.next_steps)
