"""``relabel --from decisions.csv``: many decisions in one transaction, each kept in the history."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.project import Project

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _project(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    assert invoke("import", proj, photos, "--annotator", "mira").exit_code == 0
    return proj


def test_batch_relabel_applies_every_row_and_keeps_history(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = photos.parent / "decisions.csv"
    decisions.write_text(
        "file,label,annotator,note\nphotos/pit/pit_1.png,scratch,lea,thin line\nok_2.png,pit,,\nphotos/ok/ok_3.png,,,\n"
    )
    result = invoke("relabel", proj, "--from", decisions, "--by", "tom")
    assert result.exit_code == 0, result.output
    assert "applied 2 decisions" in result.output and "2 consensus labels changed" in result.output
    assert "left alone: 1 row" in result.output
    with Project.open(proj) as p:
        history = [(c.path.name, c.annotator, c.label, c.source, c.note) for c in p.history()]
        labels = {p.image(i).path.name: label for i, label in p.labels().items()}
    assert history[-2:] == [
        ("pit_1.png", "lea", "scratch", "relabel", "thin line"),
        ("ok_2.png", "tom", "pit", "relabel", None),
    ]
    assert labels["pit_1.png"] == "scratch" and labels["ok_2.png"] == "pit" and labels["ok_3.png"] == "ok"


def test_batch_relabel_refuses_an_unknown_label_and_writes_nothing(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(f"file,label\n{photos}/pit/pit_1.png,scratch\n{photos}/ok/ok_1.png,scrach\n")
    with Project.open(proj) as p:
        before = p.annotations()
    result = invoke("relabel", proj, "--from", decisions, "--by", "lea")
    assert result.exit_code == 1
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert "unknown label 'scrach'" in line and "did you mean 'scratch'" in line and "decisions.csv:3" in line
    with Project.open(proj) as p:
        assert p.annotations() == before
    ok = invoke("relabel", proj, "--from", decisions, "--by", "lea", "--new-class", "--json")
    assert ok.exit_code == 0, ok.output
    with Project.open(proj) as p:
        assert "scrach" in p.classes()
    assert len(json.loads(ok.stdout)["annotations"]) == 2


def test_batch_relabel_names_the_row_of_an_unknown_image_and_a_missing_reviewer(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("file,label\nok_1.png,pit\nnowhere.png,pit\n")
    result = invoke("relabel", proj, "--from", decisions, "--by", "lea")
    assert result.exit_code == 1 and "no image 'nowhere.png'" in result.output
    assert "decisions.csv:3" in result.output
    result = invoke("relabel", proj, "--from", decisions)
    assert result.exit_code == 1 and "--by" in result.output and "decisions.csv:2" in result.output


def test_single_relabel_still_needs_image_label_and_reviewer(tmp_path, photos):
    proj = _project(tmp_path, photos)
    assert "needs IMAGE and LABEL" in invoke("relabel", proj, "ok_1.png").output
    assert "--by" in invoke("relabel", proj, "ok_1.png", "pit").output
    assert invoke("relabel", proj, "ok_1.png", "pit", "--by", "lea").exit_code == 0


def test_hostile_labels_and_names_in_a_decision_csv_are_data(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = tmp_path / "decisions.csv"
    for label, words in (("../x", "holds '/'"), ("p\x00it", "control character")):
        decisions.write_text(f"file,label\nok_1.png,{label}\n")
        result = invoke("relabel", proj, "--from", decisions, "--by", "lea", "--new-class")
        assert result.exit_code == 1 and words in result.output and "decisions.csv:2" in result.output
    decisions.write_text("file,label\nok_1.png,[red]pit[/red]\n")
    result = invoke("relabel", proj, "--from", decisions, "--by", "lea")
    assert result.exit_code == 1 and "'[red]pit[/red]'" in result.output
    assert not (tmp_path / "x").exists()


def test_a_quote_left_open_is_named_not_read_as_an_empty_label(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text('file,label\nok_1.png,pit\n"ok_2.png,scratch\n')
    result = invoke("relabel", proj, "--from", decisions, "--by", "lea")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "a quote left open" in result.output and "every row's label is empty" not in result.output


def test_one_image_decided_twice_differently_is_a_warning_and_the_last_row_wins(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = photos.parent / "decisions.csv"
    decisions.write_text("file,label\nphotos/pit/pit_1.png,scratch\nphotos/ok/ok_1.png,ok\nphotos/pit/pit_1.png,ok\n")
    result = invoke("relabel", proj, "--from", decisions, "--by", "lea")
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if "warning" in line)
    assert "pit_1.png is decided scratch then ok" in warning and "decisions.csv:2" in warning
    assert "decisions.csv:4" in warning and "the last row wins" in warning
    assert "ok_1.png" not in warning  # a single decision is no conflict
    with Project.open(proj) as p:
        assert p.labels()[p.image("pit_1.png").id] == "ok"


def test_decisions_saved_by_a_spreadsheet_with_semicolons_and_windows_paths_apply(tmp_path, photos):
    proj = _project(tmp_path, photos)
    decisions = photos.parent / "excel.csv"
    decisions.write_bytes('file;label;note\r\nphotos\\pit\\pit_1.png;scratch;"long; thin"\r\n'.encode("utf-8-sig"))
    result = invoke("relabel", proj, "--from", decisions, "--by", "tom")
    assert result.exit_code == 0, result.output
    with Project.open(proj) as p:
        last = p.history()[-1]
    assert (last.path.name, last.label, last.note) == ("pit_1.png", "scratch", "long; thin")
