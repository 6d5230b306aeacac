"""The gate itself: train a challenger, score both models on the golden set, decide, record.

See :mod:`datacentric.retrain` for how the golden set is chosen, how each model is scored
and what "not worse" means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from datacentric.errors import DatacentricError
from datacentric.retrain.golden import GoldenImages, golden_images, golden_set
from datacentric.runs import read_oof, write_run_json

if TYPE_CHECKING:
    from datacentric.project import Project, Run

__all__ = ["ModelScore", "RetrainDecision", "champion_run", "decide", "retrain", "training_label_changes"]


@dataclass
class ModelScore:
    """One model's accuracy on the golden set."""

    run_id: str
    accuracy: float
    n: int
    scored: str  # "final model", "out-of-fold" or "mixed" (see the module docstring)
    correct: list[bool] = field(default_factory=list, repr=False)  # per golden image


@dataclass
class RetrainDecision:
    """What ``retrain`` decided, and the evidence."""

    promoted: bool
    champion: ModelScore  # the model in charge before
    challenger: ModelScore
    delta: float  # challenger - champion accuracy
    tolerance: float  # promoted when delta >= -tolerance
    standard_error: float  # paired standard error of delta
    mcnemar_p: float  # exact McNemar test on the images where they disagree
    n_golden: int
    golden: str  # source of the golden set
    champion_after: str  # train run in charge now
    run_id: str  # the "retrain" run
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why, in words, on one line (see :func:`decide`)
    label_changes: int = 0  # training labels that differ from the champion's (see training_label_changes)


def decide(delta: float, tolerance: float, label_changes: int) -> tuple[bool, str]:
    """Promote the challenger or not, and why in one line a non-statistician can check.

    ``delta`` is challenger minus champion accuracy, ``tolerance`` the noise band,
    ``label_changes`` the training labels that changed since the champion was trained.

    Examples
    --------
    >>> promoted, why = decide(-0.067, 0.1, 12)
    >>> promoted, why.split(":")[0]
    (True, 'lower by 0.067, within noise (±0.100)')
    >>> why.split(": ")[1]
    'a tie, and the challenger learned from 12 label changes since the champion'
    >>> decide(0.0, 0.1, 0)[0]
    False
    """
    if abs(delta) < 1e-12:
        size = "same score"
    else:
        size = f"{'higher' if delta > 0 else 'lower'} by {abs(delta):.3f}"
    band = f"(±{tolerance:.3f})"
    if delta > tolerance + 1e-12:
        return True, f"{size}, more than noise {band}"
    if delta < -tolerance - 1e-12:
        return False, f"{size}, more than noise {band}"
    if delta > 1e-12:
        return True, f"{size}, within noise {band}"
    if label_changes:
        changes = f"{label_changes} label change{'s' if label_changes != 1 else ''}"
        return True, (
            f"{size}, within noise {band}: a tie, and the challenger learned from {changes} since the champion"
        )
    return False, (f"{size}, within noise {band}: a tie, and no label changed since the champion, so it stays")


def champion_run(project: Project) -> Run | None:
    """The train run in charge (see :meth:`datacentric.project.Project.champion`)."""
    return project.champion()


def training_label_changes(project: Project, champion: Run, golden_ids: Sequence[str]) -> int:
    """How many training labels differ from those the champion learned: images relabelled to
    another class, labelled since, or removed since. A reviewer who confirms a label changes
    nothing; the golden images are left out (no challenger trains on them).
    """
    trained = read_oof(champion)
    before = {image_id: trained.classes[k] for image_id, k in zip(trained.ids, trained.labels)}
    real = {record.id for record in project.images("real")}
    now = {image_id: label for image_id, label in project.labels().items() if image_id in real}
    return sum(before.get(i) != now.get(i) for i in (before.keys() | now.keys()) - set(golden_ids))


def _score(project, run, gold: GoldenImages) -> ModelScore:
    """Accuracy of a train run's model on the golden images, never on an image it trained on."""
    from datacentric.model import load_classifier

    oof = read_oof(run)
    oof_index = {image_id: k for k, image_id in enumerate(oof.ids)}
    oof_probs, classes = oof.probs, oof.classes
    predicted: list[str | None] = [None] * len(gold.ids)
    unseen = [i for i, image_id in enumerate(gold.ids) if image_id not in oof_index]
    for i, image_id in enumerate(gold.ids):
        if image_id in oof_index:
            predicted[i] = classes[int(np.argmax(oof_probs[oof_index[image_id]]))]
    if unseen:
        classifier = load_classifier(run, cache_dir=project.cache_dir)
        probs = classifier.predict_proba([gold.paths[i] for i in unseen])
        for i, row in zip(unseen, probs):
            predicted[i] = classifier.classes[int(np.argmax(row))]
    correct = [p == label for p, label in zip(predicted, gold.labels)]
    scored = "final model" if len(unseen) == len(gold.ids) else "out-of-fold" if not unseen else "mixed"
    return ModelScore(run.id, float(np.mean(correct)), len(correct), scored, correct)


def retrain(
    project: Project,
    *,
    golden: str | Path | None = None,
    mode: str | None = None,
    tolerance: float | None = None,
    seed: int | None = None,
    **train_options: Any,
) -> RetrainDecision:
    """Train a challenger on the current labels and promote it if it is not worse on the golden set.

    Parameters
    ----------
    project
        An open :class:`datacentric.Project` with at least one train run (the first champion).
    golden
        CSV/list file or golden run id; default: the stored golden set, or a new holdout.
    mode
        "probe" or "finetune"; default: the champion's mode.
    tolerance
        Largest accuracy drop still called "not worse"; default: one paired standard error,
        at least 1/n.
    seed, **train_options
        Passed to :func:`datacentric.model.train`.
    """
    from datacentric.model import train

    champion = champion_run(project)
    if champion is None:
        raise DatacentricError(
            f"no model to compare with yet: run `datacentric train {project.root}` first", project.root
        )
    gold = golden_set(project, golden)
    images = golden_images(project, gold)
    options = {**_challenger_options(champion, mode, seed, train_options), "exclude": images.ids}
    # The retrain run exists before the challenger, which names it (``challenger_of``): the
    # challenger takes charge only when this run finishes promoting it, so a failure or a
    # kill while scoring leaves the champion in charge (:func:`datacentric.runs.champion`).
    run = project.new_run(
        "retrain",
        {
            "golden": gold.source,
            "golden_run": gold.run_id,
            "mode": options["mode"],
            "tolerance": tolerance,
            "champion_before": champion.id,
        },
    )
    challenger = None
    try:
        challenger = train(project, **options, challenger_of=run.id).run
        champ = _score(project, champion, images)
        chall = _score(project, challenger, images)
        changes = training_label_changes(project, champion, images.ids)
        run.config["challenger"] = challenger.id
        decision = _judge(champ, chall, tolerance, changes, golden=gold.source, notes=images.notes, run_id=run.id)
        _record(project, run, decision, images)
    except BaseException:
        failed = {"error": "retrain failed", "promoted": False, "challenger": challenger.id if challenger else None}
        project.finish_run(run, failed, status="failed")
        raise
    return decision


def _judge(
    champ: ModelScore,
    chall: ModelScore,
    tolerance: float | None,
    label_changes: int,
    *,
    golden: str,
    notes: list[str],
    run_id: str,
) -> RetrainDecision:
    """The decision from both models' verdicts on the same golden images (see :func:`decide`)."""
    n, delta, se, tol, mcnemar = _paired(champ.correct, chall.correct, tolerance)
    promoted, reason = decide(delta, tol, label_changes)
    return RetrainDecision(
        promoted=bool(promoted),
        champion=champ,
        challenger=chall,
        delta=delta,
        tolerance=tol,
        standard_error=se,
        mcnemar_p=mcnemar,
        n_golden=n,
        golden=golden,
        champion_after=chall.run_id if promoted else champ.run_id,
        run_id=run_id,
        notes=notes,
        reason=reason,
        label_changes=label_changes,
    )


def _record(project, run, decision: RetrainDecision, images: GoldenImages) -> None:
    """Write ``retrain.json`` (the decision and each golden image's verdicts) and finish the run."""
    champ, chall = decision.champion, decision.challenger
    per_image = [
        {"image": str(p), "label": y, "champion": a, "challenger": b}
        for p, y, a, b in zip(images.paths, images.labels, champ.correct, chall.correct)
    ]
    write_run_json(run.dir, "retrain.json", {**asdict(decision), "images": per_image})
    project.finish_run(
        run,
        {
            "promoted": decision.promoted,
            "champion_after": decision.champion_after,
            "champion_before": champ.run_id,
            "challenger": chall.run_id,
            "champion_accuracy": champ.accuracy,
            "challenger_accuracy": chall.accuracy,
            "delta": decision.delta,
            "tolerance": decision.tolerance,
            "standard_error": decision.standard_error,
            "mcnemar_p": decision.mcnemar_p,
            "n_golden": decision.n_golden,
            "champion_scored": champ.scored,
            "challenger_scored": chall.scored,
            "reason": decision.reason,
            "label_changes": decision.label_changes,
        },
    )


def _challenger_options(champion, mode: str | None, seed: int | None, train_options: dict) -> dict:
    """``train``'s options for the challenger: the champion's mode, backbone and grouping unless given."""
    options = {"mode": mode or champion.config.get("mode", "probe"), "seed": seed, **train_options}
    if "backbone" not in options and champion.config.get("backbone"):
        options["backbone"] = champion.config["backbone"]
    if "group_by" not in options and champion.config.get("group_by"):  # the golden set was split by it
        options["group_by"] = champion.config["group_by"]
    return options


def _paired(champion_correct, challenger_correct, tolerance: float | None) -> tuple[int, float, float, float, float]:
    """(n, accuracy difference, its standard error, the tolerance used, McNemar's exact p) on the same images."""
    d = np.array(challenger_correct, dtype=float) - np.array(champion_correct, dtype=float)
    n = len(d)
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 1.0
    tol = float(tolerance) if tolerance is not None else max(se, 1.0 / n)
    better, worse = int((d > 0).sum()), int((d < 0).sum())
    mcnemar = float(stats.binomtest(better, better + worse, 0.5).pvalue) if better + worse else 1.0
    return n, float(d.mean()), se, tol, mcnemar
