"""The golden file as a spreadsheet saves it: read by the shared CSV reader (datacentric.csv_files)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.retrain import golden_set


def _golden_ids(project, rows: list[str]) -> list[str]:
    return sorted(project.image(r).id for r in rows)


@pytest.mark.parametrize("column", ["file", "image", "id"])
def test_a_semicolon_csv_from_excel_in_a_european_locale_is_read(tiny_project, column):
    red = ["red/img_red_000.png", "red/img_red_001.png"]
    cells = _golden_ids(tiny_project, red) if column == "id" else red
    golden = tiny_project.root.parent / "photos" / "golden.csv"
    golden.write_text(f"{column};weight\n" + "".join(f"{c};0,5\n" for c in cells))
    assert golden_set(tiny_project, golden).ids == _golden_ids(tiny_project, red)


def test_a_bom_crlf_csv_with_windows_backslash_paths_is_read(tiny_project):
    golden = tiny_project.root.parent / "golden.csv"  # beside photos/: cells say photos\red\img_red_000.png
    rows = ["file;label", "photos\\red\\img_red_000.png;red", "photos\\blue\\img_blue_003.png;blue", ""]
    golden.write_bytes("\r\n".join(rows).encode("utf-8-sig"))
    gold = golden_set(tiny_project, golden)
    assert gold.ids == _golden_ids(tiny_project, ["red/img_red_000.png", "blue/img_blue_003.png"])


def test_a_tab_separated_golden_csv_is_read(tiny_project):
    golden = tiny_project.root.parent / "golden.csv"
    golden.write_text("label\tpath\nred\tphotos/red/img_red_002.png\n")
    assert golden_set(tiny_project, golden).ids == _golden_ids(tiny_project, ["red/img_red_002.png"])


def test_a_tsv_golden_file_is_read_as_a_table_not_as_a_list(tiny_project):
    golden = tiny_project.root.parent / "golden.TSV"
    golden.write_text("file\tlabel\nphotos/red/img_red_002.png\tred\nphotos/blue/img_blue_001.png\tblue\n")
    assert golden_set(tiny_project, golden).ids == _golden_ids(
        tiny_project, ["red/img_red_002.png", "blue/img_blue_001.png"]
    )


def test_a_plain_list_file_still_names_one_image_a_line(tiny_project):
    golden = tiny_project.root.parent / "golden.txt"
    golden.write_bytes(
        "# the golden images\r\nphotos/red/img_red_000.png\r\n\r\nimg_green_001.png\r\n".encode("utf-8-sig")
    )
    assert golden_set(tiny_project, golden).ids == _golden_ids(
        tiny_project, ["red/img_red_000.png", "green/img_green_001.png"]
    )


def test_a_quote_left_open_is_refused_in_one_line_naming_the_file(tiny_project):
    golden = tiny_project.root.parent / "golden.csv"
    golden.write_text('file\nphotos/red/img_red_000.png\n"photos/red/img_red_001.png\nphotos/red/img_red_002.png\n')
    with pytest.raises(DatacentricError) as info:
        golden_set(tiny_project, golden)
    assert "a quote left open" in info.value.what and info.value.where == str(golden)
    assert "\n" not in str(info.value)
    assert tiny_project.latest_run("golden") is None  # nothing stored


def test_a_csv_without_a_known_column_is_refused_naming_the_columns_it_has(tiny_project):
    golden = tiny_project.root.parent / "golden.csv"
    golden.write_text("name,label\nphotos/red/img_red_000.png,red\n")
    with pytest.raises(DatacentricError) as info:
        golden_set(tiny_project, golden)
    assert info.value.what == "CSV needs a file, image, path or id column (has: name, label)"
    assert info.value.where == str(golden)


def test_the_cli_says_one_line_for_a_bad_golden_csv(tiny_trained):
    golden = tiny_trained.root.parent / "golden.csv"
    golden.write_text('file\n"photos/red/img_red_000.png\n')
    result = CliRunner().invoke(app, ["retrain", str(tiny_trained.root), "--golden", str(golden)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "a quote left open" in result.output


def test_a_name_the_system_cannot_look_up_is_a_one_line_not_found(tiny_project):
    golden = tiny_project.root.parent / "golden.csv"
    golden.write_text("file\n" + "a" * 300 + ".png\n")  # too long for the file system
    with pytest.raises(DatacentricError, match="golden.csv:2"):
        golden_set(tiny_project, golden)
