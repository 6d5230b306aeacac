"""U1-U6: what an import used to do silently is now refused, or done and said."""

from __future__ import annotations

import os

import pytest

from datacentric.data.importers import import_path
from datacentric.project import Project
from tests.support.factories import write_image
from tests.support.cli import assert_one_line_error, invoke, promise
from tests.support.files import store_digest, write_csv


@promise("U1")
@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_broken_link_in_an_import_folder_refuses_the_batch(tmp_path, proj, kind):
    """U1: the README says a missing file refuses the batch; a broken link is a missing file."""
    folder = tmp_path / "in"
    write_image(folder / "ok" / "fine.png", seed=60)
    link = folder / "ok" / "gone.png"
    os.symlink(link if kind == "loop" else tmp_path / "nowhere.png", link)
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, folder), "symbolic link", "gone.png")
    assert store_digest(proj) == before
    skipped = invoke("import", proj, folder, "--skip-bad")
    assert skipped.exit_code == 0 and "gone.png" in skipped.output


@promise("U4")
def test_one_annotator_two_labels_for_one_image_in_a_csv_is_said(tmp_path, proj, two_images):
    """U4: both rows are kept in the history, in order, and the import says so."""
    manifest = write_csv(two_images / "m.csv", "file,label,annotator\na.png,ok,ann\na.png,pit,ann\n")
    result = invoke("import", proj, manifest)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "warning" in text and "m.csv:3" in text and "'pit' here after 'ok'" in text
    with Project.open(proj) as p:
        image = p.image(two_images / "a.png")
        assert [a.label for a in p.annotations(image.id)] == ["ok", "pit"]
        assert p.labels()[image.id] == "pit"


@promise("U3")
def test_the_same_bytes_in_two_class_folders_is_said(tmp_path, project):
    """U3: one file copied into two class folders by one annotator."""
    folder = tmp_path / "in"
    write_image(folder / "ok" / "x.png", seed=61)
    (folder / "pit").mkdir()
    (folder / "pit" / "x.png").write_bytes((folder / "ok" / "x.png").read_bytes())
    write_image(folder / "pit" / "y.png", seed=62)
    result = import_path(project, folder)
    assert len(result.warnings) == 1
    where, what = result.warnings[0]
    assert where.endswith("x.png") and "'pit' here after 'ok'" in what


@promise("U3", "U4")
def test_two_annotators_may_disagree_without_a_warning(tmp_path, project, two_images):
    manifest = write_csv(two_images / "m.csv", "file,label,annotator\na.png,ok,ann\na.png,pit,bob\n")
    assert import_path(project, manifest).warnings == []


@promise("U5")
def test_a_header_naming_a_column_twice_is_refused(proj, two_images):
    """U5: file,label,label used the last column without a word."""
    manifest = write_csv(two_images / "m.csv", "file,label,label\na.png,ok,pit\n")
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, manifest), "'label' twice", "m.csv")
    assert store_digest(proj) == before


@promise("U6")
def test_a_nul_byte_in_a_label_is_no_class(proj, two_images):
    """U6."""
    manifest = write_csv(two_images / "m.csv", "file,label\na.png,ok\x00\n")
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, manifest), "control character", "m.csv:2")
    assert store_digest(proj) == before


@promise("U2")
def test_a_case_variant_in_a_project_without_a_class_list_is_refused(tmp_path, project):
    """U2: 'scratch ', 'Scratch' and 'scratch' were three classes."""
    folder = tmp_path / "in"
    write_image(folder / "scratch " / "a.png", seed=63)
    write_image(folder / "scratch" / "b.png", seed=64)
    assert import_path(project, folder).images_added == 2
    assert project.classes() == ["scratch"]
    write_image(tmp_path / "more" / "Scratch" / "c.png", seed=65)
    from datacentric.errors import DatacentricError

    with pytest.raises(DatacentricError, match="differs only by case from the class 'scratch'"):
        import_path(project, tmp_path / "more")


@promise("X3")
def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path, proj):
    """Found while hardening: such a name reached SQLite and ended in UnicodeEncodeError."""
    folder = tmp_path / "in"
    write_image(folder / "ok" / "fine.png", seed=66)
    raw = os.fsencode(folder / "ok") + b"/bad\xff.png"
    with open(raw, "wb") as handle:
        handle.write((folder / "ok" / "fine.png").read_bytes()[:-1] + b"\x00")
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, folder), "not valid UTF-8")
    assert store_digest(proj) == before
    assert invoke("import", proj, folder, "--skip-bad").exit_code == 0


@promise("X3")
@pytest.mark.parametrize("ref", ["a\x00b.png", "bad\udcff.png"])
def test_looking_up_an_image_by_an_impossible_name_is_one_error(project, ref):
    from datacentric.errors import DatacentricError

    with pytest.raises(DatacentricError, match="no image"):
        project.image(ref)


@promise("U1")
def test_a_linked_class_folder_comes_in_and_a_special_file_refuses_the_batch(tmp_path, proj):
    real = tmp_path / "elsewhere" / "scratch"
    write_image(real / "s.png", seed=601)
    folder = tmp_path / "in"
    write_image(folder / "ok" / "o.png", seed=602)
    (folder / "scratch").symlink_to(real, target_is_directory=True)
    (folder / "ok" / "loop").symlink_to(folder, target_is_directory=True)  # a loop ends
    (folder / "newest").symlink_to(folder / "ok", target_is_directory=True)  # a link inside: its real name counts
    result = invoke("import", proj, folder)
    assert result.exit_code == 0, result.output
    assert "2 new images" in result.output  # the linked class folder came in, once
    with Project.open(proj) as project:
        labels = {r.path.name: project.labels()[r.id] for r in project.images() if r.path.name in ("o.png", "s.png")}
        assert labels == {"o.png": "ok", "s.png": "scratch"} and "newest" not in project.classes()
    os.mkfifo(folder / "ok" / "pipe.png")
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, folder), "pipe.png")  # never dropped without a word
    assert store_digest(proj) == before
