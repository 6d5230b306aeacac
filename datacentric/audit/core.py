"""The audit: every check on one set of out-of-sample predictions, as one result.

:func:`audit_arrays` works on plain arrays (use it in your own training loop);
:func:`datacentric.audit.from_project.find_issues` runs it on a project's champion train run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import confusion_matrix

from datacentric.audit.annotators import (
    AnnotatorStats,
    ConsensusLabel,
    annotator_consensus,
)
from datacentric.audit.classes import (
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
from datacentric.audit.trust import FlagTrust, flag_trust
from datacentric.audit.result import AuditResult
from datacentric.audit.summary import summarise

__all__ = ["AuditResult", "audit_arrays"]


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
    settled: Sequence[bool] | None = None,
    reviews: Sequence[tuple[float, bool]] = (),
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
        Images a reviewer has labelled (relabel, Label Studio): the annotators' consensus
        does not override them.
    settled : (N,) bool, optional
        Images an earlier audit flagged and a reviewer decided since: never flagged again
        (``reviewed`` on their issue).
    reviews : (chance given when flagged, was it a real error) per settled earlier flag
        They correct the expected number of real errors (:mod:`datacentric.audit.trust`).
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
    data = _Inputs.of(labels, pred_probs, classes, images)
    notes: list[str] = []
    issues = label_issues(
        data.labels,
        data.probs,
        data.classes,
        images=data.images,
        ids=ids,
        min_per_class=min_per_class,
        filter_by=filter_by,
    )
    slices = _error_slices(data, metadata, groups=groups, min_slice=min_slice, alpha=alpha, notes=notes)
    crowd = _crowd(data, annotator_labels, annotators, notes=notes)
    issues = _settled(_with_consensus(issues, crowd, reviewed, data), settled)
    trust = _trust(data, issues, reviews)
    near = _neighbourhood(data, embeddings, issues, folds=folds, neighbours=neighbours, notes=notes)
    result = _assemble(data, issues, slices, crowd, near, min_per_class=min_per_class, notes=notes)
    result.trust = trust
    summarise(result, project=project, min_per_class=min_per_class, rules=rules or {})
    return result


@dataclass
class _Inputs:
    """The arrays every check reads: labels (N,), probabilities (N, K), class and image names."""

    labels: np.ndarray
    probs: np.ndarray
    classes: list[str]
    images: list[str]

    @classmethod
    def of(
        cls, labels: np.ndarray, pred_probs: np.ndarray, classes: Sequence[str], images: Sequence[str] | None
    ) -> _Inputs:
        """Typed copies; images are named by their row number when no names are given."""
        probs = np.asarray(pred_probs, dtype=np.float64)
        names = [str(s) for s in images] if images is not None else [str(i) for i in range(len(probs))]
        return cls(np.asarray(labels, dtype=np.int64), probs, [str(c) for c in classes], names)

    @property
    def predicted(self) -> np.ndarray:
        """The most probable class of each image (N,)."""
        return self.probs.argmax(axis=1)


@dataclass
class _Crowd:
    """The consensus step's answer: consensus per image, annotator stats, and whether CROWDLAB's
    consensus may flag labels (it ran on images with several annotators).
    """

    consensus: list[ConsensusLabel]
    annotators: list[AnnotatorStats] = field(default_factory=list)
    most_disagreeing: str | None = None
    overrides: bool = False


def _error_slices(data: _Inputs, metadata, *, groups, min_slice: int, alpha: float, notes: list[str]) -> list[Slice]:
    """Accuracy per metadata value (a note instead when there is no metadata)."""
    if metadata is not None and any(metadata):
        return slice_accuracy(data.predicted == data.labels, metadata, min_size=min_slice, alpha=alpha, groups=groups)
    notes.append("no metadata columns: error slicing skipped")
    return []


def _crowd(data: _Inputs, annotator_labels, annotators, *, notes: list[str]) -> _Crowd:
    """CROWDLAB consensus and annotator quality, or the given label as consensus (with a note why)."""
    if annotator_labels is None or annotators is None or len(annotators) == 0:
        notes.append("no per-annotator labels: consensus is the given label")
        return _Crowd(_given_as_consensus(data.labels, data.classes, data.images))
    multi = annotator_consensus(
        annotator_labels, data.probs, annotators=annotators, classes=data.classes, images=data.images
    )
    if multi.method != "crowdlab":
        notes.append("only one annotator per image: no consensus to compute")
    return _Crowd(multi.consensus, multi.annotators, multi.most_disagreeing, overrides=multi.method == "crowdlab")


def _settled(issues: list[LabelIssue], settled: Sequence[bool] | None) -> list[LabelIssue]:
    """Unflag the images a reviewer has settled: asking again about a label a person decided
    is noise in the review queue. They keep their score and say ``reviewed``.
    """
    if settled is None:
        return issues
    decided = np.asarray(settled, dtype=bool)
    for issue in issues:
        if decided[issue.index]:
            issue.reviewed, issue.is_issue = True, False
    return issues


def _trust(data: _Inputs, issues: list[LabelIssue], reviews: Sequence[tuple[float, bool]]) -> FlagTrust:
    """The expected number of real errors among the flags; each issue gets its chance of being one."""
    flags = np.zeros(len(data.labels), dtype=bool)
    flags[[issue.index for issue in issues if issue.is_issue]] = True
    trust, chance = flag_trust(data.labels, data.probs, flags, reviews=reviews)
    for issue in issues:
        issue.expected_precision = float(chance[issue.index])
    return trust


def _unreviewed(consensus: list[ConsensusLabel], reviewed: Sequence[bool] | None) -> list[ConsensusLabel]:
    """The consensus of the images no reviewer has settled."""
    skip = set(np.flatnonzero(np.asarray(reviewed, dtype=bool)).tolist()) if reviewed is not None else set()
    return [c for c in consensus if c.index not in skip]


def _given_as_consensus(labels: np.ndarray, classes: list[str], images: list[str]) -> list[ConsensusLabel]:
    """One annotator per image: the given label is the consensus."""
    return [
        ConsensusLabel(
            image=images[i],
            label=classes[labels[i]],
            agreement=1.0,
            majority=classes[labels[i]],
            n_annotations=1,
            index=i,
        )
        for i in range(len(labels))
    ]


def _neighbourhood(
    data: _Inputs, embeddings, issues: list[LabelIssue], *, folds, neighbours: int, notes: list[str]
) -> tuple[list[Outlier], list[NearDuplicate]]:
    """Outliers and near-duplicates from one k-NN graph; each flagged issue gets its nearest
    well-labelled examples of the given and of the suggested class (a note instead without embeddings).
    """
    n = len(data.probs)
    if embeddings is None or len(embeddings) != n or n < 3:
        notes.append("no embeddings: outliers, near-duplicates and example neighbours skipped")
        return [], []
    emb, labels, classes, images = np.asarray(embeddings), data.labels, data.classes, data.images
    unit = unit_rows(emb)  # one float64 copy, normalised once, for every search below
    graph = knn_graph(emb, unit=unit)  # one k-NN graph for outliers and near-duplicates
    outliers = [o for o in find_outliers(emb, images=images, graph=graph, unit=unit) if o.is_outlier]
    duplicates = find_near_duplicates(emb, images=images, labels=[classes[c] for c in labels], folds=folds, graph=graph)
    good = np.array([not issue.is_issue for issue in sorted(issues, key=lambda x: x.index)]) & (
        data.predicted == labels
    )
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
    return outliers, duplicates


def _assemble(
    data: _Inputs,
    issues: list[LabelIssue],
    slices: list[Slice],
    crowd: _Crowd,
    near: tuple[list[Outlier], list[NearDuplicate]],
    *,
    min_per_class: int,
    notes: list[str],
) -> AuditResult:
    """The checks' answers, with the class table, class overlaps and confusion matrix, as one result."""
    labels, predicted, k = data.labels, data.predicted, len(data.classes)
    return AuditResult(
        label_issues=issues,
        classes=class_health(labels, data.probs, data.classes, min_per_class=min_per_class),
        slices=slices,
        annotators=crowd.annotators,
        consensus=crowd.consensus,
        outliers=near[0],
        near_duplicates=near[1],
        overlapping_classes=overlapping_classes(labels, data.probs, data.classes),
        class_names=data.classes,
        confusion=confusion_matrix(labels, predicted, labels=np.arange(k)).tolist(),
        accuracy=float(np.mean(predicted == labels)) if len(labels) else float("nan"),
        most_disagreeing=crowd.most_disagreeing,
        notes=notes,
    )


def _with_consensus(
    issues: list[LabelIssue], crowd: _Crowd, reviewed: Sequence[bool] | None, data: _Inputs
) -> list[LabelIssue]:
    """Also flag images whose CROWDLAB consensus (annotators weighted by their quality, plus
    the model) differs from the given label, unless a reviewer settled them; their quality
    becomes at most 1 - the consensus confidence. Returns the issues re-sorted worst first
    (unchanged when CROWDLAB did not run).
    """
    if not crowd.overrides:
        return issues
    consensus, classes, probs = _unreviewed(crowd.consensus, reviewed), data.classes, data.probs
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
