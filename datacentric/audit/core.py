"""The audit: every check on one set of out-of-sample predictions, as one result.

:func:`audit_arrays` works on plain arrays (use it in your own training loop);
:func:`find_issues` reads a project's latest train run, runs the same checks, and
writes an "audit" run with ``audit.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import json
import math
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

from datacentric.audit.annotators import (
    AnnotatorStats,
    ConsensusLabel,
    annotator_consensus,
    label_matrix,
)
from datacentric.audit.classes import (
    ClassHealth,
    ClassOverlap,
    class_health,
    overlapping_classes,
)
from datacentric.audit.labels import LabelIssue, label_issues
from datacentric.model.neighbours import (
    NearDuplicate,
    Outlier,
    find_near_duplicates,
    find_outliers,
    nearest_each,
    unit_rows,
)
from datacentric.model.neighbours import neighbours as knn_graph
from datacentric.audit.slices import Slice, slice_accuracy
from datacentric.collect import estimate_more
from datacentric.errors import DatacentricError
from datacentric.runs import OOF_FILE, read_oof
from datacentric.words import plural

__all__ = ["AuditResult", "audit_arrays", "find_issues", "load_audit"]


@dataclass
class AuditResult:
    """What the audit found. Lists are worst first; ``to_json()`` is the ``--json`` schema."""

    label_issues: list[LabelIssue]  # every image, worst label quality first
    classes: list[ClassHealth]  # class order
    slices: list[Slice]  # per metadata column, worst accuracy first
    annotators: list[AnnotatorStats]  # lowest agreement with consensus first
    consensus: list[ConsensusLabel]  # every image (input order)
    outliers: list[Outlier]  # flagged unusual images, most unusual first
    near_duplicates: list[NearDuplicate]  # closest pairs first
    overlapping_classes: list[ClassOverlap] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)  # row given, column predicted
    accuracy: float = float("nan")  # out-of-sample accuracy against the given labels
    summary: list[str] = field(default_factory=list)  # findings in plain words
    next_steps: list[str] = field(default_factory=list)  # what to do, with commands
    counts: dict = field(default_factory=dict)  # label_issues, weak_classes, weak_slices, ...
    most_disagreeing: str | None = None  # the annotator who disagrees most with consensus
    run_id: str | None = None  # the audit run
    train_run: str | None = None  # the train run whose probabilities were audited
    report: str | None = None  # path of report.html
    notes: list[str] = field(default_factory=list)  # what was skipped and why

    @property
    def flagged(self) -> list[LabelIssue]:
        """The images flagged as likely label errors, worst first."""
        return [issue for issue in self.label_issues if issue.is_issue]

    def to_json(self) -> dict:
        """Plain JSON types (the ``datacentric audit --json`` output)."""
        from datacentric.serialize import to_jsonable

        return _clean(to_jsonable(self))


def _clean(value):
    """NaN is not JSON: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def audit_arrays(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    classes: Sequence[str],
    *,
    images: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
    metadata: Sequence[Mapping[str, str]] | None = None,
    annotator_labels: np.ndarray | None = None,
    annotators: Sequence[str] | None = None,
    folds: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
    reviewed: Sequence[bool] | None = None,
    min_per_class: int = 5,
    min_slice: int = 10,
    alpha: float = 0.05,
    neighbours: int = 2,
    project: str = "PROJECT/",
    filter_by: str | None = None,
    rules: Mapping[frozenset, str] | None = None,
) -> AuditResult:
    """Run every check on plain arrays (N images, K classes).

    Parameters
    ----------
    labels : (N,) int
        The given (consensus) label of each image, indexing ``classes``.
    pred_probs : (N, K) float
        Out-of-sample predicted probabilities (cross-validation).
    classes : K names
    images, ids : N paths / ids naming the images in the result (default: row numbers)
    embeddings : (N, D) float, optional
        Enables outliers, near-duplicates and "nearest well-labelled examples".
    metadata : N dicts, optional
        Enables error slicing (line, camera, shift, ...).
    annotator_labels : (N, M) float with NaN, optional
        Each annotator's label (class index) per image; enables consensus and annotator quality.
    annotators : M names for the columns of ``annotator_labels``
    folds : (N,) or (repeats, N) int, optional
        Cross-validation fold of each image; marks near-duplicates that leak across folds.
    groups : N names, optional
        The group of each image that cross-validation kept together (part, lot, twins): the
        slice tests count each group once.
    reviewed : (N,) bool, optional
        Images whose label a reviewer has settled (relabel, Label Studio): the annotators'
        consensus does not override them.
    min_per_class : int, default 5
        Classes with fewer images are marked too few and never judged.
    min_slice, alpha : slice test settings (see :func:`datacentric.audit.slices.slice_accuracy`)
    neighbours : int, default 2
        Nearest well-labelled examples of each class to show beside a flagged image.
    project : str
        Project folder as the user typed it, used in the suggested commands.
    filter_by : str, optional
        cleanlab's rule for the model's flags (see :func:`datacentric.audit.labels.label_issues`;
        default: the worst-scored images, as many as cleanlab estimates are wrong).
    rules : {frozenset({class_a, class_b}): rule text}, optional
        The team's labelling rules (the label book's); next steps quote them.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=np.float64)
    n, k = probs.shape
    classes = [str(c) for c in classes]
    images = [str(s) for s in images] if images is not None else [str(i) for i in range(n)]
    notes: list[str] = []

    issues = label_issues(
        labels, probs, classes, images=images, ids=ids, min_per_class=min_per_class, filter_by=filter_by
    )
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, labels=np.arange(k))
    accuracy = float(np.mean(predicted == labels)) if n else float("nan")
    health = class_health(labels, probs, classes, min_per_class=min_per_class)
    overlaps = overlapping_classes(labels, probs, classes)

    slices: list[Slice] = []
    if metadata is not None and any(metadata):
        slices = slice_accuracy(predicted == labels, metadata, min_size=min_slice, alpha=alpha, groups=groups)
    else:
        notes.append("no metadata columns: error slicing skipped")

    consensus: list[ConsensusLabel]
    annotator_stats: list[AnnotatorStats] = []
    most = None
    if annotator_labels is not None and annotators is not None and len(annotators) > 0:
        multi = annotator_consensus(annotator_labels, probs, annotators=annotators, classes=classes, images=images)
        consensus, annotator_stats, most = multi.consensus, multi.annotators, multi.most_disagreeing
        if multi.method != "crowdlab":
            notes.append("only one annotator per image: no consensus to compute")
        else:
            skip = set(np.flatnonzero(np.asarray(reviewed, dtype=bool)).tolist()) if reviewed is not None else set()
            issues = _with_consensus(issues, [c for c in consensus if c.index not in skip], classes, probs)
    else:
        consensus = [
            ConsensusLabel(
                image=images[i],
                label=classes[labels[i]],
                agreement=1.0,
                majority=classes[labels[i]],
                n_annotations=1,
                index=i,
            )
            for i in range(n)
        ]
        notes.append("no per-annotator labels: consensus is the given label")

    outliers: list[Outlier] = []
    duplicates: list[NearDuplicate] = []
    if embeddings is not None and len(embeddings) == n and n >= 3:
        emb = np.asarray(embeddings)
        unit = unit_rows(emb)  # one float64 copy, normalised once, for every search below
        graph = knn_graph(emb, unit=unit)  # one k-NN graph for outliers and near-duplicates
        outliers = [o for o in find_outliers(emb, images=images, graph=graph, unit=unit) if o.is_outlier]
        duplicates = find_near_duplicates(
            emb, images=images, labels=[classes[c] for c in labels], folds=folds, graph=graph
        )
        good = np.array([not issue.is_issue for issue in sorted(issues, key=lambda x: x.index)]) & (predicted == labels)
        flagged = [issue for issue in issues if issue.is_issue]
        pools = [good & (labels == c) for c in range(len(classes))]
        picks = nearest_each(
            emb,
            [issue.index for issue in flagged for _ in range(2)],
            [pools[classes.index(name)] for issue in flagged for name in (issue.given, issue.suggested)],
            k=neighbours,
            unit=unit,
        )
        for issue, given, suggested in zip(flagged, picks[::2], picks[1::2]):
            issue.nearest_given = [images[j] for j in given]
            issue.nearest_suggested = [images[j] for j in suggested]
    else:
        notes.append("no embeddings: outliers, near-duplicates and example neighbours skipped")

    result = AuditResult(
        label_issues=issues,
        classes=health,
        slices=slices,
        annotators=annotator_stats,
        consensus=consensus,
        outliers=outliers,
        near_duplicates=duplicates,
        overlapping_classes=overlaps,
        class_names=classes,
        confusion=matrix.tolist(),
        accuracy=accuracy,
        most_disagreeing=most,
        notes=notes,
    )
    _summarise(result, project=project, min_per_class=min_per_class, rules=rules or {})
    return result


def _with_consensus(
    issues: list[LabelIssue], consensus: list[ConsensusLabel], classes: list[str], probs: np.ndarray
) -> list[LabelIssue]:
    """Also flag images whose CROWDLAB consensus (annotators weighted by their quality, plus
    the model) differs from the given label; their quality becomes at most 1 - the consensus
    confidence. Returns the issues re-sorted worst first."""
    by_index = {c.index: c for c in consensus}
    for issue in issues:
        c = by_index.get(issue.index)
        if c is None or not c.label or c.label == issue.given or not issue.judged:
            continue
        if c.quality == c.quality:
            issue.quality = float(min(issue.quality, 1.0 - c.quality))
        issue.reason = "model+annotators" if issue.is_issue else "annotators"
        issue.is_issue = True
        issue.suggested = c.label
        issue.confidence = float(probs[issue.index, classes.index(c.label)])
    return sorted(issues, key=lambda i: (i.quality, i.index))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _summarise(
    result: AuditResult, *, project: str, min_per_class: int, rules: Mapping[frozenset, str] | None = None
) -> None:
    """Fill counts, summary (plain words) and next steps (with commands)."""
    flagged = result.flagged
    n = len(result.label_issues)
    weak = [c for c in result.classes if c.weak]
    too_few = [c for c in result.classes if c.too_few and c.n > 0]
    weak_slices = [s for s in result.slices if s.weak]
    pairs = Counter(tuple(sorted((i.given, i.suggested))) for i in flagged)
    leaks = [d for d in result.near_duplicates if d.leaks_across_folds]
    conflicting = [d for d in result.near_duplicates if not d.same_label]
    disagree = [c for c in result.consensus if len(set(c.votes.values())) > 1]
    result.counts = {
        "images": n,
        "label_issues": len(flagged),
        "weak_classes": len(weak),
        "too_few_classes": len(too_few),
        "weak_slices": len(weak_slices),
        "annotator_disagreements": len(disagree),
        "consensus_differs_from_majority": sum(1 for c in result.consensus if c.majority and c.label != c.majority),
        "outliers": len(result.outliers),
        "near_duplicates": len(result.near_duplicates),
        "near_duplicates_across_folds": len(leaks),
    }
    s, steps = result.summary, result.next_steps
    weak_model = _weak_model_warning(result)
    result.counts["weak_model"] = weak_model is not None
    if weak_model:
        s.append(weak_model)
    s.append(
        f"The model, tested on images it did not train on, agrees with the given label on "
        f"{_pct(result.accuracy)} of {n} images."
    )
    if flagged:
        text = f"{plural(len(flagged), 'image looks', 'images look')} mislabelled"
        if pairs:
            (a, b), count = pairs.most_common(1)[0]
            if count >= 2:
                text += f"; {count} of them are {a}↔{b}"
                if len(result.class_names) > 2 and _confused_anyway(result, a, b):
                    text += (
                        f". The model mixes up {a} and {b} in general, so these flags may be its "
                        f"weakness, not label errors: decide them by your labelling rule for "
                        f"{a} vs {b}, not by following the suggestion"
                    )
        s.append(text + ".")
    else:
        s.append("No image looks clearly mislabelled.")
    weak.sort(key=lambda c: min(c.recall, c.precision if c.precision == c.precision else 1.0, c.label_quality))
    for c in weak[:3]:
        s.append(f"Weak class: {c.name} ({c.reason}; n={c.n}).")
    if len(weak) > 3:
        s.append(f"{len(weak) - 3} more weak classes: {', '.join(c.name for c in weak[3:])} (see the report).")
    for c in too_few:
        s.append(
            f"Class {c.name} has only {c.n} image{'s' if c.n != 1 else ''}: too few to judge "
            f"(needs at least {min_per_class})."
        )
    for sl in weak_slices:
        s.append(
            f"Weak slice: {sl.column}={sl.value} (accuracy {sl.accuracy:.2f} vs {sl.rest_accuracy:.2f} "
            f"elsewhere, n={sl.n})."
        )
    if result.most_disagreeing and len(result.annotators) >= 2:
        worst = next(a for a in result.annotators if a.name == result.most_disagreeing)
        others = [a.agreement for a in result.annotators if a.name != worst.name and a.n > 0]
        rest = f" (others {_pct(1 - max(others))}–{_pct(1 - min(others))})" if others else ""
        if len(others) == 1:
            rest = f" (other {_pct(1 - others[0])})"
        s.append(
            f"Annotator {worst.name} disagrees with the consensus on {_pct(1 - worst.agreement)} of "
            f"their {worst.n} images{rest}."
        )
    if disagree:
        s.append(f"Annotators gave different labels to {plural(len(disagree), 'image')}.")
    if result.outliers:
        one = len(result.outliers) == 1
        s.append(
            f"{len(result.outliers)} image{'' if one else 's'} look{'s' if one else ''} unlike the rest "
            f"(outlier{'' if one else 's'})."
        )
    if result.near_duplicates:
        one = len(result.near_duplicates) == 1
        text = f"{len(result.near_duplicates)} pair{'' if one else 's'} of near-duplicate images"
        if leaks:
            text += f", {len(leaks)} split across cross-validation folds (flatters accuracy)"
        if conflicting:
            text += f", {len(conflicting)} with different labels"
        s.append(text + ".")

    if flagged:
        steps.append(
            f"Review the {len(flagged)} flagged images (worst first): "
            f"datacentric labelstudio push {project} --only-flagged — or fix one at a time: "
            f"datacentric relabel {project} IMAGE LABEL --by NAME --note WHY"
        )
        for (a, b), count in pairs.most_common(2):
            if count >= 2:
                rule = rules.get(frozenset((a, b)))
                if rule:
                    steps.append(f"Check the {count} flagged images between {a} and {b} against your rule: {rule}")
                else:
                    steps.append(
                        f"Write a tie-breaking rule for {a} vs {b} ({count} flagged images sit "
                        f"between them): datacentric labelbook {project} --rule "
                        f"{shlex.quote(f'{a} vs {b}: ...')}"
                    )
    for c in weak[:2]:
        where = ""
        for sl in weak_slices:
            where = f" from {sl.column}={sl.value}"
            break
        collect = estimate_more(c.name, have=c.n, recall_now=c.recall).text  # no number here
        steps.append(
            f"{collect[0].upper()}{collect[1:]}{where}; how many (with its range) is "
            f"measured on a learning curve by: datacentric improve {project} "
            f"--class {shlex.quote(c.name)}"
        )
    for c in too_few:
        steps.append(f"Collect more {c.name} images: with {c.n} the audit cannot judge the class.")
    if weak_slices and not weak:
        sl = weak_slices[0]
        steps.append(
            f"Collect more images from {sl.column}={sl.value}, or check that station "
            f"(lighting, focus) — the model does worse there."
        )
    if result.most_disagreeing and len(result.annotators) >= 2:
        worst = next(a for a in result.annotators if a.name == result.most_disagreeing)
        if worst.agreement < 0.9:
            about = f", starting with {worst.worst_class}" if worst.worst_class else ""
            steps.append(
                f"Go through {worst.name}'s labels with them{about}; "
                f"agree on the labelling guide before the next batch."
            )
    if leaks or conflicting:
        steps.append(
            "Remove or merge near-duplicate images (see the table): a twin in another fold makes "
            "cross-validation look better than it is."
        )
    if result.outliers:
        steps.append(
            f"Look at the {len(result.outliers)} unusual image(s): wrong part, bad framing or a new "
            f"kind of defect? Remove them or collect more like them."
        )
    steps.append(f"After fixing labels: datacentric train {project} && datacentric audit {project}")


def _confused_anyway(result: AuditResult, a: str, b: str) -> bool:
    """Whether the class table already sees classes ``a`` and ``b`` mixed up."""
    overlap = any({o.a, o.b} == {a, b} for o in result.overlapping_classes)
    confused = any(c.name in (a, b) and c.weak and c.confused_with in (a, b) for c in result.classes)
    return overlap or confused


WEAK_SKILL = 0.7  # share of the way from "always the commonest class" to perfect


def _weak_model_warning(result: AuditResult) -> str | None:
    """A caution for the top of the summary when the model is too weak to trust its flags."""
    counts = [c.n for c in result.classes]
    n = sum(counts)
    if n == 0 or not result.accuracy == result.accuracy:
        return None
    chance = max(counts) / n
    skill = (result.accuracy - chance) / max(1e-9, 1.0 - chance)
    if skill >= WEAK_SKILL:
        return None
    return (
        f"Caution: the model is weak on these images (right on {_pct(result.accuracy)}, where always "
        f"answering the commonest class would be right on {_pct(chance)}), so many flags will be its "
        f"own mistakes rather than wrong labels. Review them worst first and expect fewer real "
        f"errors than flags; more labelled images or a better backbone make the flags sharper."
    )


# -- the project-level audit -----------------------------------------------------------


def _resolve_train_run(project, run):
    """The train run to audit: a train run, the train run behind an audit run, or by default
    the champion that left no image out (:func:`datacentric.runs.champion` with ``complete``).

    A challenger from ``retrain`` is trained without the golden set, so it has no
    out-of-sample predictions for those images: auditing it would silently skip them.
    """
    if run is not None and not isinstance(run, str):
        return run
    if run is not None:
        found = project.run(run)
        if found.kind == "audit" and found.config.get("train_run"):
            return project.run(found.config["train_run"])
    return project.train_run(run, complete=True)


def find_issues(
    project,
    run=None,
    *,
    embeddings: np.ndarray | None = None,
    min_per_class: int = 5,
    min_slice: int = 10,
    alpha: float = 0.05,
    report: bool = True,
    project_arg: str | None = None,
) -> AuditResult:
    """Audit a project on the out-of-sample probabilities of a train run; write an "audit" run.

    Parameters
    ----------
    project : Project
    run : str or Run, optional
        The train run (id or object) to audit; default the latest finished one.
    embeddings : (N, D) array, optional
        Embeddings in the train run's image order; default
        :func:`datacentric.model.embed_project` (cached).
    min_per_class, min_slice, alpha : see :func:`audit_arrays`
    report : bool, default True
        Also write ``report.html`` in the run folder.
    project_arg : str, optional
        The project folder as the user typed it (for commands in the next steps).

    Returns
    -------
    AuditResult with ``run_id`` and ``report`` set. The run folder holds ``audit.json``
    (``AuditResult.to_json()``) and ``report.html``.
    """
    train = _resolve_train_run(project, run)
    oof = read_oof(train)
    oof_path = Path(train.dir) / OOF_FILE
    ids, labels, probs, classes, folds = oof.ids, oof.labels, oof.probs, oof.classes, oof.folds
    if folds is None:
        folds = _train_folds(project, train, labels)
    records = {r.id: r for r in project.images(None)}
    missing = [i for i in ids if i not in records]
    if missing:
        raise DatacentricError(
            f"{len(missing)} images of the train run are no longer in the project (removed since): train again first",
            oof_path,
        )
    recs = [records[i] for i in ids]
    current = project.labels()
    index = {c: j for j, c in enumerate(classes)}
    changed = 0
    for row, image_id in enumerate(ids):  # labels fixed since training count as given now
        label = current.get(image_id)
        if label in index and index[label] != labels[row]:
            labels[row] = index[label]
            changed += 1
    notes = []
    if embeddings is None:
        try:
            from datacentric.model import embed_project

            embeddings = embed_project(project, recs)
        except Exception as exc:  # noqa: BLE001  (the other checks still stand without embeddings)
            notes.append(f"embeddings unavailable ({exc}): outliers and near-duplicates skipped")
            embeddings = None
    from datacentric.model.grouping import run_groups
    from datacentric.project import REVIEW_SOURCES

    votes: dict[str, dict[str, str]] = {}
    reviewed_ids = set()
    for ann in project.annotations():  # annotators' latest labels; reviews are not votes
        if ann.source in REVIEW_SOURCES:
            reviewed_ids.add(ann.image_id)
        else:
            votes.setdefault(ann.image_id, {})[ann.annotator] = ann.label
    matrix, names = label_matrix(votes, ids, classes)
    result = audit_arrays(
        labels,
        probs,
        classes,
        images=[str(r.path) for r in recs],
        ids=ids,
        embeddings=embeddings,
        metadata=[dict(r.metadata) for r in recs],
        annotator_labels=matrix,
        annotators=names,
        folds=folds,
        groups=run_groups(oof.group_of(), ids, [dict(r.metadata) for r in recs], train.config.get("group_by")),
        reviewed=[i in reviewed_ids for i in ids],
        min_per_class=min_per_class,
        min_slice=min_slice,
        alpha=alpha,
        project=project_arg or _display(project.root),
        rules=_rules_in_force(project),
    )
    result.notes = notes + result.notes
    _note_grouping(result, train.metrics)
    _note_reviews(result, project)
    if changed:
        result.notes.append(f"{changed} labels changed since the train run; audited against the current labels")
    if folds is None and result.near_duplicates:
        result.notes.append("fold assignment not stored in the train run: leaks across folds unknown")
    config = {"train_run": train.id, "min_per_class": min_per_class, "min_slice": min_slice, "alpha": alpha}
    audit_run = project.new_run("audit", config)
    result.run_id, result.train_run = audit_run.id, train.id
    if report:
        from datacentric.audit.report import render_report

        path = Path(audit_run.dir) / "report.html"
        result.report = str(path)
        path.write_text(
            render_report(
                result,
                title=f"Audit of {project.root.name}",
                subtitle=f"{project.root} · run {audit_run.id} · from train run {train.id}",
            ),
            encoding="utf-8",
        )
    (Path(audit_run.dir) / "audit.json").write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    project.finish_run(
        audit_run, {**result.counts, "accuracy": result.accuracy, "most_disagreeing": result.most_disagreeing}
    )
    return result


def _rules_in_force(project) -> dict[frozenset, str]:
    """The label book's latest rule per class pair."""
    from datacentric.labelbook import rules_in_force

    return {pair: rule.text for pair, rule in rules_in_force(project).items()}


def _note_reviews(result: AuditResult, project) -> None:
    """Say how many of today's flags the reviews of earlier flags predict to be real errors."""
    from datacentric.audit.reviews import flag_precision, review_outcomes
    from datacentric.project import REVIEW_SOURCES

    flagged = result.flagged
    if not flagged:
        return
    reviews = [(a.image_id, a.label, a.created_at) for a in project.annotations() if a.source in REVIEW_SOURCES]
    last_review = max((when for _, _, when in reviews), default="")
    earlier = []
    for run in project.runs("audit"):  # only audits a later review can have settled are read
        if run.status != "done" or run.created_at >= last_review:
            continue
        try:
            stored = load_audit(project, run.id)
        except (DatacentricError, OSError, ValueError):
            continue
        earlier += [
            (i.get("id", ""), i.get("given", ""), run.created_at)
            for i in stored.get("label_issues", [])
            if i.get("is_issue") and i.get("id")
        ]
    reviewed, real = review_outcomes(earlier, reviews)
    estimate = flag_precision(len(flagged), reviewed, real)
    result.counts["flags_reviewed"], result.counts["flags_reviewed_real"] = reviewed, real
    at = next((k + 1 for k, line in enumerate(result.summary) if "mislabelled" in line), len(result.summary))
    if estimate is None:
        line = (
            "How many flags are real errors is not measured yet: review some (relabel or Label "
            "Studio) and the next audit counts them."
        )
    else:
        result.counts["expected_real_errors"] = round(estimate.expected, 1)
        line = (
            f"Expect about {estimate.expected:.0f} of the {len(flagged)} flags to be real errors "
            f"({estimate.low:.0f}-{estimate.high:.0f}): {real} of the {reviewed} earlier flags "
            f"a reviewer settled were."
        )
    result.summary.insert(at, line)


def _note_grouping(result: AuditResult, metrics: dict) -> None:
    """Say how much accuracy grouped folds cost against plain ones (the leak they closed)."""
    plain = metrics.get("ungrouped_cv_accuracy")
    column = metrics.get("group_by")
    twins = int(metrics.get("twin_pairs") or 0)
    result.counts["twin_pairs_kept_together"] = twins
    if plain is None or not (column or twins):
        return
    grouped = float(metrics.get("cv_accuracy", float("nan")))
    kept = " and ".join(
        ([f"each {column}"] if column else [])
        + ([f"{twins} near-duplicate pair{'s' if twins != 1 else ''}"] if twins else [])
    )
    what = f"one {column}" if column else "near-duplicates"
    if column:
        result.counts["group_by"] = column
    result.counts["ungrouped_cv_accuracy"] = float(plain)
    result.summary.insert(
        1,
        f"Cross-validation kept {kept} on one side: accuracy {grouped:.2f}, "
        f"where plain folds report {plain:.2f} ({plain - grouped:+.2f} from photos of "
        f"{what} validating each other).",
    )


def _train_folds(project, train, labels: np.ndarray) -> np.ndarray | None:
    """Rebuild the train run's fold assignment (R, N) when oof.npz does not store it."""
    try:
        from datacentric.model import plan_folds

        folds = int(train.metrics.get("folds") or train.config.get("folds") or project.config.folds)
        seed = train.config.get("seed", train.metrics.get("seed", project.config.seed))
        repeats = int(train.metrics.get("repeats") or train.config.get("repeats") or 1)
        return plan_folds(labels, folds=folds, seed=int(seed), repeats=repeats).assignments
    except Exception:  # noqa: BLE001  (without folds the leak check says "unknown")
        return None


def load_audit(project, run: str | None = None) -> dict:
    """The stored ``audit.json`` of an audit run (default: the latest) as a dict."""
    found = project.run(run) if run else project.latest_run("audit")
    if found is None:
        raise DatacentricError("no audit run yet; run: datacentric audit PROJECT", project.root)
    return json.loads((Path(found.dir) / "audit.json").read_text(encoding="utf-8"))


def _display(root: Path) -> str:
    try:
        rel = Path(root).resolve().relative_to(Path.cwd().resolve())
        return f"{rel}/" if str(rel) != "." else "./"
    except ValueError:
        return f"{root}/"
