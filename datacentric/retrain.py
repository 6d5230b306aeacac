"""The retrain gate: train a challenger on the current labels, promote it only if not worse.

Champion and challenger are scored on the same fixed *golden set* of labelled real
images, against their current consensus labels:

* The golden set is named by the user (a CSV with a ``file``/``image``/``path`` column,
  or a text file with one image per line: id, path or file name), or by default a
  deterministic stratified holdout (20% of each class with at least 3 images, chosen by
  a hash of the project seed and the image id). When the champion's train run kept groups
  together (``--group-by part_id``, near-duplicate twins), the holdout takes whole groups
  (chosen by a hash of the seed and the group), so no golden image has a sibling in training.
  Either way it is stored once as a "golden" run and reused by every later retrain, so the
  yardstick never moves.
* No model is scored on an image it trained on. For each golden image: if the model's
  train run trained on it (it is in that run's ``oof.npz``), its out-of-fold probability
  is used (from the cross-validation model that did not see it); otherwise the final
  model predicts it. The challenger is trained without the golden set (``train(exclude=...)``)
  and so scored with its final model; the report says which way each model was scored.
* "Not worse" allows for noise: with ``d_i`` = 1 where only the challenger is right, -1
  where only the champion is, 0 otherwise, the difference ``mean(d)`` is *within noise*
  when ``|mean(d)| <= tolerance``; the default tolerance is one paired standard error of
  ``mean(d)`` and at least one golden image (1/n). McNemar's exact p-value is reported.
  See :func:`decide`: a challenger scoring higher is promoted; one scoring the same or
  lower within noise is promoted only when labels changed since the champion was trained
  (it learned from them: that breaks the tie), else the champion stays; one lower by
  more than noise is rejected. :attr:`RetrainDecision.reason` says which, in words.

The decision is a "retrain" run whose metrics hold ``promoted`` and ``champion_after``
(the train run in charge afterwards); :func:`champion_run` reads that history.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from datacentric.errors import DatacentricError
from datacentric.runs import read_oof

__all__ = [
    "GoldenSet",
    "ModelScore",
    "RetrainDecision",
    "champion_run",
    "decide",
    "golden_set",
    "holdout_groups",
    "retrain",
]

HOLDOUT_FRACTION = 0.2


@dataclass
class GoldenSet:
    """The fixed held-out real images both models are scored on."""

    ids: list[str]
    source: str  # "holdout" or the file it was read from
    run_id: str  # the "golden" run that stores it


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
    label_changes: int = 0  # labels given since the champion's training began


def decide(delta: float, tolerance: float, label_changes: int) -> tuple[bool, str]:
    """Promote the challenger or not, and why in one line a non-statistician can check.

    ``delta`` is challenger minus champion accuracy, ``tolerance`` the noise band,
    ``label_changes`` the labels given since the champion was trained.

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


def champion_run(project):
    """The train run in charge (see :meth:`datacentric.project.Project.champion`)."""
    return project.champion()


def golden_set(project, golden: str | Path | None = None) -> GoldenSet:
    """The golden set: the stored one, a new one from a file or run id, or a new holdout.

    ``golden`` None reuses the latest stored golden set, or chooses and stores the
    default holdout the first time. A file (CSV or list) or a golden run id picks one
    explicitly (a file is stored as a new golden run and becomes the default).
    """
    if golden is None:
        stored = project.latest_run("golden")
        if stored is not None:
            return GoldenSet(list(stored.config["ids"]), stored.config["source"], stored.id)
        ids, source = _holdout(project), "holdout"
    elif Path(golden).is_file():
        ids, source = _read_golden_file(project, Path(golden)), str(Path(golden).resolve())
    else:
        try:
            stored = project.run(str(golden))
        except DatacentricError:
            raise DatacentricError("golden set not found: give a CSV/list file or a golden run id", golden) from None
        if stored.kind != "golden":
            raise DatacentricError(f"run '{stored.id}' is a {stored.kind} run, not a golden set", project.root)
        return GoldenSet(list(stored.config["ids"]), stored.config["source"], stored.id)
    if not ids:
        raise DatacentricError("the golden set is empty (need labelled real images)", source)
    run = project.new_run(
        "golden", {"ids": ids, "source": source, "fraction": HOLDOUT_FRACTION, "seed": project.config.seed}
    )
    (run.dir / "golden.json").write_text(json.dumps({"ids": ids, "source": source}, indent=2), encoding="utf-8")
    project.finish_run(run, {"n": len(ids)})
    return GoldenSet(ids, source, run.id)


def _holdout(project) -> list[str]:
    """Deterministic stratified holdout: per class, the images with the smallest seeded hash."""
    from datacentric.model.grouping import project_groups

    data = project.dataset("real")
    groups = project_groups(project, data)
    if groups is not None:
        return holdout_groups(data.ids, data.labels, groups, seed=project.config.seed)
    chosen = []
    for c in range(len(data.classes)):
        members = [data.ids[i] for i in np.flatnonzero(data.labels == c)]
        if len(members) < 3:
            continue
        members.sort(key=lambda image_id: _rank(project.config.seed, image_id))
        chosen.extend(members[: max(1, round(HOLDOUT_FRACTION * len(members)))])
    return sorted(chosen)


def _rank(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def holdout_groups(
    ids: list[str], labels: np.ndarray, groups: list[str], *, seed: int = 0, fraction: float = HOLDOUT_FRACTION
) -> list[str]:
    """A stratified holdout of whole groups: a group is wholly in or wholly out.

    Per class (with at least 3 images), groups holding that class are taken in the order of
    a hash of the seed and the group name until the class has ``fraction`` of its images
    (at least one) in the holdout. A group that would put more than half of any class in
    the holdout is passed over, so training keeps most of every class.
    """
    labels = np.asarray(labels)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    size = {int(c): int((labels == c).sum()) for c in np.unique(labels)}
    taken = {c: 0 for c in size}
    chosen: set[str] = set()
    for c in sorted(size):
        if size[c] < 3:
            continue
        target = max(1, round(fraction * size[c]))
        holding = sorted(
            (g for g, rows in members.items() if any(labels[i] == c for i in rows)), key=lambda g: _rank(seed, g)
        )
        for g in holding:
            if taken[c] >= target:
                break
            add = np.bincount(labels[members[g]], minlength=max(size) + 1)
            if g in chosen or any(taken[k] + add[k] > size[k] / 2 for k in size if add[k]):
                continue
            chosen.add(g)
            for k in size:
                taken[k] += int(add[k])
    return sorted(ids[i] for g in chosen for i in members[g])


def _read_golden_file(project, path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    refs: list[tuple[str, str]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        column = next((c for c in ("file", "image", "path", "id") if c in (reader.fieldnames or [])), None)
        if column is None:
            raise DatacentricError("golden CSV needs a file, image, path or id column", path)
        for line, row in enumerate(reader, start=2):
            if (row.get(column) or "").strip():
                refs.append((row[column].strip(), f"{path}:{line}"))
    else:
        refs = [
            (s.strip(), f"{path}:{i}")
            for i, s in enumerate(text.splitlines(), 1)
            if s.strip() and not s.startswith("#")
        ]
    ids = []
    for ref, where in refs:
        candidate = Path(ref) if Path(ref).is_absolute() else path.parent / ref
        try:
            image = project.image(candidate if candidate.is_file() else ref)
        except DatacentricError as exc:
            raise DatacentricError(exc.what, where) from None
        ids.append(image.id)
    return sorted(dict.fromkeys(ids))


def _score(project, run, gold_ids: list[str], gold_paths: list[Path], gold_labels: list[str]) -> ModelScore:
    """Accuracy of a train run's model on the golden images, never on an image it trained on."""
    from datacentric.model import load_classifier

    oof = read_oof(run)
    oof_index = {image_id: k for k, image_id in enumerate(oof.ids)}
    oof_probs, classes = oof.probs, oof.classes
    predicted: list[str | None] = [None] * len(gold_ids)
    unseen = [i for i, image_id in enumerate(gold_ids) if image_id not in oof_index]
    for i, image_id in enumerate(gold_ids):
        if image_id in oof_index:
            predicted[i] = classes[int(np.argmax(oof_probs[oof_index[image_id]]))]
    if unseen:
        classifier = load_classifier(run, cache_dir=project.cache_dir)
        probs = classifier.predict_proba([gold_paths[i] for i in unseen])
        for i, row in zip(unseen, probs):
            predicted[i] = classifier.classes[int(np.argmax(row))]
    correct = [p == label for p, label in zip(predicted, gold_labels)]
    scored = "final model" if len(unseen) == len(gold_ids) else "out-of-fold" if not unseen else "mixed"
    return ModelScore(run.id, float(np.mean(correct)), len(correct), scored, correct)


def retrain(
    project,
    *,
    golden: str | Path | None = None,
    mode: str | None = None,
    tolerance: float | None = None,
    seed: int | None = None,
    **train_options,
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
    gold_ids, gold_paths, gold_labels, notes = _golden_images(project, gold)
    options = {**_challenger_options(champion, mode, seed, train_options), "exclude": gold_ids}
    challenger_run = train(project, **options).run
    champ = _score(project, champion, gold_ids, gold_paths, gold_labels)
    chall = _score(project, challenger_run, gold_ids, gold_paths, gold_labels)
    n, delta, se, tol, mcnemar = _paired(champ.correct, chall.correct, tolerance)
    changes = project.labels_given_since(champion.created_at)
    promoted, reason = decide(delta, tol, changes)
    after = challenger_run.id if promoted else champion.id

    run = project.new_run(
        "retrain",
        {
            "golden": gold.source,
            "golden_run": gold.run_id,
            "mode": options["mode"],
            "tolerance": tolerance,
            "champion_before": champion.id,
            "challenger": challenger_run.id,
        },
    )
    decision = RetrainDecision(
        promoted=bool(promoted),
        champion=champ,
        challenger=chall,
        delta=delta,
        tolerance=tol,
        standard_error=se,
        mcnemar_p=mcnemar,
        n_golden=n,
        golden=gold.source,
        champion_after=after,
        run_id=run.id,
        notes=notes,
        reason=reason,
        label_changes=changes,
    )
    per_image = [
        {"image": str(p), "label": y, "champion": a, "challenger": b}
        for p, y, a, b in zip(gold_paths, gold_labels, champ.correct, chall.correct)
    ]
    (run.dir / "retrain.json").write_text(
        json.dumps({**asdict(decision), "images": per_image}, indent=2), encoding="utf-8"
    )
    project.finish_run(
        run,
        {
            "promoted": decision.promoted,
            "champion_after": after,
            "champion_before": champion.id,
            "challenger": challenger_run.id,
            "champion_accuracy": champ.accuracy,
            "challenger_accuracy": chall.accuracy,
            "delta": delta,
            "tolerance": tol,
            "standard_error": se,
            "mcnemar_p": mcnemar,
            "n_golden": n,
            "champion_scored": champ.scored,
            "challenger_scored": chall.scored,
            "reason": reason,
            "label_changes": changes,
        },
    )
    return decision


def _golden_images(project, gold: GoldenSet) -> tuple[list[str], list[Path], list[str], list[str]]:
    """The golden images that still have a label: ids, paths, labels, and a note on any left out."""
    labels = project.labels()
    records = {r.id: r for r in project.images("real")}
    gold_ids = [i for i in gold.ids if i in labels and i in records]
    notes = []
    if len(gold_ids) < len(gold.ids):
        notes.append(f"{len(gold.ids) - len(gold_ids)} golden images have no label now and are left out")
    if not gold_ids:
        raise DatacentricError("no labelled images left in the golden set", gold.source)
    return gold_ids, [records[i].path for i in gold_ids], [labels[i] for i in gold_ids], notes


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
