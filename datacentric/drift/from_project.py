"""``check_drift``: compare a folder of new images with a project's training images.

The reference is the labelled real images of the champion model's train run (the model
promoted by the last ``retrain``, else the latest ``train``), embedded with that run's
backbone (cached). The batch is every image file under the folder; unreadable files are
reported and left out (both read by :mod:`datacentric.drift.project_inputs`). The
verdict combines three test families, each at alpha / m (Bonferroni over the m families
run, so the false-alarm rate stays at most alpha under any dependence; see
:mod:`datacentric.drift.pixel_stats`):

- :class:`DriftDetector` in embedding space (does the model see a difference?);
- :class:`PixelStatsTest` on per-image brightness, contrast, sharpness, saturation and
  colour cast (what changed, in words: "darker", "less sharp");
- the predicted class mix (:func:`~datacentric.drift.class_mix.class_mix_test`): the champion
  model's predictions on the batch vs its out-of-fold predictions on the reference,
  chi-square with a Monte Carlo p-value (valid for batches of 10-30 images, where the
  asymptotic chi-square is anti-conservative), in words: "more scratch predicted (share
  0.20 → 0.40)". This is the family that sees a rise in the defect rate: the images
  themselves look like training images.

``pixel_stats=False`` or ``class_mix=False`` leave a family out (m = 2 or 1); the class
mix is then still reported, as evidence. The reported ``p_value`` is
``min(1, m * min(p_embedding, p_stats, p_class_mix))``; ``statistic`` stays the
embedding test's. The reference images' pixel statistics are cached in the project cache
by image hash. The mean confidence (batch vs out-of-fold) is reported as evidence only.
The images listed first are those with the largest MMD witness (the ones the shift is
made of), each with its novelty percentile among the training images.

Every check is stored: a "drift" run (``drift.json``, ``report.html``, ``to_label/``
with copies of the most unusual images) and a row in the store's ``drift_checks`` table.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from datacentric.drift.advice import next_steps
from datacentric.drift.check import DriftCheck, DriftCheckScore
from datacentric.drift.class_mix import N_RESAMPLES, class_mix_test
from datacentric.drift.detector import DriftDetector, DriftScore
from datacentric.drift.groups import MIN_GROUP, GroupVerdict, group_images, score_groups
from datacentric.drift.project_inputs import (
    Batch,
    Reference,
    champion_reference,
    load_batch,
    load_reference,
    new_images,
    read_batch,
    reference_statistics,
)
from datacentric.drift.result import DriftResult
from datacentric.errors import DatacentricError
from datacentric.runs import write_run_json

if TYPE_CHECKING:
    from datacentric.project import Project

__all__ = ["check_drift"]


@dataclass
class _Options:
    """The settings one check runs with (``seed`` resolved to the project's when not given)."""

    alpha: float
    method: str
    top: int
    n_permutations: int
    seed: int
    pixel_stats: bool
    class_mix: bool


def check_drift(
    project: Project,
    folder: Path | str,
    *,
    alpha: float = 0.05,
    method: str = "mmd",
    top: int = 20,
    n_permutations: int = 1000,
    seed: int | None = None,
    pixel_stats: bool = True,
    class_mix: bool = True,
    engine: str = "local",
    address: str | None = None,
    per: Sequence[str] = (),
    window: str | None = None,
    metadata: Path | str | None = None,
) -> DriftResult:
    """Test whether the images under ``folder`` drift from the project's training images.

    Parameters
    ----------
    project
        An open :class:`datacentric.Project` with a finished train run.
    folder
        Folder of new (unlabelled) images, searched recursively.
    alpha
        False-alarm rate of the verdict.
    method
        "mmd" (default) or "ks"; see :class:`DriftDetector`.
    top
        How many of the most unusual images to list (and copy to ``to_label/``).
    n_permutations, seed
        Passed to the detector (seed defaults to the project's).
    pixel_stats
        Also test per-image pixel statistics (default).
    class_mix
        Also test the predicted class mix (default). False: it is reported as evidence only.
        With both False the embedding test alone decides, at alpha.
    engine, address
        Where the new images are read, embedded and predicted: "local" (this process) or
        "ray" (a Ray cluster; see :mod:`datacentric.scale`). The tests run here either way.
    per, window, metadata
        Test each metadata group (``per`` columns of the ``metadata`` CSV, or ``folder``)
        and/or time window (``"1h"``) on its own, Holm-corrected across groups; the verdict
        is then the groups' (see :mod:`datacentric.drift.groups`). Default: one batch.
    """
    folder = Path(folder)
    files = new_images(folder)
    reference_run, oof = champion_reference(project)
    seed = project.config.seed if seed is None else int(seed)
    options = _Options(alpha, method, top, n_permutations, seed, pixel_stats, class_mix)
    backbone = reference_run.config.get("backbone") or project.config.backbone
    good, skipped, features = read_batch(
        project, folder, files, reference_run, backbone, engine=engine, address=address, pixel_stats=pixel_stats
    )
    groups, grouping = _groups(good, folder, per=per, window=window, metadata=metadata)
    reference = load_reference(project, reference_run, oof, backbone)
    batch = load_batch(project, reference, good, skipped, features, pixel_stats)
    check, verdict = _run_tests(project, options, reference, batch)
    result = _result(folder, options, reference, batch, check, verdict)
    if groups:
        _judge_groups(result, check, groups, options, batch)
    result.grouping = grouping
    _store(project, _run_config(result, options, reference, grouping), result, check, reference)
    return result


def _run_tests(project, options: _Options, reference: Reference, batch: Batch) -> tuple[DriftCheck, DriftCheckScore]:
    """Fit the check on the reference with the families the options ask for, then score the batch."""
    check = DriftCheck(
        alpha=options.alpha, method=options.method, n_permutations=options.n_permutations, seed=options.seed
    ).fit(
        reference.X,
        statistics=reference_statistics(project, reference.ids, reference.paths) if options.pixel_stats else None,
        predicted=reference.predicted if options.class_mix else None,
        classes=reference.classes,
    )
    return check, check.score(batch.X, statistics=batch.statistics, predicted=_tested_classes(options, batch))


def _judge_groups(result: DriftResult, check: DriftCheck, groups: dict, options: _Options, batch: Batch) -> None:
    """Test each group on its own; the verdict, p-value and words become the groups'."""
    verdicts = score_groups(
        check,
        groups,
        alpha=options.alpha,
        X=batch.X,
        statistics=batch.statistics,
        predicted=_tested_classes(options, batch),
    )
    result.p_value, result.drift, result.changes, result.description = _group_verdict(verdicts)
    result.groups = [asdict(v) for v in verdicts]


def _tested_classes(options: _Options, batch: Batch) -> np.ndarray | None:
    """The batch's predicted classes when the class mix is in the verdict, else None."""
    return batch.predicted if options.class_mix else None


def _result(
    folder: Path, options: _Options, reference: Reference, batch: Batch, check: DriftCheck, verdict: DriftCheckScore
) -> DriftResult:
    """The answer of an ungrouped check: verdict, evidence, images listed first (not stored yet)."""
    score = verdict.embedding
    description = verdict.description
    if verdict.drift and not description:
        description = _embedding_only(options.pixel_stats, options.class_mix)
    return DriftResult(
        drift=verdict.drift,
        p_value=float(verdict.p_value),
        statistic=score.statistic,
        n=score.n,
        method=options.method,
        alpha=options.alpha,
        folder=str(folder.resolve()),
        top_images=_top_images(batch, score, reference.classes, options.top),
        class_mix=_class_mix(options, reference, batch, verdict),
        confidence=_confidence(reference.probs.max(axis=1), batch.probs.max(axis=1)),
        unusual=int(np.sum(score.novelty_percentile > 1 - options.alpha)),
        n_reference=len(reference.ids),
        skipped=batch.skipped,
        reference_run=reference.run.id,
        description=description,
        changes=verdict.changes,
        pixel_stats=_pixel_evidence(check, verdict) if options.pixel_stats else {},
        embedding={"method": options.method, "p_value": score.p_value, "statistic": score.statistic},
        distances={
            "training": np.round(check.detector_.reference_scores_, 4).tolist(),
            "batch": np.round(score.novelty, 4).tolist(),
        },
    )


def _pixel_evidence(check: DriftCheck, verdict: DriftCheckScore) -> dict:
    """The pixel-statistics family's p-value, its share of alpha and every statistic."""
    return {
        "p_value": verdict.pixel_stats.p_value,
        "alpha": check.family_alpha_,
        "statistics": verdict.pixel_stats.statistics,
    }


def _class_mix(options: _Options, reference: Reference, batch: Batch, verdict: DriftCheckScore) -> dict:
    """The class-mix test: the verdict's, or (out of the verdict) measured at alpha as evidence."""
    if options.class_mix:
        mix = verdict.class_mix
    else:
        mix = class_mix_test(
            reference.predicted,
            batch.predicted,
            reference.classes,
            alpha=options.alpha,
            n_resamples=N_RESAMPLES,
            seed=options.seed,
        )
    mix["in_verdict"] = bool(options.class_mix)
    return mix


def _run_config(result: DriftResult, options: _Options, reference: Reference, grouping: dict) -> dict:
    """The drift run's config in the store: the check's settings."""
    return {
        "folder": result.folder,
        "alpha": options.alpha,
        "method": options.method,
        "top": options.top,
        "n_permutations": options.n_permutations,
        "seed": options.seed,
        "reference_run": reference.run.id,
        "backbone": reference.backbone,
        "pixel_stats": options.pixel_stats,
        "class_mix": options.class_mix,
        **grouping,
    }


def _store(project, config: dict, result: DriftResult, check: DriftCheck, reference: Reference) -> None:
    """Store the check as a "drift" run (marked failed if writing its outputs fails)."""
    run = project.new_run("drift", config)
    result.run_id, result.report = run.id, str(run.dir / "report.html")
    try:
        _write_outputs(project, run, result, _typical_reference(check.detector_, reference))
    except BaseException:
        project.finish_run(run, {"error": "drift check failed"}, status="failed")
        raise
    project.finish_run(run, _run_metrics(result, check))


def _run_metrics(result: DriftResult, check: DriftCheck) -> dict:
    """The drift run's metrics in the store (``datacentric history``)."""
    return {
        "drift": result.drift,
        "p_value": result.p_value,
        "statistic": result.statistic,
        "n": result.n,
        "method": result.method,
        "unusual": result.unusual,
        "skipped": len(result.skipped),
        "embedding_p_value": result.embedding["p_value"],
        "pixel_stats_p_value": result.pixel_stats.get("p_value"),
        "changes": result.changes,
        "class_mix_p_value": result.class_mix["p_value"],
        "class_mix_total_variation": result.class_mix["total_variation"],
        "families": len(check.families_),
        "confidence_shift": result.confidence["batch"] - result.confidence["reference"],
    }


def _groups(good: list[Path], folder: Path, *, per, window, metadata) -> tuple[dict, dict]:
    """The batch's groups (empty: one batch) and the grouping settings to record."""
    grouped = bool(per or window)
    if metadata is not None and not grouped:
        raise DatacentricError("--metadata is for grouping: give --per COLUMN[,COLUMN] or --window")
    if not grouped:
        return {}, {}
    groups = group_images(good, folder, per=per, window=window, metadata=metadata)
    if max(len(members) for members in groups.values()) < MIN_GROUP:
        raise DatacentricError(f"no group has {MIN_GROUP} images to test: use fewer columns or a longer window")
    return groups, {"per": list(per), "window": window, "metadata": str(metadata) if metadata else None}


def _embedding_only(pixel_stats: bool, class_mix: bool) -> str:
    """What to say when only the embedding test found the difference."""
    tested = ["brightness", "contrast", "sharpness", "colour"] * bool(pixel_stats)
    tested += ["the predicted class mix"] * bool(class_mix)
    unchanged = ""
    if tested:
        listed = tested[0] if len(tested) == 1 else f"{', '.join(tested[:-1])} and {tested[-1]}"
        unchanged = f" but {listed} {'is' if len(tested) == 1 else 'are'} unchanged"
    return f"the model sees a difference (embedding test){unchanged}: look at the images listed first"


def _top_images(batch: Batch, score: DriftScore, classes: list[str], top: int) -> list[dict]:
    """The ``top`` images most responsible for the shift, first."""
    order = np.argsort(-score.witness, kind="stable")
    predicted = batch.predicted
    return [
        {
            "image": str(batch.images[i]),
            "score": round(float(score.witness[i]), 4),
            "novelty": round(float(score.novelty[i]), 4),
            "percentile": round(float(score.novelty_percentile[i]), 4),
            "predicted": classes[int(predicted[i])],
            "confidence": round(float(batch.probs[i].max()), 4),
        }
        for i in order[: max(0, top)]
    ]


def _write_outputs(project, run, result: DriftResult, typical: list[dict]) -> None:
    """``to_label/`` copies (on drift), the advice, report.html, drift.json and the store's record."""
    to_label = run.dir / "to_label"
    if result.drift and result.top_images:
        to_label.mkdir()
        for rank, item in enumerate(result.top_images):
            source = Path(item["image"])
            shutil.copy2(source, to_label / f"{rank:03d}_{source.name}")
    result.advice = next_steps(project, result, to_label)
    from datacentric.drift.report import write_report

    write_report(result, typical, run.dir / "report.html")
    document = asdict(result)
    write_run_json(run.dir, "drift.json", document)
    project.record_drift_check(folder=result.folder, run_id=run.id, result=document)


def _group_verdict(verdicts: list[GroupVerdict]) -> tuple[float, bool, list[str], str]:
    """p-value, drift, changes and description of a grouped check, from its groups."""
    tested = [v for v in verdicts if v.tested]
    drifting = sorted((v for v in tested if v.drift), key=lambda v: v.p_adjusted)
    changes = list(dict.fromkeys(w for v in drifting for w in v.changes))
    description = "; ".join(f"{v.group}: {v.description or 'the model sees a difference'}" for v in drifting)
    return float(min(v.p_adjusted for v in tested)), bool(drifting), changes, description


def _confidence(ref_conf: np.ndarray, batch_conf: np.ndarray) -> dict:
    """Mean top-class probability, reference (out-of-fold) vs batch, Mann-Whitney p-value."""
    p_value = float(stats.mannwhitneyu(ref_conf, batch_conf).pvalue)
    return {
        "reference": round(float(ref_conf.mean()), 4),
        "batch": round(float(batch_conf.mean()), 4),
        "p_value": p_value,
    }


def _typical_reference(detector: DriftDetector, reference: Reference, per_class: int = 2) -> list[dict]:
    """The most typical training images (lowest leave-one-out novelty), a few per predicted class."""
    novelty = detector.reference_scores_
    predicted = reference.predicted
    out = []
    for c, name in enumerate(reference.classes):
        members = np.flatnonzero(predicted == c)
        for i in members[np.argsort(novelty[members])][:per_class]:
            out.append({"image": str(reference.paths[i]), "label": name, "score": round(float(novelty[i]), 4)})
    return out
