"""The retrain gate: golden set fixed and stored, promote when not worse, keep when worse."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.retrain import champion_run, decide, golden_set, retrain


def test_no_model_yet_names_the_command(tiny_project):
    with pytest.raises(DatacentricError, match="datacentric train"):
        retrain(tiny_project)


def test_default_golden_set_is_stratified_stored_and_reused(tiny_trained):
    first = golden_set(tiny_trained)
    labels = tiny_trained.labels()
    assert len(first.ids) == 6  # 20% of 10 per class, 3 classes
    assert sorted(labels[i] for i in first.ids) == ["blue", "blue", "green", "green", "red", "red"]
    again = golden_set(tiny_trained)
    assert again.ids == first.ids and again.run_id == first.run_id


def test_golden_set_from_a_csv_file(tiny_trained, tmp_path):
    names = [r.path.name for r in tiny_trained.images()][:4]
    (tmp_path / "golden.csv").write_text("file\n" + "\n".join(names) + "\n")
    gold = golden_set(tiny_trained, tmp_path / "golden.csv")
    assert sorted(gold.ids) == sorted(tiny_trained.image(n).id for n in names)
    assert golden_set(tiny_trained).run_id == gold.run_id  # becomes the default
    (tmp_path / "bad.csv").write_text("file\nnot_there.png\n")
    with pytest.raises(DatacentricError, match="bad.csv:2"):
        golden_set(tiny_trained, tmp_path / "bad.csv")


def test_a_tie_with_no_new_labels_keeps_the_champion_and_says_why(tiny_trained):
    champion = champion_run(tiny_trained)
    decision = retrain(tiny_trained, repeats=1)
    assert abs(decision.delta) <= decision.tolerance and decision.label_changes == 0
    assert not decision.promoted and champion_run(tiny_trained).id == champion.id
    assert "no label changed since the champion" in decision.reason


def test_decide_never_promotes_a_lower_score_without_the_reason():
    assert decide(-0.2, 0.1, 5) == (False, "lower by 0.200, more than noise (±0.100)")
    promoted, why = decide(-0.05, 0.1, 3)
    assert promoted and why.startswith("lower by 0.050, within noise (±0.100)")
    assert "learned from 3 label changes" in why
    assert decide(0.2, 0.1, 0) == (True, "higher by 0.200, more than noise (±0.100)")
    assert not decide(-0.05, 0.1, 0)[0]


def test_new_labels_promote_then_broken_labels_keep_the_champion(tiny_trained):
    first_champion = champion_run(tiny_trained)
    gold = set(golden_set(tiny_trained).ids)
    image = next(r for r in tiny_trained.images() if r.id not in gold)
    label = tiny_trained.labels()[image.id]
    tiny_trained.relabel(image.id, label, by="lead", note="confirmed")
    confirmed = retrain(tiny_trained, repeats=1)  # a confirmed label is nothing new to learn
    assert confirmed.label_changes == 0 and not confirmed.promoted
    other = next(c for c in tiny_trained.classes() if c != label)
    tiny_trained.relabel(image.id, other, by="lead", note="was wrong")
    decision = retrain(tiny_trained, repeats=1)
    assert decision.promoted and decision.champion.run_id == first_champion.id
    assert decision.label_changes == 1
    assert decision.champion_after == decision.challenger.run_id
    assert champion_run(tiny_trained).id == decision.challenger.run_id
    assert decision.n_golden == 6
    run = tiny_trained.run(decision.run_id)
    assert run.kind == "retrain" and run.metrics["promoted"] is True

    # break the training labels (outside the golden set): every non-golden red image becomes green
    labels = tiny_trained.labels()
    for image in tiny_trained.images():
        if image.id not in gold and labels[image.id] == "red":
            tiny_trained.relabel(image.id, "green", by="saboteur")
    champion_before = champion_run(tiny_trained).id
    worse = retrain(tiny_trained, repeats=1)
    assert worse.challenger.accuracy < worse.champion.accuracy
    assert not worse.promoted and worse.champion_after == champion_before
    assert champion_run(tiny_trained).id == champion_before
    stored = json.loads((tiny_trained.run(worse.run_id).dir / "retrain.json").read_text())
    assert len(stored["images"]) == 6 and stored["promoted"] is False


def test_cli_prints_the_evidence(tiny_trained):
    out = CliRunner().invoke(app, ["retrain", str(tiny_trained.root)])
    assert out.exit_code == 0, out.output
    assert "challenger" in out.output and "champion" in out.output and "golden set (n=6)" in out.output
    verdict = next(line for line in out.output.splitlines() if "→" in line)
    assert "champion kept: same score, within noise" in verdict
    out = CliRunner().invoke(app, ["retrain", str(tiny_trained.root), "--json"])
    data = json.loads(out.stdout)
    assert {"promoted", "champion", "challenger", "delta", "tolerance", "mcnemar_p"} <= set(data)


def test_holdout_takes_whole_groups_stratified():
    import numpy as np

    from datacentric.retrain import holdout_groups

    labels = np.repeat([0, 1, 2], 30)
    groups = [f"part{i // 3}" for i in range(90)]  # three shots of each part
    ids = [f"img{i}" for i in range(90)]
    chosen = set(holdout_groups(ids, labels, groups, seed=0))
    for g in set(groups):
        inside = {ids[i] in chosen for i in range(90) if groups[i] == g}
        assert len(inside) == 1  # a part is wholly in or wholly out
    per_class = np.bincount([labels[ids.index(i)] for i in chosen], minlength=3)
    assert per_class.tolist() == [6, 6, 6]  # 20% of each class, in whole parts
    one_part = holdout_groups(ids[:6], labels[:6] * 0, ["a"] * 3 + ["b"] * 3, seed=0)
    assert len(one_part) == 3  # half the class at most: the second part stays in training


def test_golden_set_keeps_the_parts_the_champion_grouped(tiny_project, tmp_path):
    from datacentric.data.importers import import_path
    from datacentric.model import train

    records = sorted(tiny_project.images(), key=lambda r: r.path.name)
    rows = ["file,label,part_id"] + [f"{r.path},{tiny_project.labels()[r.id]},p{k // 2}" for k, r in enumerate(records)]
    (tmp_path / "parts.csv").write_text("\n".join(rows) + "\n")
    import_path(tiny_project, tmp_path / "parts.csv", annotator="mira")
    train(tiny_project, mode="probe", repeats=1, group_by="part_id")
    gold = set(golden_set(tiny_project).ids)
    part = {r.id: r.metadata["part_id"] for r in tiny_project.images()}
    golden_parts = {part[i] for i in gold}
    assert gold == {i for i, p in part.items() if p in golden_parts}  # both shots of a golden part
    assert len(gold) == 6
    decision = retrain(tiny_project)
    challenger = tiny_project.run(decision.champion_after if decision.promoted else decision.challenger.run_id)
    assert challenger.config["group_by"] == "part_id"  # the challenger splits the same way


def test_a_retrain_that_fails_while_scoring_leaves_the_champion_in_charge(tiny_trained, monkeypatch):
    from datacentric.retrain import gate

    champion = champion_run(tiny_trained).id

    def broken(*args, **kwargs):
        raise DatacentricError("image not found", "golden.png")

    monkeypatch.setattr(gate, "_score", broken)
    with pytest.raises(DatacentricError, match="image not found"):
        retrain(tiny_trained, repeats=1)
    failed = tiny_trained.runs("retrain")[-1]
    challenger = tiny_trained.runs("train")[-1]
    assert failed.status == "failed" and failed.metrics["challenger"] == challenger.id
    assert challenger.status == "done" and challenger.config["challenger_of"] == failed.id
    assert champion_run(tiny_trained).id == champion  # the ungated challenger never takes charge
    assert tiny_trained.champion().id == champion


def test_a_challenger_whose_retrain_was_killed_never_takes_charge(tiny_trained):
    from datacentric.model import train

    champion = champion_run(tiny_trained).id
    killed = tiny_trained.new_run("retrain", {})  # its process died before deciding: no metrics
    train(tiny_trained, mode="probe", repeats=1, challenger_of=killed.id)
    assert champion_run(tiny_trained).id == champion
    train(tiny_trained, mode="probe", repeats=1)  # a plain train always takes over
    assert champion_run(tiny_trained).id == tiny_trained.runs("train")[-1].id
