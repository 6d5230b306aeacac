"""A flat folder comes in unlabelled with a word about it; ``remove-images`` undoes it, in history."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.project import Project
from tests.support.factories import write_image

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_flat_folder_import_says_unlabelled_how_to_label_and_how_to_undo(tmp_path):
    flat = tmp_path / "flat"
    for i in range(3):
        write_image(flat / f"cell_{i}.png", seed=i)
    proj = tmp_path / "p"
    invoke("init", proj)
    result = invoke("import", proj, flat)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 images have no label" in text and "no class sub-folders" in text
    assert f"datacentric import {proj} labels.csv" in text
    assert f"datacentric remove-images {proj} {flat} --unlabelled --by NAME" in text
    assert json.loads(invoke("import", proj, flat, "--json").stdout)["unlabelled"] == 3


def test_remove_images_is_kept_in_history_and_import_brings_them_back(tmp_path, photos):
    flat = tmp_path / "flat"
    for i in range(3):
        write_image(flat / f"cell_{i}.png", seed=50 + i)
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    invoke("import", proj, flat)
    result = invoke("remove-images", proj, flat, "--unlabelled", "--by", "lea", "--note", "wrong folder")
    assert result.exit_code == 0, result.output
    assert "removed 3 images" in result.output and "12 images left" in result.output
    status = json.loads(invoke("status", proj, "--json").stdout)
    assert status["images"] == 12 and status["unlabelled"] == 0 and status["removed"] == 3
    assert "unlabelled 0 · removed 3 ·" in invoke("status", proj).output
    history = invoke("history", proj, "cell_0.png")
    assert history.exit_code == 0 and "lea: removed from the project — wrong folder" in history.output
    assert "was removed from the project" in invoke("relabel", proj, "cell_0.png", "ok", "--by", "x").output
    again = json.loads(invoke("import", proj, flat, "--json").stdout)
    assert again["restored"] == 3 and again["images_added"] == 0
    with Project.open(proj) as p:
        assert len(p.images()) == 15
        assert [c.event for c in p.history("cell_0.png")] == ["removed", "restored"]


def test_removing_a_labelled_image_drops_its_labels_from_training_but_not_from_history(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    with Project.open(proj) as p:
        image = p.image("pit_0.png")
    assert invoke("remove-images", proj, "pit_0.png", "--by", "lea").exit_code == 0
    with Project.open(proj) as p:
        assert image.id not in p.labels() and len(p.dataset()) == 11
        assert [c.label for c in p.history(image.id)] == ["pit", ""]
    refused = invoke("remove-images", proj, "pit_1.png", "--by", "lea", "--unlabelled")
    assert refused.exit_code == 1 and "every image given has a label" in refused.output
    empty = invoke("remove-images", proj, "", "--by", "lea")  # never "." (every image under here)
    assert empty.exit_code == 1 and "empty image name" in empty.output
    unknown = invoke("remove-images", proj, "nope.png", "--by", "lea")
    assert unknown.exit_code == 1 and unknown.output.startswith("error: no image 'nope.png'")
    with Project.open(proj) as p:
        assert len(p.images()) == 11


@pytest.mark.parametrize("name, separator", [("blurry.csv", ","), ("blurry.tsv", "\t")])
def test_a_csv_names_the_images_to_remove(tmp_path, photos, name, separator):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    listing = photos.parent / name
    listing.write_text("file,reason\nphotos/ok/ok_0.png,blurry\npit_2.png,dark\n".replace(",", separator))
    result = invoke("remove-images", proj, listing, "--by", "lea", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(r["path"].rsplit("/", 1)[1] for r in json.loads(result.stdout)["removed"]) == [
        "ok_0.png",
        "pit_2.png",
    ]
