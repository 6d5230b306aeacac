"""S1, U2, U6: a class name is data, never a path, markup or a control character.

Names are checked once where they enter (folder and CSV import, relabel, init,
datacentric.toml, Label Studio pull) and every file the project writes from a name
goes through one helper that refuses a path outside the project.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from datacentric.errors import DatacentricError
from datacentric.names import case_twin, clean_class_list, clean_class_name
from datacentric.project import Project
from tests.support.factories import write_image
from tests.support.cli import assert_one_line_error, invoke, promise
from tests.support.files import files_under, store_digest, write_csv

HOSTILE = [
    "../x",
    "../../x/ESC",
    "a/b",
    "a\\b",
    "..",
    ".",
    " . ",
    "ok\u202egnp",
    "x\u200by",  # a zero-width space: prints as "xy"
    "a\u2060b",
    "\N{FIRE}" * 60,  # 60 characters but 240 bytes: too long for a file name
    "a\x00b",
    "tab\there",
    "new\nline",
    "",
    "   ",
]


@promise("S1")
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_class_names_are_refused_by_the_rule(name):
    with pytest.raises(DatacentricError):
        clean_class_name(name, new=True)


@promise("S1")
@pytest.mark.parametrize(
    "name",
    ["scratch", "pit mark", "ok-2", "Kratzer ä", "[red]x[bold]", "a.b", "می\u200cخواهم"],  # ZWNJ spells Persian
)
def test_ordinary_names_pass_and_are_stripped(name):
    assert clean_class_name(f"  {name}\u00a0") == name


@promise("S1")
def test_case_twins_are_found_and_a_class_list_refuses_them():
    assert case_twin("Scratch", ["ok", "scratch"]) == "scratch"
    assert case_twin("scratch", ["ok", "scratch"]) is None
    with pytest.raises(DatacentricError, match="'scratch' and 'Scratch' differ only by case"):
        clean_class_list(["scratch", "Scratch"])


@promise("S1", "U6")
@pytest.mark.parametrize("label", ["../../x/ESC", "a\x00b", "a/b", "..", "x\ny"])
def test_a_csv_label_that_is_no_class_name_refuses_the_import(tmp_path, proj, two_images, label):
    manifest = write_csv(two_images / "labels.csv", f'file,label\na.png,ok\nb.png,"{label}"\n')
    before = store_digest(proj)
    line = assert_one_line_error(invoke("import", proj, manifest), "import refused", "labels.csv:3")
    assert "class name" in line
    assert store_digest(proj) == before


@promise("S1")
def test_a_class_folder_with_a_hostile_name_refuses_the_import(tmp_path, proj):
    folder = tmp_path / "in"
    write_image(folder / "bad\tname" / "x.png", seed=9)
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, folder), "control character")
    assert store_digest(proj) == before


@promise("U2")
def test_folder_names_are_stripped_like_csv_labels(tmp_path, proj):
    folder = tmp_path / "in"
    write_image(folder / "scratch " / "x.png", seed=50)
    assert invoke("import", proj, folder).exit_code == 0
    with Project.open(proj) as p:
        assert p.classes() == ["ok", "pit", "scratch"]


@promise("S1", "U2")
def test_a_case_variant_of_a_known_class_is_refused_naming_it(tmp_path, proj):
    folder = tmp_path / "in"
    write_image(folder / "Scratch" / "x.png", seed=51)
    before = store_digest(proj)
    assert_one_line_error(invoke("import", proj, folder), "'Scratch'", "class 'scratch'")
    assert store_digest(proj) == before


@promise("S1", "U2")
def test_case_variants_inside_one_batch_are_refused(tmp_path):
    root = tmp_path / "p"
    invoke("init", root)
    folder = tmp_path / "in"
    write_image(folder / "Scratch" / "x.png", seed=52)
    write_image(folder / "scratch" / "y.png", seed=53)
    before = store_digest(root)
    assert_one_line_error(invoke("import", root, folder), "differs only by case")
    assert store_digest(root) == before


NFC, NFD = "d\u00e9faut", "de\u0301faut"  # the same word: a precomposed é, and e + a combining accent


@promise("S1", "U2")
def test_a_class_in_other_unicode_code_points_is_the_same_class(tmp_path):
    root = tmp_path / "p"
    invoke("init", root, "--classes", f"ok,{NFC},pit")
    folder = tmp_path / "in"
    write_image(folder / NFD / "x.png", seed=54)  # how macOS spells a folder name
    write_image(folder / "ok" / "y.png", seed=55)
    assert invoke("import", root, folder).exit_code == 0
    assert invoke("relabel", root, "y.png", NFD, "--by", "ann").exit_code == 0
    with Project.open(root) as p:
        assert p.classes() == ["ok", NFC, "pit"]
        assert {a.label for a in p.annotations()} == {"ok", NFC}
    upper = "DE\u0301FAUT"  # a case twin in the other spelling is still a case twin
    assert_one_line_error(invoke("relabel", root, "y.png", upper, "--by", "ann", "--new-class"), f"class '{NFC}'")
    assert invoke("rename-class", root, "pit", NFD, "--by", "ann").exit_code == 0  # onto the twin: a merge
    assert invoke("rename-class", root, NFD, "defect", "--by", "ann").exit_code == 0
    with Project.open(root) as p:
        assert p.classes() == ["ok", "defect"]


def test_a_class_list_keeps_two_spellings_it_already_holds():
    """Projects made before spellings were compared may hold both as classes: neither is dropped."""
    assert clean_class_list(["ok", NFC, NFD]) == ["ok", NFC, NFD]


@promise("S1")
def test_relabel_refuses_a_hostile_or_case_twin_label(proj):
    before = store_digest(proj)
    assert_one_line_error(invoke("relabel", proj, "ok_0.png", "../../x", "--by", "ann"), "class name")
    assert_one_line_error(invoke("relabel", proj, "ok_0.png", "PIT", "--by", "ann"), "class 'pit'")
    assert store_digest(proj) == before


@promise("S1")
def test_relabel_strips_the_label(proj):
    assert invoke("relabel", proj, "ok_0.png", " pit ", "--by", "ann").exit_code == 0
    with Project.open(proj) as p:
        assert p.annotations()[-1].label == "pit"


@promise("S1")
def test_init_refuses_a_hostile_class_list_and_writes_nothing(tmp_path):
    root = tmp_path / "p"
    assert_one_line_error(invoke("init", root, "--classes", "ok,../x"), "class name")
    assert not root.exists()
    assert_one_line_error(invoke("init", root, "--classes", "ok,OK"), "differ only by case")
    assert not root.exists()


@promise("S1")
def test_synth_with_a_path_for_a_class_writes_nothing_outside_the_project(tmp_path, proj):
    outside = files_under(tmp_path) - files_under(proj)
    before = store_digest(proj)
    assert_one_line_error(invoke("synth", proj, "--class", "../../x/ESC", "--n", "2"), "class name")
    assert files_under(tmp_path) - files_under(proj) == outside
    assert store_digest(proj) == before


@promise("S1")
def test_a_hostile_class_already_in_an_old_store_still_cannot_leave_the_project(tmp_path, proj):
    """A store written before the rule existed: the path helper is the second line of defence."""
    with sqlite3.connect(proj / "datacentric.db") as db:
        db.execute("UPDATE annotations SET label = '../../../escape' WHERE label = 'pit'")
    with Project.open(proj) as p, pytest.raises(DatacentricError, match="outside the project"):
        p.path("generated", "synthetic", "../../../escape")
    result = invoke("improve", proj, "--class", "../../../escape", "--budget", "2", "--dry-run")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert not (tmp_path.parent / "escape").exists()


@promise("S1")
def test_project_path_refuses_to_leave_the_folder(project):
    assert project.path("runs", "x") == project.root / "runs" / "x"
    for bad in ["../../x", "/etc/passwd", "a/../../../x"]:
        with pytest.raises(DatacentricError, match="outside the project"):
            project.path("generated", bad)


@promise("S1")
def test_suggested_commands_quote_their_arguments(tmp_path):
    root = tmp_path / "my parts; rm -rf ~"
    result = invoke("init", root)
    assert result.exit_code == 0, result.output
    assert f"next: datacentric import '{root}' photos/" in result.output


@promise("S1")
def test_a_nul_byte_in_a_file_name_is_one_line(tmp_path, proj):
    manifest = write_csv(tmp_path / "m.csv", "file,label\nx\x00y.png,ok\n")
    before = store_digest(proj)
    result = invoke("import", proj, manifest)
    assert_one_line_error(result)
    assert store_digest(proj) == before


@promise("S1", "F5")
def test_a_settings_file_with_a_hostile_class_is_refused(tmp_path):
    root = tmp_path / "p"
    invoke("init", root)
    (root / "datacentric.toml").write_text('classes = ["ok", "../x"]\n', encoding="utf-8")
    assert_one_line_error(invoke("status", root), "setting 'classes'", "class name")


@promise("S1")
def test_improve_builds_every_path_through_the_project_helper():
    modules = sorted((Path(__file__).parents[2] / "datacentric" / "improve").glob("*.py"))
    assert "workflow.py" in {m.name for m in modules}
    for module in modules:
        source = module.read_text()
        assert "proj.root /" not in source and "run.dir /" not in source, module.name


@promise("S1")
def test_drift_and_audit_hints_quote_the_project_and_folder(tmp_path):
    from types import SimpleNamespace

    from datacentric.cli.audit import _shown
    from datacentric.drift.advice import next_steps

    assert _shown(Path("my parts")) == "'my parts/'"
    result = SimpleNamespace(drift=True, alpha=0.05, unusual=3, top_images=[{}, {}])
    root, to_label = tmp_path / "my parts", tmp_path / "my parts" / "runs" / "x y" / "to_label"
    to_label.mkdir(parents=True)
    (to_label / "000_a b.png").write_bytes(b"")
    lines = next_steps(SimpleNamespace(root=root), result, to_label)
    form = to_label.parent / "to_label.csv"
    assert f"datacentric import '{root}' '{form}' --annotator NAME" in lines[0]
    assert f"datacentric import '{root}' '{to_label}' && datacentric labelstudio push '{root}'" in lines[1]
    assert f"datacentric retrain '{root}'" in lines[2]
    assert form.read_text().splitlines() == ["file,label", "to_label/000_a b.png,"]
