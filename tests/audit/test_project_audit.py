"""The project-level audit: reads a train run's oof.npz, writes an audit run, JSON and report."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from datacentric.audit import find_issues, load_audit
from datacentric.audit.trust import expected_words, flag_trust
from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.data.importers import import_path
from datacentric.project import Project

CLASSES = ["ok", "scratch", "pit"]
SCHEMA = {
    "label_issues": {"image", "given", "suggested", "quality", "is_issue"},
    "classes": {"name", "n", "label_quality", "precision", "recall", "weak", "too_few"},
    "slices": {"column", "value", "n", "accuracy", "weak"},
    "annotators": {"name", "n", "quality", "agreement"},
    "consensus": {"image", "label", "agreement"},
}


@pytest.fixture
def audited_project(tmp_path):
    """30 images (10 per class, one 'rare' image), 3 annotators (ana sloppy, tom partial),
    a camera column, and a fake train run whose probabilities know the truth."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    truth = np.array([0] * 12 + [1] * 12 + [2] * 12)
    colours = [(170, 170, 170), (50, 50, 170), (170, 50, 50)]
    given = truth.copy()
    given[[2, 15]] = [1, 2]  # two wrong labels by mira
    rows = ["file,label,annotator,camera"]
    for i, (t, g) in enumerate(zip(truth, given)):
        folder = photos / CLASSES[g]
        folder.mkdir(parents=True, exist_ok=True)
        arr = (np.array(colours[t]) + rng.integers(0, 60, (40, 40, 3))).clip(0, 255).astype("uint8")
        Image.fromarray(arr).save(folder / f"img{i:02d}.png")
        camera = "B" if i % 3 == 0 else "A"
        rows.append(
            f"photos/{CLASSES[g]}/img{i:02d}.png,{CLASSES[g]},tom,{camera}"
            if i % 4
            else f"photos/{CLASSES[g]}/img{i:02d}.png,{CLASSES[g]},ana,{camera}"
        )
        if i % 5 == 0:  # ana again, sloppy
            rows.append(f"photos/{CLASSES[g]}/img{i:02d}.png,{CLASSES[(g + 1) % 3]},ana,{camera}")
    (tmp_path / "extra.csv").write_text("\n".join(rows) + "\n")
    proj = Project.init(tmp_path / "parts", classes=CLASSES)
    import_path(proj, photos, annotator="mira")
    import_path(proj, tmp_path / "extra.csv")
    data = proj.dataset()
    by_name = {p.name: i for i, p in enumerate(data.paths)}
    index = [int(p.stem[3:]) for p in data.paths]
    t = truth[index]
    probs = np.full((len(t), 3), 0.05)
    probs[np.arange(len(t)), t] = 0.9
    run = proj.new_run("train", {"mode": "probe"})
    np.savez(
        run.dir / "oof.npz",
        ids=np.array(data.ids),
        labels=data.labels,
        probs=probs.astype(np.float32),
        classes=np.array(data.classes),
        folds=np.arange(len(t)) % 5,
    )
    proj.finish_run(run, {"cv_accuracy": 0.9})
    emb = np.eye(3)[t] * 5 + rng.normal(size=(len(t), 3)) * 0.3
    emb[by_name["img07.png"]] = emb[by_name["img08.png"]] + 1e-6  # near-duplicates
    yield proj, emb, data, t
    proj.close()


def test_find_issues_writes_run_json_and_report(audited_project):
    proj, emb, data, truth = audited_project
    result = find_issues(proj, embeddings=emb, min_slice=5)
    run = proj.latest_run("audit")
    assert run is not None and run.id == result.run_id and run.status == "done"
    stored = json.loads((run.dir / "audit.json").read_text())
    for key, fields in SCHEMA.items():
        assert stored[key], key
        assert fields <= set(stored[key][0]), key
    assert "outliers" in stored and "near_duplicates" in stored
    assert len(stored["label_issues"]) == len(data.ids)
    flagged = {issue["image"].rsplit("/", 1)[-1] for issue in stored["label_issues"] if issue["is_issue"]}
    assert {"img02.png", "img15.png"} <= flagged
    first = stored["label_issues"][0]
    assert first["is_issue"] and first["given"] != first["suggested"]
    assert first["quality"] == min(issue["quality"] for issue in stored["label_issues"])
    dup = stored["near_duplicates"][0]
    assert sorted(p.rsplit("/", 1)[-1] for p in dup["images"]) == ["img07.png", "img08.png"]
    assert dup["leaks_across_folds"] is True
    assert result.most_disagreeing == "ana"
    assert load_audit(proj)["label_issues"] == stored["label_issues"]
    report = (run.dir / "report.html").read_text()
    assert "img02.png" in report and "data:image/jpeg;base64," in report
    assert not re.search(r"(src|href)=\"https?://", report)  # self-contained


def test_relabelled_image_is_no_longer_flagged(audited_project):
    proj, emb, data, truth = audited_project
    proj.relabel("img02.png", "ok", by="lead", note="audit")
    result = find_issues(proj, embeddings=emb, report=False)
    flagged = {issue.image.rsplit("/", 1)[-1] for issue in result.flagged}
    assert "img02.png" not in flagged and "img15.png" in flagged
    assert any("changed since the train run" in n for n in result.notes)


def test_without_train_run_is_a_clear_error(tmp_path):
    proj = Project.init(tmp_path / "empty")
    with pytest.raises(DatacentricError, match="no trained model yet"):
        find_issues(proj)


def test_cli_audit_json_and_summary(audited_project, monkeypatch):
    proj, emb, data, truth = audited_project
    import datacentric.audit.from_project as core

    original = core.find_issues
    monkeypatch.setattr(core, "find_issues", lambda p, r=None, **kw: original(p, r, embeddings=emb, **kw))
    monkeypatch.setattr("datacentric.audit.find_issues", core.find_issues)
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    runner = CliRunner()
    out = runner.invoke(app, ["audit", str(proj.root), "--json"])
    assert out.exit_code == 0, out.output
    data_json = json.loads(out.stdout)
    assert set(SCHEMA) <= set(data_json)
    out = runner.invoke(app, ["audit", str(proj.root), "--open"])
    assert out.exit_code == 0, out.output
    assert "look mislabelled" in out.output and "report:" in out.output and "next:" in out.output
    assert opened and opened[0].startswith("file://") and opened[0].endswith("report.html")
    bad = runner.invoke(app, ["audit", str(proj.root), "--run", "nope"])
    assert bad.exit_code == 1 and "no run 'nope'" in bad.output


def test_default_audit_skips_a_challenger_that_left_the_golden_set_out(audited_project):
    proj, emb, data, truth = audited_project
    full = proj.latest_run("train")
    golden = data.ids[:5]
    challenger = proj.new_run("train", {"mode": "probe", "excluded": golden})
    keep = [i for i, image_id in enumerate(data.ids) if image_id not in golden]
    oof = dict(np.load(full.dir / "oof.npz"))
    np.savez(
        challenger.dir / "oof.npz",
        ids=oof["ids"][keep],
        labels=oof["labels"][keep],
        probs=oof["probs"][keep],
        classes=oof["classes"],
        folds=oof["folds"][keep],
    )
    proj.finish_run(challenger, {"cv_accuracy": 0.9})
    result = find_issues(proj, embeddings=emb, report=False)
    assert len(result.label_issues) == len(data.ids)  # the golden images are audited too
    assert proj.latest_run("audit").config["train_run"] == full.id


def test_reviews_of_earlier_flags_correct_how_many_flags_are_expected_real(audited_project):
    proj, emb, data, truth = audited_project
    first = find_issues(proj, embeddings=emb, report=False)
    assert any("not yet checked against any review" in line for line in first.summary)
    expected = next(s for s in first.summary if "look mislabelled" in s)
    assert expected_words(first.trust) in expected and "real errors (90% range" in expected
    assert first.counts["expected_real_errors"] == round(first.trust.expected, 1) and first.trust.reviews == 0
    flagged = first.flagged
    assert len(flagged) >= 2
    changed, confirmed = flagged[0], flagged[1]
    proj.relabel(changed.id, changed.suggested, by="lea")  # a real error
    proj.relabel(confirmed.id, confirmed.given, by="lea")  # a false alarm
    second = find_issues(proj, embeddings=emb, report=False)
    assert second.counts["flags_reviewed"] == 2 and second.counts["flags_reviewed_real"] == 1
    line = next(s for s in second.summary if "earlier flags a reviewer settled" in s)
    assert line.startswith(
        "1 of the 2 earlier flags a reviewer settled were real errors; today's forecast is corrected"
    )
    assert (second.trust.reviews, second.trust.reviews_real) == (2, 1)
    flagged_line = next(s for s in second.summary if "look mislabelled" in s)
    assert "corrected by 2 reviewed flags" in flagged_line
    chances = {i.id: i.expected_precision for i in first.flagged}  # what the first audit recorded
    again = [(chances[changed.id], True), (chances[confirmed.id], False)]
    any_two = flag_trust(np.array([0, 1]), np.eye(2), np.ones(2, dtype=bool), reviews=again)[0]
    assert second.trust.review_shift == pytest.approx(any_two.review_shift) != 0
    settled = {i.id: i for i in second.label_issues if i.id in (changed.id, confirmed.id)}
    assert all(i.reviewed and not i.is_issue for i in settled.values())  # a person decided: not asked again
    assert not any(i.reviewed for i in second.label_issues if i.id not in settled)
    from datacentric.audit.report import render_report

    least_certain = render_report(second).split("Least certain labels that were not flagged")[1]
    assert "settled by a reviewer" in least_certain  # the confirmed flag, low in quality, says why it is not raised


def test_labels_given_in_label_studio_before_any_flag_are_still_audited(audited_project):
    proj, emb, data, truth = audited_project
    labels = proj.labels()
    for image_id in data.ids:  # a team that labels everything in Label Studio: every label is a "review"
        proj.add_annotation(image_id=image_id, annotator="ls@team", label=labels[image_id], source="labelstudio")
    result = find_issues(proj, embeddings=emb, report=False)
    assert result.flagged and not any(i.reviewed for i in result.label_issues)  # no flag was settled: none hidden


def test_reviews_are_reported_when_no_flag_is_left(audited_project):
    proj, emb, data, truth = audited_project
    first = find_issues(proj, embeddings=emb, report=False)
    for issue in first.flagged:
        proj.relabel(issue.id, issue.given, by="lea")  # every flag confirmed: false alarms
    for issue in find_issues(proj, embeddings=emb, report=False).flagged:
        proj.relabel(issue.id, issue.given, by="lea")  # and whatever the consensus change raised
    last = find_issues(proj, embeddings=emb, report=False)
    assert not last.flagged
    assert last.counts["flags_reviewed"] >= len(first.flagged) and last.counts["flags_reviewed_real"] == 0
    line = next(s for s in last.summary if "earlier flags a reviewer settled" in s)
    assert line.endswith("were real errors.") and "today's" not in line


def test_review_outcomes_count_each_image_once_and_only_after_its_flag():
    from datacentric.audit.reviews import settled_flags

    flags = [("a", "ok", "2026-01-02"), ("b", "pit", "2026-01-02"), ("a", "ok", "2026-01-05")]
    reviews = [
        ("a", "pit", "2026-01-03"),  # before a's latest flag: does not settle it
        ("a", "ok", "2026-01-06"),  # confirmed: a false alarm
        ("b", "scratch", "2026-01-03"),
        ("b", "pit", "2026-01-04"),  # the first one counts
        ("c", "ok", "2026-01-03"),
    ]  # never flagged
    verdicts = settled_flags(flags, reviews)
    assert (len(verdicts), sum(verdicts.values())) == (2, 1)


def _edit_audit(run, edit) -> None:
    """Hand-edit a stored audit.json (what an older version or a person may have left)."""
    from datacentric.runs import read_audit, write_audit

    stored = read_audit(run)
    edit(stored)
    write_audit(run.dir, stored)


def test_hand_edited_chances_that_are_not_probabilities_settle_but_do_not_correct(audited_project):
    proj, emb, data, truth = audited_project
    first = find_issues(proj, embeddings=emb, report=False)
    flagged = first.flagged[:4]
    odd = {flagged[0].id: -1, flagged[1].id: 7, flagged[2].id: "0.5", flagged[3].id: True}

    def edit(stored):
        for issue in stored["label_issues"]:
            if issue.get("id") in odd:
                issue["expected_precision"] = odd[issue["id"]]

    _edit_audit(proj.latest_run("audit"), edit)
    for issue in flagged:
        proj.relabel(issue.id, issue.suggested, by="lea")
    second = find_issues(proj, embeddings=emb, report=False)
    assert second.counts["flags_reviewed"] == 4  # still settled and counted as measured
    assert (second.trust.reviews, second.trust.review_shift) == (0, 0.0)  # but no forecast correction


def test_an_image_flagged_twice_is_judged_by_the_chance_of_its_latest_flag(audited_project):
    proj, emb, data, truth = audited_project
    first = find_issues(proj, embeddings=emb, report=False)
    issue = first.flagged[0]

    def edit(stored):
        for stored_issue in stored["label_issues"]:
            if stored_issue.get("id") == issue.id:
                stored_issue["expected_precision"] = 0.001  # a stale chance from the older audit

    _edit_audit(proj.latest_run("audit"), edit)
    second = find_issues(proj, embeddings=emb, report=False)  # flags it again, with its own chance
    again = next(i for i in second.flagged if i.id == issue.id)
    proj.relabel(issue.id, issue.given, by="lea")  # a false alarm
    third = find_issues(proj, embeddings=emb, report=False)
    expected = flag_trust(
        np.array([0, 1]), np.eye(2), np.ones(2, dtype=bool), reviews=[(again.expected_precision, False)]
    )
    assert third.trust.reviews == 1 and third.trust.review_shift == pytest.approx(expected[0].review_shift)


def test_a_correction_is_fitted_to_the_chances_before_any_earlier_correction(audited_project):
    """An audit stores its chances after its own reviews shifted them; the next audit undoes that
    shift before it fits one shift to every review, so old corrections do not fade."""
    from datacentric.audit.trust import shifted

    proj, emb, data, truth = audited_project
    first = find_issues(proj, embeddings=emb, report=False)
    a, b = first.flagged[:2]
    proj.relabel(a.id, a.suggested, by="lea")
    second = find_issues(proj, embeddings=emb, report=False)
    assert second.trust.review_shift != 0
    c = second.flagged[0]
    proj.relabel(c.id, c.suggested, by="lea")
    raw = float(shifted(np.array([c.expected_precision]), -second.trust.review_shift)[0])
    third = find_issues(proj, embeddings=emb, report=False)
    reviews = [(a.expected_precision, True), (raw, True)]
    expected = flag_trust(np.array([0, 1]), np.eye(2), np.ones(2, dtype=bool), reviews=reviews)[0]
    assert third.trust.reviews == 2 and third.trust.review_shift == pytest.approx(expected.review_shift)


def test_the_report_says_what_the_forecast_rests_on(audited_project):
    from datacentric.audit.report import render_report

    proj, emb, data, truth = audited_project
    first = find_issues(proj, embeddings=emb, report=False)
    assert "no review has checked it yet" in render_report(first)
    proj.relabel(first.flagged[0].id, first.flagged[0].suggested, by="lea")
    second = find_issues(proj, embeddings=emb, report=False)
    html = render_report(second)
    assert second.flagged
    assert "The forecast rests on the model and 1 earlier flag a reviewer settled (a real error)" in html
    assert "corrected by 1 reviewed flag)" in " ".join(second.summary)


@pytest.mark.parametrize(
    ("plain", "grouped", "words"),
    [
        (0.7485, 0.744, "accuracy 0.74, where plain folds report 0.75 (+0.01 from photos of one part_id"),
        (0.7549, 0.7451, "accuracy 0.75, where plain folds report 0.75 (no leak measured)"),
        (0.70, 0.74, "accuracy 0.74, where plain folds report 0.70 (no leak measured)"),
    ],
)
def test_the_leak_line_says_what_its_printed_numbers_show(plain, grouped, words):
    from datacentric.audit.from_project import _note_grouping
    from datacentric.audit.result import AuditResult

    result = AuditResult([], [], [], [], [], [], [], summary=["first"])
    _note_grouping(result, {"ungrouped_cv_accuracy": plain, "cv_accuracy": grouped, "group_by": "part_id"})
    assert words in result.summary[1]
    silent = AuditResult([], [], [], [], [], [], [], summary=["first"])
    _note_grouping(silent, {"ungrouped_cv_accuracy": float("nan"), "cv_accuracy": grouped, "group_by": "part_id"})
    assert silent.summary == ["first"]
