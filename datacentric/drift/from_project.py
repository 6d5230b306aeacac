"""``check_drift``: compare a folder of new images with a project's training images.

The reference is the labelled real images of the champion model's train run (the model
promoted by the last ``retrain``, else the latest ``train``), embedded with that run's
backbone (cached). The batch is every image file under the folder; unreadable files are
reported and left out. The verdict combines three test families, each at alpha / m
(Bonferroni over the m families run, so the false-alarm rate stays at most alpha under
any dependence; see :mod:`datacentric.drift.pixel_stats`):

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

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from datacentric.drift.detector import DriftDetector
from datacentric.drift.class_mix import N_RESAMPLES, class_mix_test
from datacentric.drift.check import DriftCheck
from datacentric.drift.groups import MIN_GROUP, GroupVerdict, group_images, score_groups
from datacentric.drift.pixel_stats import STATISTICS, image_statistics
from datacentric.errors import DatacentricError
from datacentric.runs import read_oof
from datacentric.images import inspect_image, list_images

__all__ = ["DriftResult", "check_drift"]


@dataclass
class DriftResult:
    """One stored drift check: the verdict, the evidence and what to do."""

    drift: bool  # p_value < alpha
    p_value: float  # combined: min(1, m * min(embedding p, pixel-statistics p, class-mix p)), m families run
    statistic: float  # embedding test: MMD^2 (mmd) or largest KS distance (ks)
    n: int  # readable batch images tested
    method: str
    alpha: float
    folder: str
    top_images: list[dict] = field(default_factory=list)  # [{image, score (witness), novelty, percentile, ...}]
    # {reference: {c: share}, batch: {...}, p_value, alpha, in_verdict, changes, description, classes, ...}
    class_mix: dict = field(default_factory=dict)
    confidence: dict = field(default_factory=dict)  # {reference, batch, p_value}
    unusual: int = 0  # batch images more novel than 1 - alpha of the reference images
    n_reference: int = 0
    skipped: list[dict] = field(default_factory=list)  # [{image, reason}] unreadable files
    reference_run: str = ""  # the train run used as reference and model
    run_id: str = ""
    report: str = ""  # path of report.html
    advice: list[str] = field(default_factory=list)
    description: str = ""  # what changed, e.g. "darker (brightness 93 → 40, lower than 88% of training images)"
    changes: list[str] = field(default_factory=list)  # words for every changed statistic / class, strongest first
    embedding: dict = field(default_factory=dict)  # {method, p_value, statistic}: the embedding test alone
    pixel_stats: dict = field(default_factory=dict)  # {p_value, statistics: [{name, reference, batch, ...}]}
    # embedding distance of each image to its nearest training images (training: leave-one-out)
    distances: dict = field(default_factory=dict)  # {training: [...], batch: [...]}
    # with --per / --window: {per, window, metadata} and one GroupVerdict (as a dict) per group;
    # drift and p_value are then the groups' (any group drifts; smallest Holm-adjusted p-value)
    grouping: dict = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)


def check_drift(
    project,
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
    files = _new_images(folder)
    reference_run, oof = _reference(project)
    seed = project.config.seed if seed is None else int(seed)
    backbone = reference_run.config.get("backbone") or project.config.backbone

    from datacentric.scale.engine import check_engine

    check_engine(engine)
    if engine == "local":
        good, skipped = _readable_images(files)
        new_features = None
    else:
        good, skipped, new_features = _features_on_ray(project, files, reference_run, backbone, address, pixel_stats)
    if len(good) < 2:
        raise DatacentricError(
            f"need at least 2 readable images to test, found {len(good)} ({len(skipped)} unreadable)", folder
        )
    groups, grouping = _groups(good, folder, per=per, window=window, metadata=metadata)
    ref_ids, ref_probs, ref_paths = _reference_images(project, oof)
    classes = oof.classes

    from datacentric.model import embed

    common = dict(backbone=backbone, cache_dir=project.cache_dir, image_size=project.config.image_size)
    X_ref = embed(ref_paths, ids=ref_ids, **common)
    X_new, probs, new_statistics = _batch_features(project, reference_run, good, new_features, common, pixel_stats)
    predicted = probs.argmax(axis=1)
    ref_predicted = ref_probs.argmax(axis=1)
    check = DriftCheck(alpha=alpha, method=method, n_permutations=n_permutations, seed=seed).fit(
        X_ref,
        statistics=_reference_statistics(project, ref_ids, ref_paths) if pixel_stats else None,
        predicted=ref_predicted if class_mix else None,
        classes=classes,
    )
    verdict = check.score(X_new, statistics=new_statistics, predicted=predicted if class_mix else None)
    detector, score = check.detector_, verdict.embedding
    stats_evidence = {}
    if pixel_stats:
        stats_evidence = {
            "p_value": verdict.pixel_stats.p_value,
            "alpha": check.family_alpha_,
            "statistics": verdict.pixel_stats.statistics,
        }
    # out of the verdict, the class mix is still measured and reported as evidence
    mix = (
        verdict.class_mix
        if class_mix
        else class_mix_test(ref_predicted, predicted, classes, alpha=alpha, n_resamples=N_RESAMPLES, seed=seed)
    )
    mix["in_verdict"] = bool(class_mix)
    p_value, drift, changes, description = verdict.p_value, verdict.drift, verdict.changes, verdict.description
    if drift and not description:
        description = _embedding_only(pixel_stats, class_mix)
    group_verdicts = []
    if groups:
        group_verdicts = score_groups(
            check, groups, alpha=alpha, X=X_new, statistics=new_statistics, predicted=predicted if class_mix else None
        )
        p_value, drift, changes, description = _group_verdict(group_verdicts)
    confidence = _confidence(ref_probs.max(axis=1), probs.max(axis=1))
    unusual = int(np.sum(score.novelty_percentile > 1 - alpha))

    run = project.new_run(
        "drift",
        {
            "folder": str(folder.resolve()),
            "alpha": alpha,
            "method": method,
            "top": top,
            "n_permutations": n_permutations,
            "seed": seed,
            "reference_run": reference_run.id,
            "backbone": backbone,
            "pixel_stats": pixel_stats,
            "class_mix": class_mix,
            **grouping,
        },
    )
    result = DriftResult(
        drift=drift,
        p_value=float(p_value),
        statistic=score.statistic,
        n=score.n,
        method=method,
        alpha=alpha,
        folder=str(folder.resolve()),
        top_images=_top_images(good, score, probs, predicted, classes, top),
        class_mix=mix,
        confidence=confidence,
        unusual=unusual,
        n_reference=len(ref_ids),
        skipped=skipped,
        reference_run=reference_run.id,
        run_id=run.id,
        report=str(run.dir / "report.html"),
        description=description,
        changes=changes,
        pixel_stats=stats_evidence,
        embedding={"method": method, "p_value": score.p_value, "statistic": score.statistic},
    )
    result.distances = {
        "training": np.round(detector.reference_scores_, 4).tolist(),
        "batch": np.round(score.novelty, 4).tolist(),
    }
    result.grouping, result.groups = grouping, [asdict(v) for v in group_verdicts]
    try:
        _write_outputs(project, run, result, _typical_reference(detector, ref_paths, ref_probs, classes))
    except BaseException:
        project.finish_run(run, {"error": "drift check failed"}, status="failed")
        raise
    project.finish_run(run, _run_metrics(result, check, score, confidence))
    return result


def _run_metrics(result: DriftResult, check: DriftCheck, score, confidence: dict) -> dict:
    """The drift run's metrics in the store (``datacentric history``)."""
    return {
        "drift": result.drift,
        "p_value": result.p_value,
        "statistic": result.statistic,
        "n": result.n,
        "method": result.method,
        "unusual": result.unusual,
        "skipped": len(result.skipped),
        "embedding_p_value": score.p_value,
        "pixel_stats_p_value": result.pixel_stats.get("p_value"),
        "changes": result.changes,
        "class_mix_p_value": result.class_mix["p_value"],
        "class_mix_total_variation": result.class_mix["total_variation"],
        "families": len(check.families_),
        "confidence_shift": confidence["batch"] - confidence["reference"],
    }


def _new_images(folder: Path) -> list[Path]:
    """The batch's image files (resolved), refusing a missing or empty folder."""
    if not folder.is_dir():
        raise DatacentricError("folder not found", folder)
    files = [p.resolve() for p in list_images(folder)]
    if not files:
        raise DatacentricError("no images in this folder (png, jpg, bmp, tif)", folder)
    return files


def _reference(project):
    """The champion train run and its out-of-fold predictions, refused before any image is read."""
    from datacentric.retrain import champion_run

    reference_run = champion_run(project)
    if reference_run is None:
        raise DatacentricError(f"no trained reference yet: run `datacentric train {project.root}` first", project.root)
    return reference_run, read_oof(reference_run)


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


def _reference_images(project, oof) -> tuple[list[str], np.ndarray, list[Path]]:
    """The training images still in the project and on disk: ids, out-of-fold probabilities, paths."""
    known = {r.id: r for r in project.images(None)}
    keep = [i for i, image_id in enumerate(oof.ids) if image_id in known and known[image_id].path.is_file()]
    if len(keep) < 5:
        raise DatacentricError(f"the reference has only {len(keep)} readable training images (need 5)", project.root)
    ref_ids = [oof.ids[i] for i in keep]
    return ref_ids, oof.probs[keep], [known[i].path for i in ref_ids]


def _batch_features(project, reference_run, good, new_features, common: dict, pixel_stats: bool):
    """Embeddings, predicted probabilities and pixel statistics of the batch (here, or from the Ray job)."""
    from datacentric.model import embed, load_classifier

    if new_features is None:
        X_new = embed(good, **common)
        probs = load_classifier(reference_run, cache_dir=project.cache_dir).predict_proba(good)
        return X_new, probs, image_statistics(good) if pixel_stats else None
    X_new = embed(good, ids=new_features["ids"], **common)  # all stored by the Ray job
    return X_new, new_features["probs"], new_features["statistics"]


def _embedding_only(pixel_stats: bool, class_mix: bool) -> str:
    """What to say when only the embedding test found the difference."""
    tested = ["brightness", "contrast", "sharpness", "colour"] * bool(pixel_stats)
    tested += ["the predicted class mix"] * bool(class_mix)
    unchanged = ""
    if tested:
        listed = tested[0] if len(tested) == 1 else f"{', '.join(tested[:-1])} and {tested[-1]}"
        unchanged = f" but {listed} {'is' if len(tested) == 1 else 'are'} unchanged"
    return f"the model sees a difference (embedding test){unchanged}: look at the images listed first"


def _top_images(good, score, probs, predicted, classes, top: int) -> list[dict]:
    """The ``top`` images most responsible for the shift, first."""
    order = np.argsort(-score.witness, kind="stable")
    return [
        {
            "image": str(good[i]),
            "score": round(float(score.witness[i]), 4),
            "novelty": round(float(score.novelty[i]), 4),
            "percentile": round(float(score.novelty_percentile[i]), 4),
            "predicted": classes[int(predicted[i])],
            "confidence": round(float(probs[i].max()), 4),
        }
        for i in order[: max(0, top)]
    ]


def _write_outputs(project, run, result: DriftResult, typical) -> None:
    """``to_label/`` copies (on drift), the advice, report.html, drift.json and the store's record."""
    to_label = run.dir / "to_label"
    if result.drift and result.top_images:
        to_label.mkdir()
        for rank, item in enumerate(result.top_images):
            source = Path(item["image"])
            shutil.copy2(source, to_label / f"{rank:03d}_{source.name}")
    result.advice = _advice(project, result, to_label)
    from datacentric.drift.report import write_report

    write_report(result, typical, run.dir / "report.html")
    document = asdict(result)
    (run.dir / "drift.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    project.record_drift_check(folder=result.folder, run_id=run.id, result=document)


def _readable_images(files: list[Path]) -> tuple[list[Path], list[dict]]:
    """The files that open as images, and ``{"image", "reason"}`` for each that does not."""
    good, skipped = [], []
    for path in files:
        try:
            inspect_image(path)
            good.append(path)
        except DatacentricError as exc:
            skipped.append({"image": str(path), "reason": exc.what})
    return good, skipped


def _features_on_ray(
    project, files: list[Path], reference_run, backbone: str, address: str | None, pixel_stats: bool
) -> tuple[list[Path], list[dict], dict]:
    """Embed, measure and predict the new images on a Ray cluster, in one session.

    Returns the readable files, the skipped ones and, in their order, ``ids``, ``probs`` and
    ``statistics`` (None without ``pixel_stats``).
    """
    from datacentric.scale.embed import embed_images
    from datacentric.scale.engine import ray_session
    from datacentric.scale.predict import predict_probs

    with ray_session(address):
        done = embed_images(
            project,
            files,
            engine="ray",
            address=address,
            backbone=backbone,
            statistics=image_statistics if pixel_stats else None,
        )
        keep = [i for i, image_id in enumerate(done.ids) if image_id]
        good = [Path(done.paths[i]) for i in keep]
        probs, errors = predict_probs(reference_run, good, engine="ray", address=address, cache_dir=project.cache_dir)
    skipped = [{"image": path, "reason": reason} for path, reason in {**done.errors, **errors}.items()]
    statistics = done.statistics[keep] if pixel_stats and done.statistics is not None else None
    features = {"ids": [done.ids[i] for i in keep], "probs": probs, "statistics": statistics}
    return good, skipped, features


def _group_verdict(verdicts: list[GroupVerdict]) -> tuple[float, bool, list[str], str]:
    """p-value, drift, changes and description of a grouped check, from its groups."""
    tested = [v for v in verdicts if v.tested]
    drifting = sorted((v for v in tested if v.drift), key=lambda v: v.p_adjusted)
    changes = list(dict.fromkeys(w for v in drifting for w in v.changes))
    description = "; ".join(f"{v.group}: {v.description or 'the model sees a difference'}" for v in drifting)
    return min(v.p_adjusted for v in tested), bool(drifting), changes, description


_STATS_CACHE = "pixel_stats_v1.npz"  # bump the version when the statistics change


def _reference_statistics(project, ids: list[str], paths: list[Path]) -> np.ndarray:
    """Pixel statistics of the reference images, cached in the project cache by image hash."""
    cache = Path(project.cache_dir) / _STATS_CACHE
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        try:
            with np.load(cache) as stored:
                if [str(n) for n in stored["names"]] == list(STATISTICS):
                    known = dict(zip((str(i) for i in stored["ids"]), stored["values"]))
        except (OSError, KeyError, ValueError):
            known = {}  # unreadable cache: recompute
    missing = [i for i, image_id in enumerate(ids) if image_id not in known]
    if missing:
        values = image_statistics([paths[i] for i in missing])
        known.update({ids[i]: row for i, row in zip(missing, values)})
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, ids=np.array(list(known)), values=np.vstack(list(known.values())), names=np.array(STATISTICS))
        tmp.replace(cache)
    return np.vstack([known[i] for i in ids])


def _confidence(ref_conf: np.ndarray, batch_conf: np.ndarray) -> dict:
    """Mean top-class probability, reference (out-of-fold) vs batch, Mann-Whitney p-value."""
    p_value = float(stats.mannwhitneyu(ref_conf, batch_conf).pvalue)
    return {
        "reference": round(float(ref_conf.mean()), 4),
        "batch": round(float(batch_conf.mean()), 4),
        "p_value": p_value,
    }


def _typical_reference(
    detector: DriftDetector, paths: list[Path], probs: np.ndarray, classes: list[str], per_class: int = 2
) -> list[dict]:
    """The most typical training images (lowest leave-one-out novelty), a few per predicted class."""
    novelty = detector.reference_scores_
    predicted = probs.argmax(axis=1)
    out = []
    for c, name in enumerate(classes):
        members = np.flatnonzero(predicted == c)
        for i in members[np.argsort(novelty[members])][:per_class]:
            out.append({"image": str(paths[i]), "label": name, "score": round(float(novelty[i]), 4)})
    return out


def _advice(project, result: DriftResult, to_label: Path) -> list[str]:
    from datacentric.drift.advice import next_steps  # the advice lives with the report

    return next_steps(project, result, to_label)
