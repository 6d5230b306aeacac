"""The ``synth`` step: make images of a class with a registered generator and add them, tagged.

They are added like a kept fix of ``improve`` (see :mod:`datacentric.improve.candidates`):
training-only, never validated or scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.improve.candidates import add_to_project, candidate_folder, load_arrays, synth_candidate
from datacentric.improve.synth import get_generator
from datacentric.improve.targets import background_class, is_defect_free
from datacentric.names import clean_class_name
from datacentric.project import Project

__all__ = ["SynthResult", "synthesize"]


@dataclass
class SynthResult:
    """Images added by ``synth``."""

    target: str
    generator: str
    paths: list[Path]
    ids: list[str]


def synthesize(
    proj: Project,
    target: str,
    n: int,
    *,
    generator: str = "copy_paste",
    background: str | None = None,
    seed: int | None = None,
    defect_type: str | None = None,
) -> SynthResult:
    """Make ``n`` synthetic images of ``target`` with a registered generator and add them, tagged.

    ``defect_type`` is what the generator should draw for the class (default: its name).
    They are not measured here (``improve`` does that); they are training-only like every
    synthetic image.
    """
    target = clean_class_name(target, "--class")
    if n < 1:
        raise DatacentricError(f"n must be at least 1, got {n}", "--n")
    seed = proj.config.seed if seed is None else seed
    data = proj.dataset("real")
    names = list(data.classes)
    if target not in names:
        raise DatacentricError(f"unknown class '{target}' (classes: {', '.join(names)})", proj.root)
    if is_defect_free(target):
        raise DatacentricError(
            f"'{target}' is the defect-free class: generators make defect images "
            f"(augmentation in `datacentric improve --class {target}` can help it)",
            proj.root,
        )
    counts = {c: int((data.labels == k).sum()) for k, c in enumerate(names)}
    gen = get_generator(generator)
    kind = defect_type or target
    if not gen.supports(kind):
        raise DatacentricError(gen.cannot_make(target, kind, per_class=False), proj.root)
    k = names.index(target)
    bg = background or background_class(names, [target], counts)
    rows = np.flatnonzero(data.labels == k)
    bg_rows = np.flatnonzero(data.labels == names.index(bg))
    if gen.needs_defects and len(rows) == 0:
        raise DatacentricError(f"generator '{generator}' needs real '{target}' images", proj.root)
    run = proj.new_run("synth", {"target": target, "n": n, "generator": generator, "seed": seed})
    cand = synth_candidate(
        generator,
        target,
        [data.ids[i] for i in rows],
        load_arrays([data.paths[i] for i in rows]),
        [data.ids[i] for i in bg_rows],
        load_arrays([data.paths[i] for i in bg_rows]),
        n,
        seed,
        candidate_folder(proj, run),
        kind,
    )
    ids = add_to_project(proj, cand, run.id)
    proj.finish_run(run, {"images": len(ids), "target": target, "generator": generator})
    folder = proj.path("generated", "synthetic", target)
    return SynthResult(target=target, generator=generator, paths=[folder / f"{i[:16]}.png" for i in ids], ids=ids)
