"""Candidate fixes as images: written inside the improve run, and the kept ones added to the project.

Every generated or augmented image that is kept is written under ``<project>/generated/``,
added with origin ``synthetic`` or ``augmented``, its parent image id and the
generator's name and parameters, and labelled by annotator ``datacentric``
with annotation source ``synthetic``/``augmented``. ``Project.dataset()``
(origin ``real``) never returns them, so they never reach validation or metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from datacentric.data.images import content_hash, load_image
from datacentric.improve.augment import Recipe, augment_images
from datacentric.improve.results import Candidate
from datacentric.improve.synth import get_generator
from datacentric.improve.targets import background_class
from datacentric.paths import inside
from datacentric.project import LabeledSet, Project, Run
from datacentric.serialize import to_jsonable

__all__ = [
    "ANNOTATOR",
    "add_to_project",
    "augment_candidate",
    "candidate_folder",
    "generator_candidates",
    "load_arrays",
    "synth_candidate",
]

ANNOTATOR = "datacentric"
ORIGIN = {"augment": "augmented", "synthetic": "synthetic"}


def candidate_folder(proj: Project, run: Run, *name: str) -> Path:
    """The folder of one candidate fix inside the run (names come from data: checked)."""
    return proj.path("runs", run.id, "candidates", *name)


def load_arrays(paths: Sequence[Path]) -> list[np.ndarray]:
    """The images at ``paths`` as pixel arrays."""
    return [np.asarray(load_image(p)) for p in paths]


def _write(folder: Path, images: Sequence[np.ndarray], prefix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(images):
        path = inside(folder, f"{prefix}_{i:04d}.png")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def augment_candidate(
    recipe: Recipe, ids: list[str], images: list[np.ndarray], n: int, seed: int, folder: Path
) -> Candidate:
    """``n`` images augmented from ``images`` (ids ``ids``) by ``recipe``, written to ``folder``."""
    made = augment_images(images, recipe, n, seed=seed)
    name = f"augment:{recipe.name}:{recipe.target}"
    return Candidate(
        name=name,
        kind="augment",
        target=recipe.target,
        paths=_write(folder, [m.image for m in made], f"{recipe.target}_{recipe.name}"),
        parents=[ids[m.parent] for m in made],
        params=[m.params for m in made],
        generator={"name": recipe.name, "kind": "augment", "reason": recipe.reason},
        recipe=recipe,
    )


def synth_candidate(
    generator_name: str,
    target: str,
    defect_ids: list[str],
    defects: list[np.ndarray],
    background_ids: list[str],
    backgrounds: list[np.ndarray],
    n: int,
    seed: int,
    folder: Path,
    kind: str | None = None,
) -> Candidate:
    """Images of class ``target`` drawn as defect type ``kind`` (default: the class name)."""
    generator = get_generator(generator_name)
    made = generator.generate(kind or target, defects, backgrounds, n, seed=seed)
    params, parents = [], []
    for m in made:
        extra = {}
        if m.defect is not None:
            extra["donor"] = defect_ids[m.defect]
        if m.background is not None:
            extra["background"] = background_ids[m.background]
        params.append({**m.params, **extra})
        # the parent carries the label's evidence: the donor when there is one
        parents.append(extra.get("donor") or extra.get("background"))
    return Candidate(
        name=f"synthetic:{generator_name}:{target}",
        kind="synthetic",
        target=target,
        paths=_write(folder, [m.image for m in made], f"{target}_{generator_name}"),
        parents=parents,
        params=params,
        generator={"name": generator_name, "kind": "synthetic", "options": to_jsonable(generator.get_params())},
    )


def generator_candidates(
    proj: Project,
    run: Run,
    data: LabeledSet,
    target: str,
    *,
    counts: dict[str, int],
    generators: Sequence[str],
    kind: str,
    defects: tuple[list[str], list[np.ndarray]],
    budget: int,
    seed: int,
    notes: list[str],
) -> list[Candidate]:
    """Synthetic-defect candidates for ``target`` from every generator that can draw ``kind``, on the
    defect-free images; a generator that cannot says why in ``notes``.
    """
    defect_ids, defect_arrays = defects
    names = list(data.classes)
    # the canvas for this target's defects: never another target's defect images
    bg_rows = np.flatnonzero(data.labels == names.index(background_class(names, [target], counts)))
    backgrounds = load_arrays([data.paths[i] for i in bg_rows])
    background_ids = [data.ids[i] for i in bg_rows]
    out = []
    for name in generators:
        generator = get_generator(name)
        if not generator.supports(kind):
            notes.append(generator.cannot_make(target, kind))
            continue
        if generator.needs_backgrounds and not backgrounds:
            notes.append(f"generator '{name}' needs defect-free images to draw '{target}' on")
            continue
        folder = candidate_folder(proj, run, f"synthetic-{name}-{target}")
        out.append(
            synth_candidate(
                name, target, defect_ids, defect_arrays, background_ids, backgrounds, budget, seed, folder, kind
            )
        )
    return out


def add_to_project(proj: Project, candidate: Candidate, run_id: str) -> list[str]:
    """Copy a candidate's images under <project>/generated/ and add them, tagged, to the store.

    An image the store already holds (a recipe that left its parent unchanged, or a copy
    made before) is skipped: it is neither a new image nor a label on the one it equals.
    """
    origin = ORIGIN[candidate.kind]
    folder = proj.path("generated", origin, candidate.target)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    with proj.transaction():
        for path, parent, params in zip(candidate.paths, candidate.parents, candidate.params):
            image_id = content_hash(path)
            if image_id in ids or proj.has_image(image_id):
                continue
            target = folder / f"{image_id[:16]}.png"
            if not target.exists():
                target.write_bytes(path.read_bytes())
            with Image.open(target) as im:
                width, height = im.size
            proj.add_image(
                id=image_id,
                path=target,
                width=width,
                height=height,
                metadata={"generated_by": candidate.generator["name"], "run": run_id},
                origin=origin,
                parent=parent,
                generator={**candidate.generator, "params": params, "run": run_id},
            )
            proj.add_annotation(image_id=image_id, annotator=ANNOTATOR, label=candidate.target, source=origin)
            ids.append(image_id)
    return ids
