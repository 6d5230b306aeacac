from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("procedural_importable")

NAMES = ["Scratch", "Pit", "Dent", "Discoloration"]


def plain(size=48, seed=0):
    rng = np.random.default_rng(seed)
    return np.repeat(rng.normal(140, 6, (size, size, 1)).clip(0, 255), 3, axis=2).astype(np.uint8)


@pytest.mark.parametrize("name", NAMES)
def test_transform_is_deterministic_with_a_seed_and_changes_pixels(name):
    import albumentations as A
    import datacentric_procedural as dp

    image = plain()
    one = A.Compose([getattr(dp, name)(p=1.0)], seed=7)(image=image)["image"]
    two = A.Compose([getattr(dp, name)(p=1.0)], seed=7)(image=image)["image"]
    other = A.Compose([getattr(dp, name)(p=1.0)], seed=8)(image=image)["image"]
    assert one.dtype == np.uint8 and one.shape == image.shape
    assert np.array_equal(one, two)
    assert not np.array_equal(one, other)
    assert np.abs(one.astype(int) - image).max() >= 15  # a visible defect


@pytest.mark.parametrize("name", NAMES)
def test_transform_serialises_and_round_trips(name, tmp_path):
    import albumentations as A
    import datacentric_procedural as dp

    pipeline = A.Compose([getattr(dp, name)(p=1.0)], seed=3)
    A.save(pipeline, str(tmp_path / "p.json"))
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["transform"]["transforms"][0]["__class_fullname__"] == f"datacentric_procedural.transforms.{name}"
    loaded = A.load(str(tmp_path / "p.json"))
    loaded.set_random_seed(3)
    image = plain()
    assert np.array_equal(loaded(image=image)["image"], pipeline(image=image)["image"])


def test_pit_darkens_a_small_round_area():
    from datacentric_procedural import functional as F

    image = np.full((40, 40, 3), 150, np.uint8)
    out = F.pit(image, (20.0, 20.0), 2.0, 100.0)
    assert out[20, 20, 0] < 60
    assert out[2, 2, 0] == 150  # far away: untouched


def test_procedural_generator_makes_tagged_images(fresh_registry):
    from datacentric_procedural import register_generators
    from datacentric_procedural.generator import ProceduralGenerator

    # registered through its hook as the entry point would; unregistered afterwards by the fixture
    fresh_registry.load_plugins()
    if "procedural" not in fresh_registry.names("generator"):
        register_generators(lambda obj, name=None: fresh_registry.register("generator", obj, name=name))
    from datacentric.improve import get_generator

    gen = get_generator("procedural")
    assert isinstance(gen, ProceduralGenerator)
    assert gen.supports("pit") and not gen.supports("crack")
    backgrounds = [plain(seed=i) for i in range(3)]
    made = gen.generate("pit", [], backgrounds, 4, seed=1)
    again = gen.generate("pit", [], backgrounds, 4, seed=1)
    assert len(made) == len(again) == 4  # the checks below pass on empty lists too
    assert [m.background for m in made] == [m.background for m in again]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(made, again))
    assert all(m.defect is None and m.params["defect"] == "pit" for m in made)
    assert all(not np.array_equal(m.image, backgrounds[m.background]) for m in made)
    json.dumps([m.params for m in made])  # parameters are stored with each image


@pytest.mark.skipif(
    importlib.util.find_spec("datacentric_procedural") is None
    or not any(
        ep.name == "procedural"
        for ep in __import__("importlib.metadata").metadata.entry_points(group="datacentric.generators")
    ),
    reason="datacentric-procedural not installed (CI installs it: pip install ./plugins/datacentric-procedural)",
)
def test_installed_plugin_is_discovered_through_its_entry_point(fresh_registry):
    entry = next(e for e in fresh_registry.entries("generator") if e.name == "procedural")
    assert entry.source.startswith("datacentric-procedural ")
    assert fresh_registry.broken_plugins() == []
