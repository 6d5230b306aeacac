"""``train`` writes report.html into its run folder: per-class precision/recall bars and more."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.model.report import weak_classes, write_train_report
from datacentric.model.training import TrainResult
from tests.support.dom import parse

RED = "#c8372d"


def test_train_writes_a_self_contained_report_and_prints_its_path(colour_project):
    out = CliRunner().invoke(app, ["train", str(colour_project.root)])
    assert out.exit_code == 0, out.output
    run = colour_project.latest_run("train")
    report = run.dir / "report.html"
    assert f"report: {report}" in out.output and report.is_file()
    dom = parse(report.read_text())
    assert not dom.find_all("script") and not dom.find_all("link")
    classes = dom.by_id("classes")
    svg = classes.find_all("svg")[0]
    bars = [r for r in svg.find_all("rect")]
    labels = [t.text for t in svg.find_all("text") if t.text.endswith(("recall", "precision"))]
    assert len(bars) == 6 and labels == [f"{c} {m}" for c in run.metrics["per_class"] for m in ("recall", "precision")]
    rows = classes.find_all("tbody")[0].find_all("tr")
    assert [r.find_all("td")[0].text for r in rows] == list(run.metrics["per_class"])
    assert dom.by_id("confusion").find_all("svg") and "datacentric audit" in dom.by_id("next").text
    assert {a.attrs["href"] for a in dom.find_all("a")} >= {"#summary", "#classes", "#confusion", "#next"}
    json_out = CliRunner().invoke(app, ["train", str(colour_project.root), "--json"])
    assert json_out.exit_code == 0 and '"report": "' in json_out.stdout


def test_weak_class_bars_are_red_and_a_small_class_is_not_judged(tmp_path: Path):
    per_class = {
        "ok": {"precision": 0.9, "recall": 0.95, "n": 40, "too_few": False},
        "<b>pit</b>": {"precision": 0.8, "recall": 0.3, "n": 10, "too_few": False},
        "dent": {"precision": 0.0, "recall": 0.0, "n": 2, "too_few": True},
    }
    labels = np.array([0] * 40 + [1] * 10 + [2] * 2)
    probs = np.eye(3)[np.r_[labels[:50], [0, 0]]]
    result = TrainResult(
        run=SimpleNamespace(id="r1"),
        backbone="tiny",
        mode="probe",
        cv_accuracy=0.82,
        cv_accuracy_std=0.03,
        per_class=per_class,
        seconds=1.0,
        cpu_seconds=1.0,
        folds=5,
        repeats=1,
        params=1,
        model_bytes=1,
        labels=labels,
        probs=probs,
        classes=list(per_class),
    )
    assert weak_classes(per_class, 0.82) == ["<b>pit</b>"]
    dom = parse(write_train_report(result, tmp_path / "p q", tmp_path / "report.html").read_text())
    svg = dom.by_id("classes").find_all("svg")[0]
    fills = [r.attrs["fill"] for r in svg.find_all("rect")]
    assert fills == ["#4a78c2", "#4a78c2", RED, "#4a78c2"]  # pit: its recall, not its 0.8 precision; dent: no bars
    assert "<b>pit</b> recall" in svg.text and not dom.find_all("b")  # a name is text, never markup
    rows = dom.by_id("classes").find_all("tbody")[0].find_all("tr")
    assert [r.attrs.get("class") for r in rows] == [None, "flag", None]
    assert "too few to judge" in rows[2].text and "weak" in rows[1].text
    assert "'" + str(tmp_path / "p q") + "'" in dom.by_id("next").text  # a command to copy, quoted


def test_a_class_never_predicted_has_no_precision_as_in_the_audit():
    import numpy as np

    from datacentric.model.report import weak_classes
    from datacentric.model.training import per_class_metrics
    from datacentric.report.charts import class_bars_svg

    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.eye(3)[[0, 0, 1, 1, 1, 0]]  # class 2 is never predicted
    per_class = per_class_metrics(labels, probs, ["a", "b", "c"], too_few=[])
    assert per_class["c"]["precision"] is None and per_class["c"]["recall"] == 0.0
    assert per_class["b"]["precision"] == 2 / 3
    assert weak_classes(per_class, accuracy=4 / 6) == ["c"]  # weak by its recall; no precision to judge
    svg = class_bars_svg([(n, m["recall"], m["precision"], False) for n, m in per_class.items()])
    assert svg.count("<rect") >= 6
