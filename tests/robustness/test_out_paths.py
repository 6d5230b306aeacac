"""An output path (``--out``) never replaces what the project keeps, and a damaged store or an
odd name still ends in one line."""

from __future__ import annotations

import pytest

from tests.support.cli import assert_one_line_error, invoke, promise
from tests.support.files import store_digest


@promise("X4")
@pytest.mark.parametrize("kept", ["datacentric.db", "datacentric.toml", "labelbook.json", "runs/x.html", "photo"])
def test_an_out_path_onto_a_file_the_project_keeps_is_refused(tiny_trained, kept):
    root = tiny_trained.root
    target = tiny_trained.images()[0].path if kept == "photo" else root / kept
    photo = target.read_bytes() if kept == "photo" else None
    before = store_digest(root)
    for command in (["labelbook", root, "--out", target], ["export", root, "--out", target]):
        assert_one_line_error(invoke(*command), "a file the project keeps")
    assert store_digest(root) == before
    assert photo is None or target.read_bytes() == photo
    assert invoke("status", root).exit_code == 0


@promise("X4")
def test_labelbook_refuses_a_folder_as_out(tiny_trained, tmp_path):
    assert_one_line_error(invoke("labelbook", tiny_trained.root, "--out", tmp_path), "this is a folder")


@promise("F4")
@pytest.mark.parametrize("content, needle", [(b"", "store is empty"), (b"junk " * 40, "cannot use the store")])
def test_a_damaged_store_is_one_line(proj, content, needle):
    (proj / "datacentric.db").write_bytes(content)
    assert_one_line_error(invoke("status", proj), needle)
    assert (proj / "datacentric.db").read_bytes() == content  # not made into a new, empty store


@promise("F3")
def test_an_error_about_a_name_with_a_new_line_stays_one_line(proj):
    line = assert_one_line_error(invoke("import", proj, proj / "no\nsuch.csv"), "not found")
    assert "no\\nsuch.csv" in line


@promise("X4")
def test_predict_names_an_unknown_engine(proj, tmp_path):
    assert_one_line_error(invoke("predict", proj, tmp_path, "--engine", "bogus"), "unknown engine 'bogus'")


def test_a_class_whose_photos_were_all_removed_comes_back_with_them(proj, photos):
    from datacentric.project import Project

    removed = invoke("remove-images", proj, photos / "ok", "--by", "lea")
    assert removed.exit_code == 0, removed.output
    with Project.open(proj) as project:
        assert "ok" not in project.classes()
    again = invoke("import", proj, photos)
    assert again.exit_code == 0, again.output
    with Project.open(proj) as project:
        assert "ok" in project.classes() and len(project.images()) == 12


@promise("S1")
def test_an_annotator_or_metadata_holding_control_characters_is_refused(proj, photos, tmp_path):
    from tests.support.files import write_csv

    before = store_digest(proj)
    image = next((photos / "ok").iterdir())
    assert_one_line_error(invoke("relabel", proj, image, "pit", "--by", "\x1b[31mX\nY"), "control character")
    manifest = write_csv(tmp_path / "m.csv", f"file,label,camera\n{image},ok,c\x00d\n")
    assert_one_line_error(invoke("import", proj, manifest), "metadata value of 'camera'", "\\x00", "m.csv:2")
    assert store_digest(proj) == before
    notes = write_csv(tmp_path / "n.csv", f'file,label,notes\n{image},ok,"near edge\nrecheck\tlater"\n')
    assert invoke("import", proj, notes).exit_code == 0  # a cell written on two lines is one line of text
    from datacentric.project import Project

    with Project.open(proj) as project:
        assert project.image(str(image)).metadata["notes"] == "near edge recheck later"


@promise("S1")
def test_a_new_class_name_too_long_for_a_file_name_is_refused_an_old_one_still_loads(tmp_path):
    from datacentric.errors import DatacentricError
    from datacentric.names import clean_class_name
    from datacentric.project import Project

    name = "\N{FIRE}" * 60  # 60 characters, 240 bytes in UTF-8
    with pytest.raises(DatacentricError, match="longer than 200 bytes"):
        clean_class_name(name, new=True)
    assert_one_line_error(invoke("init", tmp_path / "new", "--classes", f"ok,{name}"), "longer than 200 bytes")
    with Project.init(tmp_path / "old", classes=["ok"]) as project:  # made when only characters counted
        settings = project.root / "datacentric.toml"
    settings.write_text(settings.read_text().replace('["ok"]', f'["ok", "{name}"]'))
    with Project.open(tmp_path / "old") as project:
        assert project.classes() == ["ok", name]


def test_a_label_studio_user_with_control_characters_is_kept_escaped():
    from datacentric.labelstudio.pull_labels import _annotator

    who = _annotator({"completed_by": {"email": "\x1b[31mevil\nfake: line\u202e"}}, {})
    assert who == "\\x1b[31mevil\\nfake: line\\u202e" and who.isprintable()


@promise("F4")
def test_an_image_changed_on_disk_after_import_is_refused_before_training(tmp_path, photos):
    import shutil

    root = tmp_path / "p"
    assert invoke("init", root, "--backbone", "test_efficientnet@random").exit_code == 0
    assert invoke("import", root, photos).exit_code == 0
    changed = photos / "ok" / "ok_0.png"
    shutil.copyfile(photos / "pit" / "pit_0.png", changed)  # a pit photo now sits where an ok one was
    before = store_digest(root)
    line = assert_one_line_error(invoke("train", root, "--folds", "2"), "changed on disk since it was imported")
    assert store_digest(root) == before
    old_id = line.split("imported as ")[1].split(":")[0]  # the advice works: take the old one out, import again
    assert invoke("remove-images", root, old_id, "--by", "lea").exit_code == 0
    assert invoke("import", root, photos).exit_code == 0
    assert invoke("train", root, "--folds", "2").exit_code == 0


def test_a_typo_fixed_once_is_still_refused_without_new_class(proj):
    from datacentric.project import Project

    with Project.open(proj) as project:
        image = project.images()[0].id
    assert invoke("relabel", proj, image, "scrach", "--by", "lea", "--new-class").exit_code == 0
    assert invoke("relabel", proj, image, "scratch", "--by", "lea").exit_code == 0  # the typo fixed
    assert_one_line_error(invoke("relabel", proj, image, "scrach", "--by", "lea"), "did you mean 'scratch'")


@promise("X4")
def test_an_out_in_new_folders_makes_them_only_when_the_command_writes(proj, tmp_path):
    out = tmp_path / "made" / "by" / "labelbook.html"
    assert_one_line_error(invoke("labelbook", proj, "--out", out), "no trained model")  # fails after the check
    assert not (tmp_path / "made").exists()  # no empty folders left behind
