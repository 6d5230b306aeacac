"""The demo's scripted reviewer: true labels for the worst flags, then an audit that counts them."""

from __future__ import annotations

from pathlib import Path

from datacentric.audit import find_issues
from datacentric.data.importers import import_path
from datacentric.decisions import apply_decisions
from datacentric.demo.reviewer import REVIEWER, play_reviewer
from datacentric.model import train
from datacentric.project import Project
from tests.support.factories import TINY
from tests.support.files import read_rows


def test_the_reviewer_settles_the_worst_flags_and_the_next_audit_counts_them(demo, tmp_path):
    root = tmp_path / "parts"
    with Project.init(root, backbone=TINY, seed=0) as project:
        project.config.image_size = 32
        project.config.folds = 3
        project.save_config()
        import_path(project, demo.photos_dir, annotator="mira")
        import_path(project, demo.labels_csv)
        train(project, mode="probe", repeats=1)
        first = find_issues(project)
    flagged = [(Path(i.image).name, i.given) for i in first.flagged]
    assert len(flagged) >= 4

    out = tmp_path / "review.csv"
    settled = play_reviewer(root, demo.root, out, worst=4)

    truth = {Path(r["file"]).name: r["true_label"] for r in read_rows(demo.ground_truth_csv)}
    rows = read_rows(out)
    assert settled == len(rows) == 4
    assert [Path(r["file"]).name for r in rows] == [name for name, _ in flagged[:4]]  # worst first
    assert all(r["label"] == truth[Path(r["file"]).name] and r["annotator"] == REVIEWER for r in rows)
    real = sum(truth[name] != given for name, given in flagged[:4])

    with Project.open(root) as project:
        apply_decisions(project, out)
        second = find_issues(project)
    assert second.counts["flags_reviewed"] == 4
    assert second.counts["flags_reviewed_real"] == real
    assert (second.trust.reviews, second.trust.reviews_real) == (4, real)  # the forecast is corrected by them
    if second.flagged:
        assert any(line.startswith(f"{real} of the 4 earlier flags") for line in second.summary)


def test_the_demo_skips_relabel_when_there_is_no_flag_to_review(tmp_path, monkeypatch):
    from datacentric.cli import demo as demo_cli

    ran: list[str] = []
    monkeypatch.setattr(demo_cli, "_run", lambda args, root: ran.append(args[0]) or True)
    for settled, relabelled in ((0, False), (3, True)):
        ran.clear()
        monkeypatch.setattr(demo_cli, "_play_reviewer", lambda root, data, n=settled: n)
        demo_cli.demo(out_dir=tmp_path / f"demo{settled}", per_class=2, seed=0)
        assert ("relabel" in ran) is relabelled
        assert ran.count("audit") == 2 and ran[-1] == "retrain"
