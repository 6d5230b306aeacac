"""A CSV of metadata without a label column attaches the metadata to images already imported."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.project import Project

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_metadata_only_csv_attaches_metadata_and_says_so(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    manifest = photos.parent / "lines.csv"
    manifest.write_text("file,line,camera\nphotos/ok/ok_0.png,L1,cam2\npit_1.png,L2,\n")
    result = invoke("import", proj, manifest)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0 new labels, metadata (line, camera) changed on 2 images" in text
    with Project.open(proj) as p:
        assert p.image("ok_0.png").metadata == {"line": "L1", "camera": "cam2"}
        assert p.image("pit_1.png").metadata == {"line": "L2"}
        assert len(p.annotations()) == 12
    again = json.loads(invoke("import", proj, manifest, "--json").stdout)
    assert again["metadata_updated"] == 0 and again["images_known"] == 2


def test_label_import_that_adds_metadata_mentions_it(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    manifest = photos.parent / "again.csv"
    manifest.write_text("file,label,annotator,shift\nphotos/ok/ok_0.png,ok,mira,night\n")
    text = " ".join(invoke("import", proj, manifest).output.split())
    assert "0 new labels, metadata (shift) changed on 1 image from" in text


def test_metadata_for_an_image_not_in_the_project_is_refused_whole(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos / "ok", "--annotator", "mira")
    manifest = photos.parent / "lines.csv"
    manifest.write_text("file,line\nphotos/ok/ok_0.png,L1\nphotos/pit/pit_0.png,L2\n")
    result = invoke("import", proj, manifest)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "pit_0.png' is not in the project" in result.output and "lines.csv:3" in result.output
    with Project.open(proj) as p:
        assert all(not r.metadata for r in p.images())
    skipped = invoke("import", proj, manifest, "--skip-bad")
    assert skipped.exit_code == 0 and "changed on 1 image" in skipped.output


def test_csv_with_neither_label_nor_metadata_is_still_refused(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    manifest = photos.parent / "files.csv"
    manifest.write_text("file\nphotos/ok/ok_0.png\n")
    result = invoke("import", proj, manifest)
    assert result.exit_code == 1 and "missing column(s) label" in result.output
