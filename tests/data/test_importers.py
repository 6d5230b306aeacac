from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datacentric.errors import DatacentricError
from datacentric.data.importers import import_csv, import_folder, import_path
from datacentric.project import Project
from tests.support.files import store_rows
from tests.support.factories import write_image


def snapshot(project: Project) -> tuple:
    """Everything an import could change, to prove a refused import changed nothing."""
    return (
        store_rows(project.root, "SELECT * FROM images ORDER BY id"),
        store_rows(project.root, "SELECT * FROM annotations ORDER BY id"),
    )


def test_folder_import_labels_by_subfolder(project, photos):
    result = import_folder(project, photos, annotator="mira")
    assert (result.images_added, result.annotations_added) == (12, 12)
    labels = project.labels()
    by_name = {r.path.name: labels[r.id] for r in project.images()}
    assert by_name["pit_2.png"] == "pit" and by_name["ok_0.png"] == "ok"
    assert project.annotators() == ["mira"]


def test_importing_twice_changes_nothing(project, photos):
    import_folder(project, photos, annotator="mira")
    before = snapshot(project)
    again = import_folder(project, photos, annotator="mira")
    assert (again.images_added, again.images_known, again.annotations_added) == (0, 12, 0)
    assert snapshot(project) == before


def test_csv_keeps_every_annotator_and_metadata(project, photos):
    import_folder(project, photos, annotator="mira")
    manifest = photos.parent / "extra.csv"
    manifest.write_text(
        "file,label,annotator,camera,shift\n"
        "photos/pit/pit_0.png,scratch,tom,B,night\n"
        "photos/pit/pit_0.png,pit,ana,B,night\n"
        f"{(photos / 'ok' / 'ok_1.png').resolve()},ok,tom,A,day\n"
    )
    result = import_csv(project, manifest)
    assert result.annotations_added == 3 and result.images_added == 0
    pit0 = project.image("pit/pit_0.png")
    assert pit0.metadata == {"camera": "B", "shift": "night"}
    assert project.current_labels()[pit0.id] == {"mira": "pit", "tom": "scratch", "ana": "pit"}
    assert project.labels()[pit0.id] == "pit"  # 2 of 3 votes


def test_new_label_from_same_annotator_is_appended_not_overwritten(project, photos):
    import_folder(project, photos, annotator="mira")
    manifest = photos.parent / "fix.csv"
    manifest.write_text("file,label,annotator\nphotos/pit/pit_0.png,scratch,mira\n")
    import_csv(project, manifest)
    image = project.image("pit/pit_0.png")
    assert [a.label for a in project.annotations(image.id)] == ["pit", "scratch"]
    assert project.labels()[image.id] == "scratch"
    history = project.history(image.id)
    assert history[-1].previous == "pit"


def test_relabel_by_reviewer_wins_over_majority_and_keeps_history(project, photos):
    import_folder(project, photos, annotator="mira")
    manifest = photos.parent / "extra.csv"
    manifest.write_text("file,label,annotator\nphotos/pit/pit_0.png,pit,tom\n")
    import_csv(project, manifest)
    project.relabel("pit/pit_0.png", "scratch", by="lead", note="long thin mark")
    image = project.image("pit/pit_0.png")
    assert project.labels()[image.id] == "scratch"
    assert [(h.annotator, h.label, h.source) for h in project.history(image.id)] == [
        ("mira", "pit", "import"),
        ("tom", "pit", "import"),
        ("lead", "scratch", "relabel"),
    ]


def test_corrupt_file_refuses_whole_batch_and_store_is_unchanged(project, photos):
    import_folder(project, photos, annotator="mira")
    before = snapshot(project)
    write_image(photos / "dent" / "dent_0.png", 999)
    (photos / "dent" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DatacentricError) as info:
        import_folder(project, photos, annotator="mira")
    assert "nothing imported" in info.value.what and "broken.png" in info.value.where
    assert snapshot(project) == before


def test_skip_bad_imports_the_rest_and_lists_what_was_skipped(project, photos):
    (photos / "ok" / "zero.png").write_bytes(b"")
    result = import_folder(project, photos, annotator="mira", skip_bad=True)
    assert result.images_added == 12
    assert [(Path(w).name, r) for w, r in result.skipped] == [("zero.png", "empty file (0 bytes)")]


def test_unknown_label_against_fixed_classes(tmp_path, photos):
    with Project.init(tmp_path / "fixed", classes=["ok", "pit"]) as proj:
        with pytest.raises(DatacentricError, match="unknown label 'scratch'"):
            import_folder(proj, photos)
        assert snapshot(proj) == ([], [])
        result = import_folder(proj, photos, skip_bad=True)
        assert result.images_added == 8 and len(result.skipped) == 4


def test_empty_folder_is_an_error(project, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatacentricError, match="empty folder"):
        import_folder(project, tmp_path / "empty")
    (tmp_path / "empty" / "Thumbs.db").write_bytes(b"cache")
    with pytest.raises(DatacentricError, match=r"empty folder: no images to import \(only 1 hidden or system item\)"):
        import_folder(project, tmp_path / "empty")


def test_what_file_browsers_leave_beside_photos_is_not_imported(project, photos):
    for junk in ("ok/.DS_Store", "ok/._ok_0.png", "pit/Thumbs.db", "desktop.ini", ".thumbnails/ok_0.png"):
        (photos / junk).parent.mkdir(parents=True, exist_ok=True)
        (photos / junk).write_bytes(b"not a photo")
    result = import_folder(project, photos, annotator="mira")
    assert (result.images_added, result.skipped, result.passed_over) == (12, [], 5)  # 4 files, 1 hidden folder
    assert project.classes() == ["ok", "pit", "scratch"]
    (photos / "ok" / "notes.txt").write_text("a file someone put there is still refused")
    with pytest.raises(DatacentricError, match="unsupported file type"):
        import_folder(project, photos, annotator="mira")


def test_csv_with_missing_columns(project, tmp_path):
    manifest = tmp_path / "bad.csv"
    manifest.write_text("path,class\na.png,ok\n")
    with pytest.raises(DatacentricError, match="missing column"):
        import_csv(project, manifest)


def test_csv_with_missing_file_names_the_row(project, photos):
    manifest = photos.parent / "m.csv"
    manifest.write_text("file,label\nphotos/ok/ok_0.png,ok\nphotos/ok/gone.png,ok\n")
    with pytest.raises(DatacentricError) as info:
        import_csv(project, manifest)
    assert info.value.where == f"{manifest}:3" and "not found" in info.value.what
    assert "gone.png" in info.value.what  # which file, not only which line
    assert snapshot(project) == ([], [])


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_spreadsheet_csv_with_semicolons_or_tabs_windows_paths_bom_and_crlf_imports(project, photos, separator):
    """What Excel writes under a European locale (or a TSV), saved on Windows."""
    manifest = photos.parent / "excel.csv"
    rows = ["file;label;annotator;camera", "photos\\pit\\pit_0.png;scratch;tom;B", "photos\\ok\\ok_1.png;ok;tom;A"]
    manifest.write_bytes(("\r\n".join(r.replace(";", separator) for r in rows) + "\r\n").encode("utf-8-sig"))
    result = import_csv(project, manifest)
    assert (result.images_added, result.annotations_added, result.metadata_columns) == (2, 2, ["camera"])
    assert project.image("pit/pit_0.png").metadata == {"camera": "B"}
    assert project.current_labels()[project.image("pit/pit_0.png").id] == {"tom": "scratch"}


def test_a_tsv_file_imports_like_a_csv(project, photos):
    manifest = photos.parent / "labels.tsv"
    manifest.write_text("file\tlabel\tcamera\nphotos/pit/pit_0.png\tscratch\tB\n")
    result = import_path(project, manifest, annotator="tom")
    assert (result.images_added, result.annotations_added) == (1, 1)
    assert project.image("pit/pit_0.png").metadata == {"camera": "B"}


def test_a_file_cell_the_system_cannot_look_up_is_one_skipped_row_not_the_whole_batch(project, photos):
    manifest = photos.parent / "odd.csv"
    long_name = "photos\\ok\\" + "a" * 300 + ".png"  # backslashes, and too long for the file system
    manifest.write_text(f"file,label\nphotos/ok/ok_0.png,ok\n{long_name},ok\n,ok\n")
    result = import_csv(project, manifest, skip_bad=True)
    assert result.images_added == 1
    (line2, why2), (line3, why3) = result.skipped
    assert line2.endswith(":3") and "too long" in why2.lower()
    assert line3.endswith(":4") and why3 == "no file name"  # not the CSV's folder named as the file


def test_a_comma_csv_keeps_semicolons_inside_its_fields(project, photos):
    manifest = photos.parent / "notes.csv"
    manifest.write_text("file,label,note\nphotos/ok/ok_0.png,ok,dark; re-shoot\n")
    result = import_csv(project, manifest)
    assert result.images_added == 1 and project.image("ok/ok_0.png").metadata == {"note": "dark; re-shoot"}


def test_import_path_dispatches_and_rejects_other_things(project, photos, tmp_path):
    assert import_path(project, photos).images_added == 12
    with pytest.raises(DatacentricError, match="expected a folder or a .csv"):
        (tmp_path / "x.json").write_text("{}")
        import_path(project, tmp_path / "x.json")


def test_duplicate_file_content_is_one_image(project, photos):
    shutil.copy(photos / "ok" / "ok_0.png", photos / "ok" / "ok_copy.png")
    result = import_folder(project, photos)
    assert result.images_added == 12 and result.images_known == 0
