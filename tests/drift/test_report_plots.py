"""The drift report draws the embedding-distance histogram; the advice has an offline route."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.drift import check_drift
from tests.support.factories import COLOURS, write_images
from tests.support.dom import parse


def _shifted(tiny_trained, tmp_path):
    new = tmp_path / "new"
    write_images(new, COLOURS, 2, seed=78)
    write_images(new, {"grey": (20, 20, 20), "white": (235, 235, 235)}, 3, seed=79, prefix="odd")
    return check_drift(tiny_trained, new, n_permutations=200, top=6, pixel_stats=False, class_mix=False)


def test_report_has_the_distance_histogram_training_vs_batch(tiny_trained, tmp_path):
    result = _shifted(tiny_trained, tmp_path)
    assert len(result.distances["training"]) == result.n_reference == 30
    assert len(result.distances["batch"]) == result.n == 12
    dom = parse((tiny_trained.run(result.run_id).dir / "report.html").read_text())
    card = dom.by_id("distances")
    assert card is not None and card.tag == "section"
    assert any(a.attrs.get("href") == "#distances" for a in dom.find_all("a"))  # in the contents
    (svg,) = card.find_all("svg")
    assert svg.attrs["role"] == "img" and "training and new batch" in svg.attrs["aria-label"]
    bars = [r for r in svg.find_all("rect") if r.find_all("title")]
    assert len(bars) == 20 and all(r.attrs["fill"] == "#0072b2" for r in bars)  # training: filled bars
    (outline,) = svg.find_all("polyline")
    assert outline.attrs["stroke"] == "#d55e00" and outline.attrs["fill"] == "none"  # batch: an outline
    assert "95% of training closer" in svg.text and "new batch" in svg.text
    words = " ".join(card.text.split())
    assert f"right of the dashed line, beyond 95% of the training images: {result.unusual} of 12" in words
    assert not dom.find_all("script") and not dom.find_all("link")  # self-contained: nothing fetched
    assert all(img.attrs["src"].startswith("data:") for img in dom.find_all("img"))


def test_drift_advice_offers_an_offline_csv_that_import_applies(tiny_trained, tmp_path):
    result = _shifted(tiny_trained, tmp_path)
    offline = result.advice[0]
    assert "offline" in offline and "to_label.csv" in offline and "localhost" not in offline
    assert any("datacentric retrain" in line for line in result.advice)
    form = tiny_trained.run(result.run_id).dir / "to_label.csv"
    rows = list(csv.DictReader(form.open()))
    assert len(rows) == 6 and all(r["label"] == "" for r in rows)
    assert all((form.parent / r["file"]).is_file() for r in rows)
    rows[0]["label"], rows[1]["label"] = "red", "blue"
    with form.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["file", "label"])
        writer.writeheader()
        writer.writerows(rows)
    command = offline.split("then run: ")[1].split()
    assert command[:3] == ["datacentric", "import", str(tiny_trained.root)] and command[3] == str(form)
    out = CliRunner().invoke(app, [*command[1:4], "--annotator", "lea"])
    assert out.exit_code == 0, out.output
    assert "6 new images" in out.output and "2 new labels" in out.output and "4 images have no label" in out.output
    undo = next(line for line in out.output.splitlines() if "undo:" in line).split("undo: ")[1]
    assert undo == f"datacentric remove-images {tiny_trained.root} {form} --unlabelled --by NAME"
    removed = CliRunner().invoke(app, [*undo.split()[1:-1], "lea"])
    assert removed.exit_code == 0 and "removed 4 images" in removed.output, removed.output
    assert len(tiny_trained.images()) == 30 + 2


def test_no_drift_advice_writes_no_form(tiny_trained, tmp_path):
    write_images(tmp_path / "same", COLOURS, 5, seed=77)
    result = check_drift(tiny_trained, tmp_path / "same", n_permutations=200)
    assert not result.drift and not (tiny_trained.run(result.run_id).dir / "to_label.csv").exists()
    assert "to_label" not in " ".join(result.advice)
