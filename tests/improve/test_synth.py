from __future__ import annotations

import json

import numpy as np
import pytest

from datacentric.improve import CopyPaste, find_defect_region, improve_project, synthesize
from tests.support.factories import texture, with_pit


def test_defect_region_is_found_without_a_mask():
    rng = np.random.default_rng(0)
    image = texture(rng, 64)
    image[40:44, 10:14] = 30  # a dark pit at rows 40-43, cols 10-13
    region = find_defect_region(image)
    y0, x0, y1, x1 = region.box
    assert y0 <= 40 and y1 >= 44 and x0 <= 10 and x1 >= 14
    assert (y1 - y0) * (x1 - x0) < 0.1 * 64 * 64  # the region, not the whole image
    assert region.alpha.shape == (y1 - y0, x1 - x0) and region.alpha.max() == pytest.approx(1.0)


def test_copy_paste_moves_the_defect_onto_backgrounds():
    rng = np.random.default_rng(1)
    defects = [with_pit(texture(rng), rng) for _ in range(3)]
    backgrounds = [texture(rng) for _ in range(4)]
    made = CopyPaste().generate("pit", defects, backgrounds, 6, seed=2)
    again = CopyPaste().generate("pit", defects, backgrounds, 6, seed=2)
    assert len(made) == 6
    for m, a in zip(made, again):
        assert np.array_equal(m.image, a.image)
        base = backgrounds[m.background].astype(int)
        changed = np.abs(m.image.astype(int) - base).max(axis=2) > 25
        assert changed.any() and changed.mean() < 0.1  # a local defect, the rest is the ok image
        assert m.image.astype(int).min() < base.min() - 20  # the pit is dark
        assert 0 <= m.defect < 3 and {"region", "at", "turn", "flip"} <= set(m.params)


def test_synth_adds_tagged_images_with_parents(defect_project):
    proj = defect_project
    real_before = len(proj.dataset("real"))
    result = synthesize(proj, "pit", 5)
    assert len(result.ids) == 5
    real = {r.id: r for r in proj.images("real")}
    labels = proj.labels()
    for image_id in result.ids:
        record = proj.image(image_id)
        assert record.origin == "synthetic"
        assert record.parent in real and labels[record.parent] == "pit"  # the donor
        assert record.generator["name"] == "copy_paste"
        assert record.generator["params"]["background"] in real
        assert record.path.parent == proj.root / "generated" / "synthetic" / "pit"
        assert record.path.exists()
        assert labels[image_id] == "pit"
        assert [a.source for a in proj.annotations(image_id)] == ["synthetic"]
    # never evidence: the real data set (what models validate on) is unchanged
    assert len(proj.dataset("real")) == real_before
    assert set(proj.dataset("real").ids).isdisjoint(result.ids)
    json.dumps(proj.image(result.ids[0]).generator)


def test_synth_unknown_generator_is_a_clear_error(defect_project):
    from datacentric.errors import DatacentricError

    with pytest.raises(DatacentricError, match="no generator 'nope'"):
        synthesize(defect_project, "pit", 2, generator="nope")


@pytest.mark.parametrize("side", [300, 301, 457])
def test_defect_region_on_photo_sized_images_is_found_at_reduced_resolution(side):
    rng = np.random.default_rng(side)
    image = (110 + rng.random((side, side, 3)) * 30).astype(np.uint8)
    image[150:160, 200:214] = 15  # a dark pit, far smaller than the median window
    region = find_defect_region(image)
    y0, x0, y1, x1 = region.box
    assert y0 <= 150 and y1 >= 160 and x0 <= 200 and x1 >= 214
    assert y1 - y0 < 30 and x1 - x0 < 30
    assert region.delta.shape[:2] == region.alpha.shape == (y1 - y0, x1 - x0)


def test_a_generator_that_cannot_draw_the_class_says_what_it_draws_and_how_to_map_it(defect_project):
    from datacentric.errors import DatacentricError

    pytest.importorskip("datacentric_procedural")
    with pytest.raises(
        DatacentricError,
        match=r"draws scratch, pit, .* not 'blob' \(asked for class 'pit'\).*\(e\.g\. --defect-type scratch\)",
    ):
        synthesize(defect_project, "pit", 2, generator="procedural", defect_type="blob")
    made = synthesize(defect_project, "pit", 2, generator="procedural", defect_type="scratch")
    assert len(made.ids) == 2 and made.target == "pit"  # labelled pit, drawn as a scratch


def test_improve_says_which_generator_made_nothing_and_why(defect_project, fake_model):
    pytest.importorskip("datacentric_procedural")
    result = improve_project(
        defect_project,
        classes=["pit"],
        budget=4,
        seeds=2,
        folds=3,
        generators=["procedural"],
        defect_types={"pit": "blob"},
        materialise=False,
    )
    assert any("draws scratch" in note and "not 'blob' (asked for class 'pit')" in note for note in result.notes)
    assert not any(f.kind == "synthetic" for f in result.fixes)
    assert result.to_json()["notes"] == result.notes
