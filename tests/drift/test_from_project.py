"""check_drift and `datacentric drift` on a tiny project (random tiny backbone, colour images)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.drift import check_drift
from datacentric.errors import DatacentricError

from tests.support.factories import COLOURS, write_images


def test_no_trained_reference_names_the_command(tiny_project, tmp_path):
    write_images(tmp_path / "new", COLOURS, 3, seed=9)
    with pytest.raises(DatacentricError, match="datacentric train"):
        check_drift(tiny_project, tmp_path / "new")


def test_empty_or_missing_folder_is_a_clear_error(tiny_trained, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DatacentricError, match="no images"):
        check_drift(tiny_trained, tmp_path / "empty")
    with pytest.raises(DatacentricError, match="folder not found"):
        check_drift(tiny_trained, tmp_path / "nowhere")


def test_same_distribution_batch_is_not_drift(tiny_trained, tmp_path):
    write_images(tmp_path / "new", COLOURS, 5, seed=77)
    result = check_drift(tiny_trained, tmp_path / "new", n_permutations=200)
    assert not result.drift and result.p_value >= 0.05 and result.n == 15
    assert result.n_reference == 30


def test_shifted_batch_is_drift_with_the_odd_images_on_top_and_stored(tiny_trained, tmp_path):
    new = tmp_path / "new"
    write_images(new, COLOURS, 2, seed=78)
    odd = write_images(new, {"grey": (20, 20, 20), "white": (235, 235, 235)}, 3, seed=79, prefix="odd")
    (new / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    # half very dark, half very bright: no shift in median brightness, so this checks the embedding test alone
    result = check_drift(tiny_trained, new, n_permutations=200, top=6, pixel_stats=False, class_mix=False)
    assert result.pixel_stats == {} and result.p_value == result.embedding["p_value"]
    assert result.class_mix["in_verdict"] is False and "p_value" in result.class_mix  # still reported
    assert result.drift and result.p_value < 0.05 and result.n == 12
    assert {t["image"] for t in result.top_images} == {str(p) for p in odd}
    assert [s["image"] for s in result.skipped] == [str(new / "broken.png")]
    assert set(result.class_mix["batch"]) == set(COLOURS)
    assert 0.0 <= result.confidence["batch"] <= 1.0
    assert any("datacentric retrain" in line for line in result.advice)
    run = tiny_trained.run(result.run_id)
    assert run.kind == "drift" and run.status == "done" and run.metrics["drift"] is True
    stored = json.loads((run.dir / "drift.json").read_text())
    assert stored["p_value"] == result.p_value
    html = (run.dir / "report.html").read_text()
    assert html.count("data:image") >= 6 + 3 and "DRIFT" in html
    assert len(list((run.dir / "to_label").iterdir())) == 6
    checks = tiny_trained.drift_checks()
    assert len(checks) == 1 and checks[0]["run_id"] == result.run_id
    assert checks[0]["folder"] == result.folder and checks[0]["result"]["drift"] is True


def test_cli_json_has_the_documented_keys(tiny_trained, tmp_path):
    write_images(tmp_path / "new", {"grey": (20, 20, 20)}, 6, seed=5)
    out = CliRunner().invoke(app, ["drift", str(tiny_trained.root), str(tmp_path / "new"), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    for key in ("drift", "p_value", "statistic", "n", "method", "top_images", "class_mix"):
        assert key in data
    assert data["drift"] is True and set(data["top_images"][0]) >= {"image", "score"}


def test_cli_error_is_one_line(tiny_project, tmp_path):
    (tmp_path / "empty").mkdir()
    out = CliRunner().invoke(app, ["drift", str(tiny_project.root), str(tmp_path / "empty")])
    assert out.exit_code == 1 and "error: no images" in out.output


def test_darker_batch_is_drift_in_words_and_reference_stats_are_cached(tiny_trained, tmp_path):
    dark = {name: tuple(c // 2 for c in rgb) for name, rgb in COLOURS.items()}
    write_images(tmp_path / "night", dark, 4, seed=80)
    result = check_drift(tiny_trained, tmp_path / "night", n_permutations=200)
    assert result.drift and result.p_value < 0.05
    families = (result.embedding["p_value"], result.pixel_stats["p_value"], result.class_mix["p_value"])
    assert result.p_value == min(1.0, 3 * min(families)) and result.class_mix["in_verdict"] is True
    assert result.changes[0] == "darker" and result.description.startswith("darker (brightness ")
    assert "lower than 100% of training images" in result.description
    brightness = next(e for e in result.pixel_stats["statistics"] if e["name"] == "brightness")
    assert brightness["batch"] < 0.6 * brightness["reference"] and brightness["p_adjusted"] < 0.05 / 3
    cache = tiny_trained.cache_dir / "pixel_stats_v1.npz"
    assert cache.is_file()
    with np.load(cache) as stored:
        assert len(stored["ids"]) == 30 and stored["values"].shape == (30, 6)
    html = (tiny_trained.run(result.run_id).dir / "report.html").read_text()
    assert "What changed" in html and "darker" in html
    pixels = html.split("What changed: simple image statistics")[-1]  # the section, not the contents
    assert pixels.index("<svg") < pixels.index("<table")  # the distributions, drawn above the numbers
    assert pixels.split("</svg>")[0].count("<rect") == 2 * 6  # training and new, six statistics
    assert "#c8372d" in pixels.split("</svg>")[0]  # brightness changed: its new strip is red
    assert "<td>pixel-stats p</td>" in html  # the verdict table is label/value rows
    out = CliRunner().invoke(app, ["drift", str(tiny_trained.root), str(tmp_path / "night")])
    assert out.exit_code == 0, out.output
    assert "DRIFT (p = " in out.output and "): darker (brightness" in out.output
