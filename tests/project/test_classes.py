"""Unknown labels are refused with the closest class; classes are renamed, merged, removed."""

from __future__ import annotations

import pytest

from datacentric.errors import DatacentricError
from datacentric.data.importers import import_csv, import_folder
from datacentric.project import Project
from tests.support.cli import invoke


def test_a_relabel_typo_is_refused_with_the_closest_class(project, photos):
    import_folder(project, photos)
    before = project.annotations()
    with pytest.raises(DatacentricError, match="unknown label 'scrath' — did you mean 'scratch'"):
        project.relabel("pit/pit_1.png", "scrath", by="lead")
    assert project.annotations() == before and project.classes() == ["ok", "pit", "scratch"]


def test_a_new_class_needs_the_opt_in(project, photos):
    import_folder(project, photos)
    project.relabel("pit/pit_1.png", "dent", by="lead", new_class=True)
    assert "dent" in project.classes()


def test_a_new_class_on_a_fixed_list_is_saved_in_the_settings(tmp_path, photos):
    with Project.init(tmp_path / "p", classes=["ok", "pit", "scratch"]) as proj:
        import_folder(proj, photos)
        proj.relabel("pit/pit_1.png", "dent", by="lead", new_class=True)
    with Project.open(tmp_path / "p") as proj:
        assert proj.config.classes == ["ok", "pit", "scratch", "dent"]


def test_an_import_into_a_project_with_classes_refuses_a_typo(project, photos, tmp_path):
    import_folder(project, photos)
    manifest = tmp_path / "more.csv"
    manifest.write_text("file,label\nphotos/ok/ok_0.png,scrach\n")
    with pytest.raises(DatacentricError, match="did you mean 'scratch'"):
        import_csv(project, manifest)
    result = import_csv(project, manifest, new_classes=True)
    assert result.new_classes == ["scrach"] and "scrach" in project.classes()


def test_a_fixed_typo_is_no_class_any_more(project, photos):
    import_folder(project, photos)
    project.relabel("pit/pit_1.png", "pti", by="lead", new_class=True)
    project.relabel("pit/pit_1.png", "pit", by="lead")
    assert project.classes() == ["ok", "pit", "scratch"]
    assert [c.label for c in project.history("pit/pit_1.png")] == ["pit", "pti", "pit"]


def test_rename_appends_to_the_history_and_keeps_the_consensus(project, photos):
    import_folder(project, photos, annotator="mira")
    project.relabel("ok/ok_0.png", "pit", by="lead")
    added = project.rename_class("pit", "pitting", by="lead", note="site word")
    assert added == 5 and project.classes() == ["ok", "pitting", "scratch"]
    assert project.labels()[project.image("ok/ok_0.png").id] == "pitting"
    last = project.history("ok/ok_0.png")[-1]
    assert (last.label, last.previous, last.source) == ("pitting", "pit", "relabel")
    assert "renamed to 'pitting' by lead" in last.note
    assert len(project.annotations()) == 12 + 1 + 5


def test_merge_into_an_existing_class(tmp_path, photos):
    with Project.init(tmp_path / "p", classes=["ok", "pit", "scratch"]) as proj:
        import_folder(proj, photos)
        proj.rename_class("pit", "scratch", by="lead")
        assert proj.config.classes == ["ok", "scratch"]
        assert sorted(proj.labels().values()).count("scratch") == 8
    assert Project.open(tmp_path / "p").config.classes == ["ok", "scratch"]


def test_remove_only_a_class_without_labels(tmp_path, photos):
    with Project.init(tmp_path / "p", classes=["ok", "pit", "scratch", "dent"]) as proj:
        import_folder(proj, photos)
        with pytest.raises(DatacentricError, match="still labels 4 images"):
            proj.remove_class("pit")
        proj.remove_class("dent")
        assert proj.config.classes == ["ok", "pit", "scratch"]
    assert Project.open(tmp_path / "p").config.classes == ["ok", "pit", "scratch"]


def test_class_commands_are_one_line_each(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    invoke("import", proj, photos, "--annotator", "mira")
    typo = invoke("relabel", proj, "pit/pit_1.png", "scrach", "--by", "lead")
    assert typo.exit_code == 1 and "did you mean 'scratch'" in typo.output
    added = invoke("relabel", proj, "pit/pit_1.png", "dent", "--by", "lead", "--new-class")
    assert added.exit_code == 0, added.output
    renamed = invoke("rename-class", proj, "dent", "scratch", "--by", "lead")
    assert renamed.exit_code == 0 and "merged into scratch: 1 label added" in renamed.output
    refused = invoke("remove-class", proj, "pit")
    assert refused.exit_code == 1 and "still labels 4 images" in refused.output


def test_a_rename_keeps_a_tied_consensus(project, photos):
    import_folder(project, photos, annotator="mira")
    image = project.image("ok/ok_0.png")
    with project.transaction():  # tom disagrees later: a 1-1 tie goes to the newer label
        project.add_annotation(image_id=image.id, annotator="tom", label="pit", source="import")
    assert project.labels()[image.id] == "pit"
    project.rename_class("ok", "good", by="lead")
    assert project.labels()[image.id] == "pit"
    last = project.history("ok/ok_0.png")[-1]
    assert (last.annotator, last.label) == ("tom", "pit") and "restated" in last.note


def test_renaming_an_unknown_class_suggests_the_closest(project, photos):
    import_folder(project, photos)
    with pytest.raises(DatacentricError, match="unknown class 'scrach' — did you mean 'scratch'"):
        project.rename_class("scrach", "scratches", by="lead")


def test_a_removed_class_comes_back_only_with_the_opt_in(tmp_path, photos):
    with Project.init(tmp_path / "p", classes=["ok", "pit", "scratch"]) as proj:
        import_folder(proj, photos)
        proj.rename_class("pit", "scratch", by="lead")
        image = proj.image("ok/ok_0.png")
        with pytest.raises(DatacentricError, match="unknown label 'pit'"):
            with proj.transaction():
                proj.add_annotation(image_id=image.id, annotator="tom", label="pit", source="import")
        assert proj.config.classes == ["ok", "scratch"]
