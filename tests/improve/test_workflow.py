from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from datacentric.improve import improve_project
from tests.support.fakes import fake_cross_val


def test_improve_measures_fixes_on_real_rows_only(defect_project, fake_model, monkeypatch):
    from datacentric.improve import workflow

    calls = []

    def spy(X, y, **kw):
        calls.append((len(y), kw.get("extra_parent")))
        return fake_cross_val(X, y, **kw)

    monkeypatch.setattr(workflow, "_cross_val", lambda: spy)
    proj = defect_project
    n_real = len(proj.dataset("real"))
    # copy-paste only: its parents are the pit images it copies from (an installed
    # procedural plugin paints on ok images, whose parents are ok rows)
    result = improve_project(proj, classes=["pit"], budget=8, seeds=3, folds=3, generators=["copy_paste"])
    assert result.targets == ["pit"]
    names = [f.name for f in result.fixes]
    assert "augment:geometry:pit" in names and "synthetic:copy_paste:pit" in names
    # the lift runs score the real images only; generated ones only ever arrive as extra rows
    lift_calls = [c for c in calls if c[0] == n_real]
    assert len(lift_calls) >= 3 * (1 + len(names))
    pit_rows = set(np.flatnonzero(proj.dataset("real").labels == proj.classes().index("pit")))
    assert all(set(parent.tolist()) <= pit_rows for _, parent in calls if parent is not None)
    for fix in result.fixes:
        assert fix.seeds == 3 and set(fix.before.recall) == {"ok", "scratch", "pit"}
        assert fix.kept == (fix.name == result.kept.get("pit"))
    # kept images (if any) are tagged with their parent; the real set is untouched
    generated = proj.images(origin=None)
    extra = [r for r in generated if r.origin != "real"]
    assert len(extra) == result.materialised
    assert all(r.parent in set(proj.dataset("real").ids) and r.generator["run"] == result.run_id for r in extra)
    assert len(proj.dataset("real")) == n_real
    report = result.report.read_text()
    # every fix has its section, and generated images are shown tagged beside their real parent
    assert all(f"<h2>{name}</h2>" in report for name in names)
    assert "synthetic · " in report and "augmented · " in report and "real · pit_" in report
    assert "data:image/" in report and "http" not in report.split("<body>")[1]
    curve = report.split('id="learning-curve"')[1]
    assert "<svg" in curve and curve.count("<circle") >= 2 and "fitted curve" in curve  # the plot
    assert "real" in result.advice
    run = proj.run(result.run_id)
    assert run.kind == "improve" and run.status == "done"
    assert json.loads((run.dir / "improve.json").read_text())["targets"] == ["pit"]


def test_improve_saves_the_winning_recipe(defect_project, fake_model, monkeypatch):
    from datacentric.improve import Recipe, lift, workflow

    # force a verdict: every fix "helps", so the best augmentation is kept and its recipe saved
    monkeypatch.setattr(workflow, "measure_lift", _always_kept(lift.measure_lift))
    result = improve_project(defect_project, classes=["pit"], budget=4, seeds=2, folds=3, generators=[])
    assert result.kept == {"pit": "augment:geometry:pit"}
    assert len(result.recipes) == 1 and Recipe.load(result.recipes[0]).target == "pit"
    extra = [r for r in defect_project.images(origin=None) if r.origin != "real"]
    assert len(extra) == 4 and {r.origin for r in extra} == {"augmented"}
    assert {a.source for r in extra for a in defect_project.annotations(r.id)} == {"augmented"}


def _always_kept(real):
    def measure(*args, **kwargs):
        result = real(*args, **kwargs)
        result.kept = True
        result.gain["pit"] = 0.1
        return result

    return measure


def test_cli_improve_json_schema(defect_project, fake_model):
    from datacentric.cli import app

    root = defect_project.root
    defect_project.close()
    out = CliRunner().invoke(
        app, ["improve", str(root), "--class", "pit", "--budget", "4", "--seeds", "2", "--dry-run", "--json"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["targets"] == ["pit"] and isinstance(data["advice"], str) and data["materialised"] == 0
    for fix in data["fixes"]:
        assert fix["kind"] in ("augment", "synthetic") and fix["seeds"] == 2 and isinstance(fix["kept"], bool)
        assert set(fix["before"]) >= {"accuracy", "recall"} and set(fix["after"]["recall"]) == {"ok", "scratch", "pit"}


def test_cli_synth_and_unknown_class(defect_project):
    from datacentric.cli import app

    root = defect_project.root
    defect_project.close()
    out = CliRunner().invoke(app, ["synth", str(root), "--class", "pit", "--n", "3"])
    assert out.exit_code == 0, out.output
    assert "added 3 synthetic pit images" in out.output
    bad = CliRunner().invoke(app, ["synth", str(root), "--class", "crack", "--n", "3"])
    assert bad.exit_code == 1 and "unknown class 'crack'" in bad.output


def test_improve_makes_no_synthetic_images_of_the_defect_free_class(defect_project, fake_model):
    # pasting a defect on a part does not make an 'ok' part: only augmentation is tried for ok
    result = improve_project(defect_project, classes=["ok"], budget=4, seeds=2, folds=3, materialise=False)
    assert result.fixes and all(f.kind == "augment" for f in result.fixes)


def test_synthetic_defects_go_on_defect_free_parts_even_when_ok_is_a_target(defect_project, fake_model):
    from datacentric.improve import candidates

    made = []
    real_candidate = candidates.synth_candidate

    def spy(name, target, *args, **kwargs):
        cand = real_candidate(name, target, *args, **kwargs)
        made.append(cand)
        return cand

    proj = defect_project
    ok_ids = {r.id for r in proj.images() if proj.annotations(r.id)[0].label == "ok"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(candidates, "synth_candidate", spy)
        improve_project(
            proj, classes=["ok", "pit"], budget=4, seeds=2, folds=3, generators=["copy_paste"], materialise=False
        )
    assert {c.target for c in made} == {"pit"}
    # ok being a target too does not turn scratch images into the canvas for pits
    assert all(p["background"] in ok_ids for c in made for p in c.params)


def test_synth_refuses_the_defect_free_class(defect_project):
    from datacentric.errors import DatacentricError
    from datacentric.improve import synthesize

    with pytest.raises(DatacentricError, match="'ok' is the defect-free class"):
        synthesize(defect_project, "ok", 3)
    assert [r for r in defect_project.images(origin=None) if r.origin != "real"] == []


def test_improve_refuses_an_unknown_class_before_embedding_anything(defect_project, monkeypatch):
    from datacentric.errors import DatacentricError
    from datacentric.improve import workflow

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded images before checking the class names")

    monkeypatch.setattr(workflow, "_embed", no_embedding)
    with pytest.raises(DatacentricError, match="unknown class okk"):
        improve_project(defect_project, classes=["okk"], budget=4, seeds=2, folds=3)
    assert defect_project.latest_run("improve") is None


def test_improve_measures_on_the_folds_of_the_train_runs_groups(defect_project, fake_model, monkeypatch):
    from datacentric.improve import workflow

    seen = []

    def spy(X, y, **kw):
        seen.append(kw.pop("groups", None))
        return fake_cross_val(X, y, **kw)

    n = len(defect_project.dataset("real"))
    parts = [f"part{i // 2}" for i in range(n)]
    monkeypatch.setattr(workflow, "_cross_val", lambda: spy)
    monkeypatch.setattr(workflow, "_groups", lambda proj, data, X: parts)
    improve_project(
        defect_project, classes=["pit"], budget=4, seeds=2, folds=3, generators=["copy_paste"], materialise=False
    )
    full = [g for g in seen if g is not None and len(g) == n]
    assert seen and all(g is not None for g in seen)  # baseline, every fix and the learning curve
    assert full and all(g == parts for g in full)


def test_improve_groups_come_from_the_train_run(tmp_path):
    """The groups improve splits by are the ones the train run stored (its --group-by parts)."""
    from datacentric.data.importers import import_path
    from datacentric.improve import workflow
    from datacentric.model import train
    from datacentric.project import Project
    from tests.support.factories import TINY, make_images

    images = make_images(tmp_path / "photos", {"red": 6, "green": 6})
    proj = Project.init(tmp_path / "parts", backbone=TINY, seed=0)
    proj.config.image_size, proj.config.folds = 32, 3
    proj.save_config()
    import_path(proj, tmp_path / "photos", annotator="mira")
    rows = ["file,label,part_id"] + [
        f"{p},{label},{label}-{i // 2}" for label, paths in images.items() for i, p in enumerate(paths)
    ]
    (tmp_path / "parts.csv").write_text("\n".join(rows) + "\n")
    import_path(proj, tmp_path / "parts.csv", annotator="mira")
    train(proj, mode="probe", repeats=1, group_by="part_id")
    data = proj.dataset("real")
    assert workflow._groups(proj, data, None) == [m["part_id"] for m in data.metadata]
    proj.close()
