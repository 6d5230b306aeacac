"""generate_demo: determinism, counts, CSV files, annotator noise, shared wrong labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from datacentric.demo import ANNOTATORS, CLASSES, generate_demo
from datacentric.errors import DatacentricError
from datacentric.data.images import inspect_image

from tests.support.files import read_rows

PLAUSIBLE = {
    ("pit", "scratch"),
    ("scratch", "pit"),
    ("dent", "ok"),
    ("ok", "dent"),
    ("discoloration", "ok"),
    ("ok", "discoloration"),
}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a = generate_demo(tmp_path / "a", per_class=3, seed=7, image_size=32)
    b = generate_demo(tmp_path / "b", per_class=3, seed=7, image_size=32)
    c = generate_demo(tmp_path / "c", per_class=3, seed=8, image_size=32)
    snap_a, snap_b, snap_c = _snapshot(a.root), _snapshot(b.root), _snapshot(c.root)
    assert len(snap_a) == 15 + 2
    assert snap_a == snap_b
    pngs_a = {v for k, v in snap_a.items() if k.endswith(".png")}
    pngs_c = {v for k, v in snap_c.items() if k.endswith(".png")}
    assert not pngs_a & pngs_c


def test_counts_per_class_and_folders(demo):
    assert demo.classes == list(CLASSES)
    assert demo.counts == {c: 8 for c in CLASSES}
    assert demo.n_images == 40 == len(set(demo.files))
    on_disk = Counter(p.parent.name for p in demo.photos_dir.glob("*/*.png"))
    assert dict(on_disk) == {c: n for c, n in demo.folder_counts.items() if n}
    assert sum(demo.folder_counts.values()) == 40
    # names must not give the class away, and every file is a valid 32 px image
    assert all(p.name.startswith("part_") for p in demo.files)
    info = inspect_image(demo.files[0])
    assert (info.width, info.height) == (32, 32)


def test_csv_columns_and_rows(demo):
    extra = read_rows(demo.labels_csv)
    truth = read_rows(demo.ground_truth_csv)
    assert list(extra[0]) == ["file", "label", "annotator", "line", "camera", "shift", "part_id"]
    assert list(truth[0]) == ["file", "true_label", "line", "camera", "shift", "part_id", "wrong_label", *ANNOTATORS]
    assert len(truth) == 40
    per_annotator = Counter(r["annotator"] for r in extra)
    assert per_annotator["mira"] == per_annotator["tom"] == 40
    assert per_annotator["ana"] == 20 == demo.labelled["ana"]
    for row in extra:
        path = demo.root / row["file"]
        assert path.is_file()
        assert row["line"] in ("L1", "L2") and row["camera"] in ("A", "B") and row["shift"] in ("day", "night")
        if row["annotator"] == "mira":
            assert path.parent.name == row["label"]  # her CSV rows repeat her folders
    by_file = {r["file"]: r for r in truth}
    for row in extra:
        t = by_file[row["file"]]
        assert (row["line"], row["camera"], row["shift"], row["part_id"]) == (
            t["line"],
            t["camera"],
            t["shift"],
            t["part_id"],
        )
        assert t[row["annotator"]] == row["label"]
    assert {r["camera"] for r in truth} == {"A", "B"}


def test_wrong_label_flags_match_the_annotators(demo):
    truth = read_rows(demo.ground_truth_csv)
    flagged = [r for r in truth if r["wrong_label"] == "1"]
    assert len(flagged) == round(0.06 * 40) == len(demo.wrong_files)
    assert {(demo.root / r["file"]) for r in flagged} == set(demo.wrong_files)
    for row in truth:
        given = {row[a] for a in ANNOTATORS if row[a]}
        all_agree_wrong = len(given) == 1 and row["true_label"] not in given
        assert all_agree_wrong == (row["wrong_label"] == "1"), row


def test_annotator_error_rates_follow_the_configuration(tmp_path):
    rates = (0.1, 0.2, 0.4)
    data = generate_demo(tmp_path / "d", per_class=20, seed=1, image_size=16, annotator_error=rates, wrong_labels=0.05)
    truth = read_rows(data.ground_truth_csv)
    clean = [r for r in truth if r["wrong_label"] == "0"]
    pairs = []
    for name, rate in zip(ANNOTATORS, rates):
        seen = [r for r in clean if r[name]]
        wrong = [r for r in seen if r[name] != r["true_label"]]
        assert len(wrong) == round(rate * len(seen)), name
        pairs += [(r["true_label"], r[name]) for r in wrong]
    observed = {a: data.errors[a] / data.labelled[a] for a in ANNOTATORS}  # shared wrong ones included
    assert observed["ana"] > observed["tom"] > observed["mira"] > 0.05
    assert data.labelled == {"mira": 100, "tom": 100, "ana": 50}
    # mistakes are mostly the plausible confusions (uniform mistakes would give about 30%)
    share = sum(p in PLAUSIBLE for p in pairs) / len(pairs)
    assert share > 0.45


def test_a_second_run_needs_overwrite_and_leaves_foreign_files_alone(tmp_path):
    first = generate_demo(tmp_path / "d", per_class=2, seed=0, image_size=16)
    before = _snapshot(first.root)
    with pytest.raises(DatacentricError, match="already here"):
        generate_demo(tmp_path / "d", per_class=2, seed=0, image_size=16)
    again = generate_demo(tmp_path / "d", per_class=2, seed=0, image_size=16, overwrite=True)
    assert _snapshot(again.root) == before
    (first.photos_dir / "ok" / "mine.jpg").write_bytes(b"x")
    with pytest.raises(DatacentricError, match="did not write"):
        generate_demo(tmp_path / "d", per_class=2, seed=0, image_size=16, overwrite=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"per_class": 0}, "per_class"),
        ({"annotator_error": (0.1, 1.5, 0.1)}, "annotator_error"),
        ({"annotator_error": (0.1, 0.1)}, "3 rates"),
        ({"wrong_labels": 0.7}, "wrong_labels"),
        ({"image_size": 8}, "image_size"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(DatacentricError, match=message):
        generate_demo(tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


def test_some_parts_are_photographed_several_times(tmp_path):
    """part_id: repeated shots of one part share its true label and line, and show the same surface."""
    import numpy as np
    from PIL import Image

    demo = generate_demo(tmp_path / "d", per_class=12, seed=3, image_size=32)
    truth = read_rows(demo.ground_truth_csv)
    parts: dict[str, list[dict]] = {}
    for row in truth:
        parts.setdefault(row["part_id"], []).append(row)
    sizes = Counter(len(rows) for rows in parts.values())
    assert set(sizes) <= {1, 2, 3} and sizes[1] > len(parts) / 2 and sizes[2] + sizes[3] >= 3
    for rows in parts.values():
        assert len({(r["true_label"], r["line"]) for r in rows}) == 1
    pixels = {r["file"]: np.asarray(Image.open(demo.root / r["file"]), dtype=float) for r in truth}

    def gap(a: dict, b: dict) -> float:
        return float(np.abs(pixels[a["file"]] - pixels[b["file"]]).mean())

    shots = [rows for rows in parts.values() if len(rows) > 1]
    strangers = [(truth[i], truth[i + 1]) for i in range(0, 20, 2) if truth[i]["part_id"] != truth[i + 1]["part_id"]]
    assert all(0 < gap(rows[0], rows[1]) for rows in shots)  # a new photo, not a copy
    assert np.median([gap(r[0], r[1]) for r in shots]) < np.median([gap(a, b) for a, b in strangers])
