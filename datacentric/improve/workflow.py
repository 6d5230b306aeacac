"""The ``improve`` step: try class-targeted fixes for weak classes, keep what measurably helps.

``improve`` measures the real images' baseline once, then for each target class makes
candidate fixes (:mod:`datacentric.improve.candidates`), measures each one's lift on the
real images only (:mod:`datacentric.improve.lift`), keeps the best one that helps, and
fits the class's learning curve to advise on collecting real images instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datacentric.collect import estimate_more, goal_for
from datacentric.errors import DatacentricError
from datacentric.improve.augment import choose_recipes
from datacentric.improve.candidates import (
    add_to_project,
    augment_candidate,
    candidate_folder,
    generator_candidates,
    load_arrays,
)
from datacentric.improve.lift import (
    Baseline,
    Fix,
    LearningCurve,
    LiftResult,
    baseline_scores,
    learning_curve,
    measure_lift,
)
from datacentric.improve.results import Candidate, ImproveResult
from datacentric.improve.targets import brightness_spread, find_targets, is_defect_free, weak_slices
from datacentric.progress import track
from datacentric.runs import write_run_json
from datacentric.project import LabeledSet, Project, Run

__all__ = ["ImproveResult", "improve_project"]


# -- the model, reached lazily (tests swap these for stand-ins) ---------------------------
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
@dataclass
class _Experiment:
    """The real images every fix is measured on, and the baseline each fix is compared with."""

    proj: Project
    data: LabeledSet
    names: list[str]
    counts: dict[str, int]  # real images per class
    X: np.ndarray  # (N, D) embeddings of the real images
    groups: list[str] | None
    baseline: Baseline
    cross_val: Callable[..., np.ndarray]
    seeds: int
    folds: int
    seed: int


@dataclass
class _Plan:
    """What to try for each target."""

    budget: int
    slices: list[dict]  # the audit's weak slices
    generators: list[str]
    defect_types: dict[str, str]


@dataclass
class _Tried:
    """What the fixes for every target made, measured and kept."""

    fixes: list[LiftResult] = field(default_factory=list)
    candidates: dict[str, Candidate] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)  # target -> name of the kept fix
    curves: dict[str, LearningCurve] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # generators that made nothing, and why


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
    folds = proj.config.folds if folds is None else folds
    _at_least(folds, 2, "folds")
    exp = _measure_baseline(proj, _real_images(proj, classes), seeds=seeds, folds=folds, seed=seed)
    targets = list(classes) if classes else _weakest(exp)
    run = proj.new_run("improve", {"targets": targets, "budget": budget, "seeds": seeds, "folds": folds, "seed": seed})
    plan = _Plan(
        budget=budget,
        slices=weak_slices(proj),
        generators=list(generators) if generators else plugins.names("generator"),
        defect_types=dict(defect_types or {}),
    )
    tried = _Tried()
    for target in targets:
        _try_fixes(exp, run, target, plan, tried)
    recipes, added = _keep(proj, run, tried, materialise)
    result = ImproveResult(
        run_id=run.id,
        run_dir=run.dir,
        targets=targets,
        fixes=tried.fixes,
        advice=_advice(targets, tried.kept, tried.fixes, tried.curves, exp.counts),
        kept=tried.kept,
        materialised=added,
        recipes=recipes,
        curves=tried.curves,
        notes=list(dict.fromkeys(tried.notes)),
    )
    _record(proj, run, result, tried.candidates)
    return result


def _real_images(proj: Project, classes: Sequence[str] | None) -> LabeledSet:
    """The labelled real images; refuses none, and an unknown class before any slow step."""
    data = proj.dataset("real")
    if len(data) == 0:
        raise DatacentricError("no labelled real images", proj.root)
    names = list(data.classes)
    unknown = [c for c in classes or () if c not in names]
    if unknown:  # before any embedding or cross-validation: a typo costs no waiting
        raise DatacentricError(f"unknown class {', '.join(unknown)} (classes: {', '.join(names)})", proj.root)
    return data


def _measure_baseline(proj: Project, data: LabeledSet, *, seeds: int, folds: int, seed: int) -> _Experiment:
    """Embed the real images and score them without any fix over ``seeds`` fold splits."""
    names = list(data.classes)
    cross_val = _cross_val()
    X = _embed(proj, data.paths)
    groups = _groups(proj, data, X)
    baseline = baseline_scores(
        X, data.labels, n_classes=len(names), seeds=seeds, folds=folds, seed=seed, cross_val=cross_val, groups=groups
    )
    counts = {c: int((data.labels == k).sum()) for k, c in enumerate(names)}
    return _Experiment(proj, data, names, counts, X, groups, baseline, cross_val, seeds, folds, seed)


def _weakest(exp: _Experiment) -> list[str]:
    """The default targets (:func:`find_targets`), with the baseline's recall as the last resort."""
    recall_now = {c: float(np.nanmean(exp.baseline.recall[:, k])) for k, c in enumerate(exp.names)}
    return find_targets(exp.proj, recall=recall_now)[0]


def _try_fixes(exp: _Experiment, run: Run, target: str, plan: _Plan, tried: _Tried) -> None:
    """Make and measure every fix for ``target``, keep the best that helps, and fit its learning curve."""
    k = exp.names.index(target)
    members = np.flatnonzero(exp.data.labels == k)
    if len(members) == 0:
        return
    todo = _make_candidates(exp, run, target, members, plan, tried.notes)
    lifts = _measure_candidates(exp, todo, target)
    tried.fixes += lifts
    tried.candidates.update({cand.name: cand for cand in todo})
    best = max((lift for lift in lifts if lift.kept), key=lambda lift: lift.gain[target], default=None)
    if best is not None:
        tried.kept[target] = best.name
    tried.curves[target] = learning_curve(
        exp.X,
        exp.data.labels,
        k,
        classes=exp.names,
        seeds=min(exp.seeds, 3),
        folds=exp.folds,
        seed=exp.seed,
        cross_val=exp.cross_val,
        groups=exp.groups,
    )


def _make_candidates(
    exp: _Experiment, run: Run, target: str, members: np.ndarray, plan: _Plan, notes: list[str]
) -> list[Candidate]:
    """The augmentations chosen for ``target`` and, for a defect class, every generator's images."""
    data = exp.data
    defect_ids = [data.ids[i] for i in members]
    defect_paths = [data.paths[i] for i in members]
    defects = load_arrays(defect_paths)
    other_paths = [data.paths[i] for i in np.flatnonzero(data.labels != exp.names.index(target))]
    recipes = choose_recipes(
        target,
        weak_slices=plan.slices,
        brightness_spread=brightness_spread(defect_paths),
        other_brightness_spread=brightness_spread(other_paths[::3]),
    )
    todo = [
        augment_candidate(
            recipe,
            defect_ids,
            defects,
            plan.budget,
            exp.seed,
            candidate_folder(exp.proj, run, f"augment-{recipe.name}-{target}"),
        )
        for recipe in recipes
    ]
    # a synthetic defect pasted on a part is not a defect-free part: no generator makes 'ok'
    if not is_defect_free(target):
        todo += generator_candidates(
            exp.proj,
            run,
            data,
            target,
            counts=exp.counts,
            generators=plan.generators,
            kind=plan.defect_types.get(target, target),
            defects=(defect_ids, defects),
            budget=plan.budget,
            seed=exp.seed,
            notes=notes,
        )
    return todo


def _measure_candidates(exp: _Experiment, todo: list[Candidate], target: str) -> list[LiftResult]:
    """The lift of each candidate fix for ``target``, measured on real images only."""
    k = exp.names.index(target)
    index = {image_id: i for i, image_id in enumerate(exp.data.ids)}
    lifts = []
    for cand in track(todo, f"measuring fixes for {target}", total=len(todo)):
        fix = Fix(
            name=cand.name,
            kind=cand.kind,
            X=_embed(exp.proj, cand.paths),
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
                exp.X,
                exp.data.labels,
                fix,
                classes=exp.names,
                target_classes=[target],
                baseline=exp.baseline,
                cross_val=exp.cross_val,
                groups=exp.groups,
            )
        )
    return lifts


def _keep(proj: Project, run: Run, tried: _Tried, add: bool) -> tuple[list[Path], int]:
    """Save the kept augmentations' recipes in the run and, when ``add``, add every kept fix's images."""
    recipes: list[Path] = []
    added = 0
    for target, name in tried.kept.items():
        cand = tried.candidates[name]
        if cand.recipe is not None:
            recipes.append(cand.recipe.save(proj.path("runs", run.id, f"recipe-{target}-{cand.recipe.name}.json")))
        if add:
            added += len(add_to_project(proj, cand, run.id))
    return recipes, added


def _record(proj: Project, run: Run, result: ImproveResult, candidates: dict[str, Candidate]) -> None:
    """Write the run's report and ``improve.json``, and finish the run with its summary."""
    from datacentric.improve.report import write_report

    result.report = write_report(result, candidates, proj)
    write_run_json(proj.path("runs", run.id), "improve.json", result.to_json())
    proj.finish_run(
        run,
        {
            "targets": result.targets,
            "kept": result.kept,
            "materialised": result.materialised,
            "advice": result.advice,
            "fixes": [{"name": f.name, "kept": f.kept, "gain": f.gain} for f in result.fixes],
        },
    )


def _at_least(value: int, least: int, option: str) -> None:
    if value < least:
        raise DatacentricError(f"{option} must be at least {least}, got {value}", f"--{option}")


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
