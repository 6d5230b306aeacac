"""Drift per metadata group or time window, Holm-corrected across groups."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.drift import DriftCheck, check_drift
from datacentric.drift.groups import group_images, parse_window, score_groups
from datacentric.errors import DatacentricError

from tests.support.factories import COLOURS, write_images


def _files(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
        paths.append((folder / name).resolve())
    return paths


def test_windows_are_durations():
    assert [parse_window(w) for w in ("30s", "15min", "1h", "2d", "1.5h")] == [30, 900, 3600, 172800, 5400]
    for bad in ("", "1", "h", "-1h", "0h", "1 week"):
        with pytest.raises(DatacentricError, match="not a duration"):
            parse_window(bad)


def test_groups_from_a_metadata_csv_and_sub_folders(tmp_path):
    paths = _files(tmp_path / "new", ["cam1/a.png", "cam1/b.png", "cam2/c.png", "d.png"])
    (tmp_path / "meta.csv").write_text(
        f"file,camera,shift\nnew/cam1/a.png,A,day\nnew/cam1/b.png,A,night\n{paths[2]},B,day\n", encoding="utf-8"
    )
    groups = group_images(paths, tmp_path / "new", per=["camera"], metadata=tmp_path / "meta.csv")
    assert groups == {"camera=(missing)": [3], "camera=A": [0, 1], "camera=B": [2]}
    both = group_images(paths, tmp_path / "new", per=["camera", "shift"], metadata=tmp_path / "meta.csv")
    assert both["camera=A, shift=night"] == [1] and len(both) == 4
    assert group_images(paths, tmp_path / "new", per=["folder"]) == {
        "folder=.": [3],
        "folder=cam1": [0, 1],
        "folder=cam2": [2],
    }


def test_unknown_columns_and_a_csv_without_file_are_one_line_errors(tmp_path):
    paths = _files(tmp_path / "new", ["a.png"])
    with pytest.raises(DatacentricError, match="no metadata column camera.*--metadata"):
        group_images(paths, tmp_path / "new", per=["camera"])
    (tmp_path / "meta.csv").write_text("path,camera\na.png,A\n", encoding="utf-8")
    with pytest.raises(DatacentricError, match="'file' column"):
        group_images(paths, tmp_path / "new", per=["camera"], metadata=tmp_path / "meta.csv")
    (tmp_path / "meta.csv").write_text("file;camera\na\x00.png;A\n", encoding="utf-8")  # semicolons, a NUL
    with pytest.raises(DatacentricError, match="NUL byte") as refused:
        group_images(paths, tmp_path / "new", per=["camera"], metadata=tmp_path / "meta.csv")
    assert refused.value.where.endswith("meta.csv:2")


def test_windows_by_modification_time_or_a_timestamp_column(tmp_path):
    paths = _files(tmp_path / "new", ["a.png", "b.png", "c.png"])
    base = 1_790_000_000  # 2026-09-21T14:13:20Z
    for path, offset in zip(paths, (0, 600, 4000)):
        os.utime(path, (base + offset, base + offset))
    assert group_images(paths, tmp_path / "new", window="1h") == {"2026-09-21T14:00Z": [0, 1], "2026-09-21T15:00Z": [2]}
    (tmp_path / "meta.csv").write_text(
        "file,timestamp\nnew/a.png,2026-11-02T23:59:59Z\n"
        "new/b.png,2026-11-03T00:00:00+00:00\nnew/c.png,2026-11-03 08:00\n",
        encoding="utf-8",
    )
    assert group_images(paths, tmp_path / "new", window="1d", metadata=tmp_path / "meta.csv") == {
        "2026-11-02T00:00Z": [0],
        "2026-11-03T00:00Z": [1, 2],
    }


def test_only_the_shifted_group_drifts_after_holm(rng):
    check = DriftCheck(n_permutations=200).fit(rng.normal(size=(120, 6)))
    X = rng.normal(size=(90, 6))
    X[60:] += 2.0  # the third group moved
    groups = {"a": list(range(30)), "b": list(range(30, 60)), "c": list(range(60, 90)), "tiny": [0, 1]}
    verdicts = {v.group: v for v in score_groups(check, groups, alpha=0.05, X=X, statistics=None, predicted=None)}
    assert [g for g, v in verdicts.items() if v.drift] == ["c"]
    assert not verdicts["tiny"].tested and verdicts["tiny"].p_adjusted is None
    tested = [verdicts[g] for g in "abc"]
    smallest = min(tested, key=lambda v: v.p_value)
    assert smallest.p_adjusted == pytest.approx(min(1.0, 3 * smallest.p_value))  # Holm over 3 groups
    assert all(v.p_adjusted >= v.p_value for v in tested)


def _camera_batch(tmp_path):
    """Camera A: like training; camera B: very dark. A CSV names each file's camera."""
    new = tmp_path / "new"
    a = write_images(new, COLOURS, 3, seed=31, prefix="a")
    b = write_images(new, {"grey": (20, 20, 20)}, 8, seed=32, prefix="b")
    rows = [f"{p.name},A" for p in a] + [f"{p.name},B" for p in b]
    (new / "cameras.csv").write_text("file,camera\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return new


def test_check_drift_per_camera_names_the_drifting_camera(tiny_trained, tmp_path):
    new = _camera_batch(tmp_path)
    result = check_drift(tiny_trained, new, n_permutations=200, per=["camera"], metadata=new / "cameras.csv")
    verdicts = {g["group"]: g for g in result.groups}
    assert set(verdicts) == {"camera=A", "camera=B"}
    assert verdicts["camera=B"]["drift"] and not verdicts["camera=A"]["drift"]
    assert (verdicts["camera=A"]["n"], verdicts["camera=B"]["n"]) == (9, 8)
    assert result.drift and result.p_value == verdicts["camera=B"]["p_adjusted"]
    assert result.description.startswith("camera=B: ") and "darker" in result.changes
    assert result.grouping == {"per": ["camera"], "window": None, "metadata": str(new / "cameras.csv")}
    stored = json.loads((tiny_trained.run(result.run_id).dir / "drift.json").read_text())
    assert [g["group"] for g in stored["groups"]] == ["camera=A", "camera=B"]
    assert "Verdict per group" in (tiny_trained.run(result.run_id).dir / "report.html").read_text()
    assert check_drift(tiny_trained, new, n_permutations=200).groups == []  # the default: one batch


def test_cli_per_and_window_list_group_verdicts(tiny_trained, tmp_path):
    new = _camera_batch(tmp_path)
    args = ["drift", str(tiny_trained.root), str(new), "--per", "camera", "--metadata", str(new / "cameras.csv")]
    out = CliRunner().invoke(app, args + ["--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [(g["group"], g["drift"]) for g in data["groups"]] == [("camera=A", False), ("camera=B", True)]
    text = CliRunner().invoke(app, args + ["--window", "1d"])
    assert text.exit_code == 0, text.output
    assert "groups tested (Holm" in text.output and "camera=B, 20" in text.output
    bad = CliRunner().invoke(app, ["drift", str(tiny_trained.root), str(new), "--per", "camera"])
    assert bad.exit_code == 1 and "error: no metadata column camera" in bad.output
    for hour, path in enumerate(sorted(new.glob("*.png"))):  # one image an hour
        os.utime(path, (1_790_000_000 + 3600 * hour,) * 2)
    with pytest.raises(DatacentricError, match="no group has 5 images"):
        check_drift(tiny_trained, new, window="1h")
