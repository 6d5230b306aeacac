"""Project-level steps: ``improve`` (try fixes, keep what helps) and ``synth`` (make images).

Every generated or augmented image is written under ``<project>/generated/``,
added with origin ``synthetic`` or ``augmented``, its parent image id and the
generator's name and parameters, and labelled by annotator ``datacentric``
with annotation source ``synthetic``/``augmented``. ``Project.dataset()``
(origin ``real``) never returns them, so they never reach validation or metrics.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from datacentric.collect import estimate_more, goal_for
from datacentric.errors import DatacentricError
from datacentric.images import content_hash, load_image
from datacentric.improve.augment import Recipe, augment_images, choose_recipes
from datacentric.improve.lift import (
    Fix,
    LearningCurve,
    LiftResult,
    baseline_scores,
    learning_curve,
    measure_lift,
)
from datacentric.improve.results import Candidate, ImproveResult
from datacentric.improve.synth import get_generator
from datacentric.names import clean_class_name
from datacentric.paths import inside, write_atomic
from datacentric.progress import track
from datacentric.project import Project, Run
from datacentric.runs import read_audit

__all__ = [
    "ANNOTATOR",
    "ImproveResult",
    "SynthResult",
    "background_class",
    "is_defect_free",
    "find_targets",
    "improve_project",
    "synthesize",
]

ANNOTATOR = "datacentric"
BACKGROUND_NAMES = ("ok", "good", "normal", "pass", "background", "none", "no_defect")
ORIGIN = {"augment": "augmented", "synthetic": "synthetic"}


@dataclass
class SynthResult:
    """Images added by ``synth``."""

    target: str
    generator: str
    paths: list[Path]
    ids: list[str]


# -- choosing what to fix --------------------------------------------------------------
def find_targets(proj: Project, *, recall: dict[str, float] | None = None) -> tuple[list[str], str]:
    """The classes to improve and where that came from.

    The latest audit's weak classes; else the lowest-recall class of the champion
    train run; else of ``recall`` (a baseline measured now).
    """
    audit = proj.latest_audit()
    if audit is not None:
        data = read_audit(audit)
        weak = [c["name"] for c in data.get("classes", []) if c.get("weak")]
        if weak:
            return weak, f"weak classes of audit {audit.id}"
    train = proj.champion()
    per_class = (train.metrics.get("per_class") if train is not None else None) or {}
    scores = {c: v.get("recall") for c, v in per_class.items() if v.get("recall") is not None}
    source = f"lowest recall in train run {train.id}" if scores else "lowest recall measured now"
    scores = scores or {c: v for c, v in (recall or {}).items() if np.isfinite(v)}
    if not scores:
        raise DatacentricError("no audit or train run to pick weak classes from; name one with --class", proj.root)
    low = min(scores.values())
    return [c for c, v in sorted(scores.items()) if v <= low + 0.02], source


def is_defect_free(name: str) -> bool:
    """Whether ``name`` is the class of parts without a defect ('ok', 'good', ...)."""
    return name.lower() in BACKGROUND_NAMES


def background_class(classes: Sequence[str], targets: Sequence[str], counts: dict[str, int]) -> str:
    """The defect-free class synthetic defects are pasted onto: 'ok' (or alike), else the largest other."""
    for name in classes:
        if is_defect_free(name) and name not in targets:
            return name
    others = [c for c in classes if c not in targets and counts.get(c, 0)]
    if not others:
        raise DatacentricError("no defect-free class to use as background")
    return max(others, key=lambda c: counts[c])


def _weak_slices(proj: Project) -> list[dict]:
    audit = proj.latest_audit()
    if audit is None:
        return []
    data = read_audit(audit)
    return [s for s in data.get("slices", []) if s.get("weak")]


def _brightness(paths: Sequence[Path], limit: int = 60) -> float:
    values = [float(np.asarray(load_image(p).convert("L").resize((32, 32))).mean()) / 255 for p in paths[:limit]]
    return float(np.std(values)) if len(values) > 1 else 0.0


# -- making candidate images -------------------------------------------------------------
def _write(folder: Path, images: Sequence[np.ndarray], prefix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(images):
        path = inside(folder, f"{prefix}_{i:04d}.png")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _arrays(paths: Sequence[Path]) -> list[np.ndarray]:
    return [np.asarray(load_image(p)) for p in paths]


def _augment_candidate(
    recipe: Recipe, ids: list[str], images: list[np.ndarray], n: int, seed: int, folder: Path
) -> Candidate:
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


def _synth_candidate(
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
        generator={"name": generator_name, "kind": "synthetic", "options": _jsonable(generator.get_params())},
    )


def _jsonable(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


def _materialise(proj: Project, candidate: Candidate, run_id: str) -> list[str]:
    """Copy a candidate's images under <project>/generated/ and add them, tagged, to the store."""
    origin = ORIGIN[candidate.kind]
    folder = proj.path("generated", origin, candidate.target)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    with proj.transaction():
        for path, parent, params in zip(candidate.paths, candidate.parents, candidate.params):
            image_id = content_hash(path)
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


def _embed(proj: Project, paths: Sequence[Path]) -> np.ndarray:
    from datacentric.model import embed

    return embed(
        list(paths), backbone=proj.config.backbone, cache_dir=proj.cache_dir, image_size=proj.config.image_size
    )


def _groups(proj: Project, data, X: np.ndarray) -> list[str] | None:
    """The groups the measurement folds keep whole: the train run's (parts, twins), else X's twins."""
    from datacentric.model.grouping import project_groups

    return project_groups(proj, data, X)


def _cross_val():
    """The probe's cross-validation (it runs on one BLAS thread itself)."""
    from datacentric.model import cross_val_probs

    return cross_val_probs


# -- improve -----------------------------------------------------------------------------
def improve_project(
    proj: Project,
    *,
    classes: Sequence[str] | None = None,
    budget: int = 100,
    seeds: int = 5,
    folds: int | None = None,
    generators: Sequence[str] | None = None,
    defect_types: Mapping[str, str] | None = None,
    materialise: bool = True,
    seed: int | None = None,
) -> ImproveResult:
    """Try class-targeted fixes for weak classes, keep what measurably helps.

    Parameters
    ----------
    proj : an open project with labelled real images.
    classes : the classes to improve (default: :func:`find_targets`).
    budget : images generated per fix and class.
    seeds, folds : repeated fold splits of the lift experiment (folds default: the project's).
    generators : registered generator names to try (default: all that support the class).
    defect_types : class -> the defect type a generator should draw for it (``{"crack": "scratch"}``);
        a class not named here is drawn as itself.
    materialise : add the kept fix's images to the project.
    seed : base seed (default: the project's).
    """
    from datacentric import plugins

    _at_least(budget, 1, "budget")
    _at_least(seeds, 1, "seeds")
    seed = proj.config.seed if seed is None else seed
    folds = folds or proj.config.folds
    data = proj.dataset("real")
    if len(data) == 0:
        raise DatacentricError("no labelled real images", proj.root)
    names = list(data.classes)
    counts = {c: int((data.labels == k).sum()) for k, c in enumerate(names)}
    unknown = [c for c in classes or () if c not in names]
    if unknown:  # before any embedding or cross-validation: a typo costs no waiting
        raise DatacentricError(f"unknown class {', '.join(unknown)} (classes: {', '.join(names)})", proj.root)
    cross_val = _cross_val()
    X = _embed(proj, data.paths)
    y = data.labels
    groups = _groups(proj, data, X)
    baseline = baseline_scores(
        X, y, n_classes=len(names), seeds=seeds, folds=folds, seed=seed, cross_val=cross_val, groups=groups
    )
    if classes:
        targets = list(classes)
    else:
        recall_now = {c: float(np.nanmean(baseline.recall[:, k])) for k, c in enumerate(names)}
        targets, _ = find_targets(proj, recall=recall_now)
    run = proj.new_run("improve", {"targets": targets, "budget": budget, "seeds": seeds, "folds": folds, "seed": seed})
    index = {image_id: i for i, image_id in enumerate(data.ids)}
    slices = _weak_slices(proj)
    generator_names = list(generators) if generators else plugins.names("generator")
    kinds = dict(defect_types or {})
    notes: list[str] = []  # generators that made nothing, and why
    results: list[LiftResult] = []
    candidates: dict[str, Candidate] = {}
    kept: dict[str, str] = {}
    curves: dict[str, LearningCurve] = {}
    for target in targets:
        k = names.index(target)
        member_rows = np.flatnonzero(y == k)
        if len(member_rows) == 0:
            continue
        defect_ids = [data.ids[i] for i in member_rows]
        defect_paths = [data.paths[i] for i in member_rows]
        defects = _arrays(defect_paths)
        other_paths = [data.paths[i] for i in np.flatnonzero(y != k)]
        recipes = choose_recipes(
            target,
            weak_slices=slices,
            brightness_spread=_brightness(defect_paths),
            other_brightness_spread=_brightness(other_paths[::3]),
        )
        todo: list[Candidate] = []
        for recipe in recipes:
            folder = _candidates(proj, run, f"augment-{recipe.name}-{target}")
            todo.append(_augment_candidate(recipe, defect_ids, defects, budget, seed, folder))
        # a synthetic defect pasted on a part is not a defect-free part: no generator makes 'ok'
        if not is_defect_free(target):
            todo += _generator_candidates(
                proj,
                run,
                data,
                target,
                counts,
                generator_names,
                kinds.get(target, target),
                (defect_ids, defects),
                budget,
                seed,
                notes,
            )
        lifts = _measure_candidates(
            proj, todo, target, X, y, names, index, baseline=baseline, cross_val=cross_val, groups=groups
        )
        results += lifts
        candidates.update({cand.name: cand for cand in todo})
        best = max((lift for lift in lifts if lift.kept), key=lambda lift: lift.gain[target], default=None)
        if best is not None:
            kept[target] = best.name
        curves[target] = learning_curve(
            X, y, k, classes=names, seeds=min(seeds, 3), folds=folds, seed=seed, cross_val=cross_val, groups=groups
        )
    recipes_saved: list[Path] = []
    materialised = 0
    for target, name in kept.items():
        cand = candidates[name]
        if cand.recipe is not None:
            recipes_saved.append(
                cand.recipe.save(proj.path("runs", run.id, f"recipe-{target}-{cand.recipe.name}.json"))
            )
        if materialise:
            materialised += len(_materialise(proj, cand, run.id))
    advice = _advice(targets, kept, results, curves, counts)
    result = ImproveResult(
        run_id=run.id,
        run_dir=run.dir,
        targets=targets,
        fixes=results,
        advice=advice,
        kept=kept,
        materialised=materialised,
        recipes=recipes_saved,
        curves=curves,
        notes=list(dict.fromkeys(notes)),
    )
    from datacentric.improve.report import write_report

    result.report = write_report(result, candidates, proj)
    summary = json.dumps(result.to_json(), indent=2, default=str)
    write_atomic(proj.path("runs", run.id, "improve.json"), summary)
    proj.finish_run(
        run,
        {
            "targets": targets,
            "kept": kept,
            "materialised": materialised,
            "advice": advice,
            "fixes": [{"name": f.name, "kept": f.kept, "gain": f.gain} for f in results],
        },
    )
    return result


def _generator_candidates(
    proj, run, data, target, counts, generator_names, kind, defects, budget, seed, notes
) -> list[Candidate]:
    """Synthetic-defect candidates for ``target`` from every generator that can draw ``kind``, on the
    defect-free images; a generator that cannot says why in ``notes``.
    """
    defect_ids, defect_arrays = defects
    names = list(data.classes)
    # the canvas for this target's defects: never another target's defect images
    bg_rows = np.flatnonzero(data.labels == names.index(background_class(names, [target], counts)))
    backgrounds = _arrays([data.paths[i] for i in bg_rows])
    background_ids = [data.ids[i] for i in bg_rows]
    out = []
    for name in generator_names:
        generator = get_generator(name)
        if not generator.supports(kind):
            notes.append(generator.cannot_make(target, kind))
            continue
        if generator.needs_backgrounds and not backgrounds:
            notes.append(f"generator '{name}' needs defect-free images to draw '{target}' on")
            continue
        folder = _candidates(proj, run, f"synthetic-{name}-{target}")
        out.append(
            _synth_candidate(
                name, target, defect_ids, defect_arrays, background_ids, backgrounds, budget, seed, folder, kind
            )
        )
    return out


def _measure_candidates(
    proj, todo: list[Candidate], target: str, X, y, names, index, *, baseline, cross_val, groups
) -> list[LiftResult]:
    """The lift of each candidate fix for ``target``, measured on real images only."""
    k = names.index(target)
    lifts = []
    for cand in track(todo, f"measuring fixes for {target}", total=len(todo)):
        fix = Fix(
            name=cand.name,
            kind=cand.kind,
            X=_embed(proj, cand.paths),
            y=np.full(len(cand.paths), k, dtype=np.int64),
            parent=np.array([index.get(p, -1) for p in cand.parents], dtype=np.int64),
            details={
                "generator": cand.generator,
                "images": len(cand.paths),
                "folder": str(cand.paths[0].parent) if cand.paths else None,
            },
        )
        lifts.append(
            measure_lift(
                X, y, fix, classes=names, target_classes=[target], baseline=baseline, cross_val=cross_val, groups=groups
            )
        )
    return lifts


def _at_least(value: int, least: int, option: str) -> None:
    if value < least:
        raise DatacentricError(f"{option} must be at least {least}, got {value}", f"--{option}")


def _candidates(proj: Project, run: Run, *name: str) -> Path:
    """The folder of one candidate fix inside the run (names come from data: checked)."""
    return proj.path("runs", run.id, "candidates", *name)


def _advice(
    targets: list[str],
    kept: dict[str, str],
    results: list[LiftResult],
    curves: dict[str, LearningCurve],
    counts: dict[str, int],
) -> str:
    parts = []
    for target in targets:
        curve = curves.get(target)
        if curve is None:
            parts.append(f"{target}: no real images to learn from; collect some first.")
            continue
        have = counts[target]
        now = curve.recall[-1]
        needed = curve.needed(goal_for(now))
        if now >= 0.9 or (needed is not None and needed <= have):
            parts.append(
                f"{target} recall is already {now:.2f} on real held-out images; "
                f"this class is not the bottleneck" + (f" (kept {kept[target]})." if target in kept else ".")
            )
            continue
        more = estimate_more(target, curve.counts, curve.recall, recall_std=curve.recall_std).text
        if target in kept:
            gain = next(r.gain[target] for r in results if r.name == kept[target])
            parts.append(f"kept {kept[target]} ({target} recall {gain:+.2f}); still, {more}.")
        else:
            parts.append(f"nothing tried helped {target} beyond noise; real images are the better move: {more}.")
    return " ".join(parts)


# -- synth -------------------------------------------------------------------------------
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
    _at_least(n, 1, "n")
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
        raise DatacentricError(gen.cannot_make(target, kind), proj.root)
    k = names.index(target)
    bg = background or background_class(names, [target], counts)
    rows = np.flatnonzero(data.labels == k)
    bg_rows = np.flatnonzero(data.labels == names.index(bg))
    if gen.needs_defects and len(rows) == 0:
        raise DatacentricError(f"generator '{generator}' needs real '{target}' images", proj.root)
    run = proj.new_run("synth", {"target": target, "n": n, "generator": generator, "seed": seed})
    cand = _synth_candidate(
        generator,
        target,
        [data.ids[i] for i in rows],
        _arrays([data.paths[i] for i in rows]),
        [data.ids[i] for i in bg_rows],
        _arrays([data.paths[i] for i in bg_rows]),
        n,
        seed,
        _candidates(proj, run),
        kind,
    )
    ids = _materialise(proj, cand, run.id)
    proj.finish_run(run, {"images": len(ids), "target": target, "generator": generator})
    folder = proj.path("generated", "synthetic", target)
    return SynthResult(target=target, generator=generator, paths=[folder / f"{i[:16]}.png" for i in ids], ids=ids)
