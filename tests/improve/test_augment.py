from __future__ import annotations

import numpy as np
from PIL import Image

from datacentric.improve import Recipe, augment_images, choose_recipes, make_recipe
from tests.support.factories import texture


def test_recipe_saves_and_loads_as_albumentations_json(tmp_path):
    recipe = make_recipe("lighting", "pit", "camera B is dark")
    path = recipe.save(tmp_path / "recipe.json")
    loaded = Recipe.load(path)
    assert (loaded.name, loaded.target, loaded.reason) == ("lighting", "pit", "camera B is dark")
    assert [type(t).__name__ for t in loaded.pipeline.transforms] == [
        type(t).__name__ for t in recipe.pipeline.transforms
    ]
    image = texture(np.random.default_rng(0))
    a = augment_images([image], recipe, 2, seed=5)
    b = augment_images([image], loaded, 2, seed=5)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))


def test_recipes_follow_the_failure():
    plain = choose_recipes("pit")
    assert [r.name for r in plain] == ["geometry"]
    camera = choose_recipes("pit", weak_slices=[{"column": "camera", "value": "B", "weak": True}])
    assert [r.name for r in camera] == ["geometry", "lighting"] and "camera=B" in camera[1].reason
    blurry = choose_recipes("pit", weak_slices=[{"column": "shift", "value": "blur", "weak": True}])
    assert "optics" in [r.name for r in blurry]
    varied = choose_recipes("pit", brightness_spread=0.2, other_brightness_spread=0.05)
    assert "lighting" in [r.name for r in varied]


def test_augmented_images_name_their_parent_and_are_reproducible():
    rng = np.random.default_rng(0)
    images = [texture(rng) for _ in range(3)]
    recipe = make_recipe("geometry", "pit")
    made = augment_images(images, recipe, 7, seed=1)
    assert sorted({m.parent for m in made}) == [0, 1, 2]
    assert all(m.params["recipe"] == "geometry" and isinstance(m.params["seed"], int) for m in made)
    again = augment_images(images, recipe, 7, seed=1)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(made, again))
    assert any(not np.array_equal(m.image, images[m.parent]) for m in made)


def test_a_copy_equal_to_an_image_already_in_the_store_is_not_added(defect_project, tmp_path):
    """A recipe may leave its parent unchanged: that copy must not land a bot label on the real photo."""
    import shutil

    from datacentric.improve.candidates import add_to_project
    from datacentric.improve.results import Candidate

    proj = defect_project
    parent = proj.images("real")[0]
    unchanged = tmp_path / "unchanged.png"
    shutil.copyfile(parent.path, unchanged)
    changed = tmp_path / "changed.png"
    Image.fromarray(texture(np.random.default_rng(7))).save(changed)
    candidate = Candidate(
        name="augment:lighting:pit",
        kind="augment",
        target="pit",
        paths=[unchanged, changed, changed],
        parents=[parent.id] * 3,
        params=[{}] * 3,
        generator={"name": "lighting", "kind": "augment"},
    )
    labels_before = [(a.annotator, a.label) for a in proj.annotations(parent.id)]
    added = add_to_project(proj, candidate, "run-1")
    assert len(added) == 1 and proj.image(added[0]).origin == "augmented"
    assert [(a.annotator, a.label) for a in proj.annotations(parent.id)] == labels_before
    assert "generated_by" not in proj.image(parent.id).metadata
