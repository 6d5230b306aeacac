"""Several annotators: consensus labels and annotator quality (CROWDLAB) vs majority vote.

The label matrix is (N, M): one row per image, one column per annotator, holding the
class index an annotator gave or NaN where they did not label the image (an image
labelled by only one of three people is a row with two NaN).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AnnotatorStats",
    "ConsensusLabel",
    "MultiAnnotatorResult",
    "annotator_consensus",
    "label_matrix",
    "majority_vote",
]


@dataclass
class AnnotatorStats:
    """How one annotator's labels compare with the consensus."""

    name: str
    n: int  # images this annotator labelled
    quality: float  # CROWDLAB annotator quality in [0, 1] (agreement with consensus, weighted by the model)
    agreement: float  # share of their labels equal to the consensus label
    worst_class: str | None = None  # the class their labels are least reliable for


@dataclass
class ConsensusLabel:
    """The consensus for one image."""

    image: str
    label: str  # CROWDLAB consensus (annotators weighted by quality, plus the model)
    agreement: float  # share of this image's annotators who gave the consensus label
    quality: float = float("nan")  # CROWDLAB confidence that the consensus is right
    majority: str = ""  # plain majority vote (ties broken by the model)
    n_annotations: int = 0
    votes: dict[str, str] = field(default_factory=dict)  # annotator -> label
    index: int = -1


@dataclass
class MultiAnnotatorResult:
    """Consensus per image (with its majority vote, to compare) and quality per annotator."""

    consensus: list[ConsensusLabel]  # one per image, input order
    annotators: list[AnnotatorStats]  # worst agreement first
    most_disagreeing: str | None  # the annotator who disagrees most with consensus
    method: str = "crowdlab"  # crowdlab, or "single" when only one annotator labelled


def label_matrix(
    current: Mapping[str, Mapping[str, str]],
    ids: Sequence[str],
    classes: Sequence[str],
    annotators: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Build the (N, M) label matrix from ``{image_id: {annotator: label}}``.

    Returns the matrix (float, NaN = not labelled) and the annotator names (columns).
    Labels outside ``classes`` are treated as missing.
    """
    index = {c: i for i, c in enumerate(classes)}
    if annotators is None:
        annotators = sorted({a for i in ids for a in current.get(i, {})})
    column = {a: j for j, a in enumerate(annotators)}
    matrix = np.full((len(ids), len(annotators)), np.nan)
    for row, image_id in enumerate(ids):
        for who, label in current.get(image_id, {}).items():
            if who in column and label in index:
                matrix[row, column[who]] = index[label]
    return matrix, list(annotators)


def majority_vote(matrix: np.ndarray, pred_probs: np.ndarray | None = None) -> np.ndarray:
    """Plain majority vote per row; ties go to the class the model finds more probable
    (or the lowest index without a model). Rows with no label get -1.
    """
    n = matrix.shape[0]
    k = pred_probs.shape[1] if pred_probs is not None else int(np.nanmax(matrix, initial=0)) + 1
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        row = matrix[i][~np.isnan(matrix[i])].astype(np.int64)
        if row.size == 0:
            continue
        counts = np.bincount(row, minlength=k).astype(float)
        if pred_probs is not None:
            counts = counts + 1e-6 * pred_probs[i]
        out[i] = int(np.argmax(counts))
    return out


def annotator_consensus(
    matrix: np.ndarray,
    pred_probs: np.ndarray,
    *,
    annotators: Sequence[str],
    classes: Sequence[str],
    images: Sequence[str] | None = None,
    min_labels: int = 3,
) -> MultiAnnotatorResult:
    """Consensus labels and annotator quality with CROWDLAB, compared with majority vote.

    Uses :func:`cleanlab.multiannotator.get_label_quality_multiannotator`, which weighs
    each annotator by how often they agree with the others and with the out-of-sample
    model. Rows nobody labelled get consensus -1 (label ""); annotators who labelled
    nothing are left out. With a single annotator there is nothing to compare: the
    consensus is their label and agreement is 1.

    ``most_disagreeing`` is the annotator with the lowest agreement with consensus among
    those who labelled at least ``min_labels`` images (None with fewer than two annotators).
    """
    matrix = np.asarray(matrix, dtype=float)
    pred_probs = np.asarray(pred_probs, dtype=float)
    n = matrix.shape[0]
    images = [str(x) for x in images] if images is not None else [str(i) for i in range(n)]
    matrix, names = _drop_silent(matrix, [str(a) for a in annotators])
    labelled = ~np.all(np.isnan(matrix), axis=1) if matrix.shape[1] else np.zeros(n, bool)
    majority = majority_vote(matrix, pred_probs) if matrix.shape[1] else np.full(n, -1)
    multi = labelled & (np.sum(~np.isnan(matrix), axis=1) >= 2) if matrix.shape[1] else labelled
    if matrix.shape[1] >= 2 and multi.any():
        crowd = _crowdlab(matrix, names, pred_probs, labelled=labelled, majority=majority, classes=classes)
    else:
        crowd = _single(matrix, names, majority)
    crowd.stats.sort(key=lambda s: (s.agreement, s.name))
    return MultiAnnotatorResult(
        consensus=_consensus_labels(matrix, names, crowd, majority=majority, classes=classes, images=images),
        annotators=crowd.stats,
        most_disagreeing=_most_disagreeing(crowd.stats, min_labels),
        method=crowd.method,
    )


@dataclass
class _Crowd:
    """Per image (N,): the consensus class (-1 = nobody labelled it), its quality and the
    annotators' agreement with it; per annotator: their stats (unsorted); and the method.
    """

    consensus: np.ndarray
    quality: np.ndarray
    agreement: np.ndarray
    stats: list[AnnotatorStats]
    method: str


def _drop_silent(matrix: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """The label matrix and annotator names without the annotators who labelled nothing."""
    used = ~np.all(np.isnan(matrix), axis=0)
    return matrix[:, used], [a for a, u in zip(names, used) if u]


def _single(matrix: np.ndarray, names: list[str], majority: np.ndarray) -> _Crowd:
    """No image with two annotators: the consensus is the (majority) label, agreement 1."""
    n = matrix.shape[0]
    consensus = majority.copy()
    stats = [
        AnnotatorStats(
            name=name,
            n=int((~np.isnan(matrix[:, j])).sum()),
            quality=float("nan"),
            agreement=_agreement(matrix[:, j], consensus),
        )
        for j, name in enumerate(names)
    ]
    return _Crowd(consensus, np.full(n, np.nan), np.ones(n), stats, "single")


def _crowdlab(
    matrix: np.ndarray,
    names: list[str],
    pred_probs: np.ndarray,
    *,
    labelled: np.ndarray,
    majority: np.ndarray,
    classes: Sequence[str],
) -> _Crowd:
    """CROWDLAB (:func:`cleanlab.multiannotator.get_label_quality_multiannotator`) on the labelled rows."""
    from cleanlab.multiannotator import get_label_quality_multiannotator
    import pandas as pd

    n = matrix.shape[0]
    crowd = _Crowd(majority.copy(), np.full(n, np.nan), np.ones(n), [], "crowdlab")
    rows = np.flatnonzero(labelled)
    frame = pd.DataFrame(matrix[rows], columns=names)
    keep = [a for a in names if frame[a].notna().any()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = get_label_quality_multiannotator(frame[keep], _norm(pred_probs[rows]), verbose=False)
    lq = out["label_quality"]
    crowd.consensus[rows] = lq["consensus_label"].to_numpy(dtype=np.int64)
    crowd.quality[rows] = lq["consensus_quality_score"].to_numpy(dtype=float)
    crowd.agreement[rows] = lq["annotator_agreement"].to_numpy(dtype=float)
    table = out["annotator_stats"]
    for j, name in enumerate(names):
        if name in table.index:
            row = table.loc[name]
            worst = row["worst_class"]
            crowd.stats.append(
                AnnotatorStats(
                    name=name,
                    n=int((~np.isnan(matrix[:, j])).sum()),
                    quality=float(row["annotator_quality"]),
                    agreement=_agreement(matrix[:, j], crowd.consensus),
                    worst_class=str(classes[int(worst)]) if worst == worst and worst is not None else None,
                )
            )
    return crowd


def _most_disagreeing(stats: list[AnnotatorStats], min_labels: int) -> str | None:
    """The first of ``stats`` (sorted by agreement) among those with ``min_labels`` images; None below two."""
    eligible = [s for s in stats if s.n >= min_labels] or stats
    return eligible[0].name if len(stats) >= 2 and eligible else None


def _consensus_labels(
    matrix: np.ndarray,
    names: list[str],
    crowd: _Crowd,
    *,
    majority: np.ndarray,
    classes: Sequence[str],
    images: list[str],
) -> list[ConsensusLabel]:
    """One :class:`ConsensusLabel` per image, in input order."""
    result = []
    for i in range(matrix.shape[0]):
        consensus = crowd.consensus[i]
        result.append(
            ConsensusLabel(
                image=images[i],
                label=str(classes[consensus]) if consensus >= 0 else "",
                agreement=float(crowd.agreement[i]),
                quality=float(crowd.quality[i]),
                majority=str(classes[majority[i]]) if majority[i] >= 0 else "",
                n_annotations=int((~np.isnan(matrix[i])).sum()),
                votes={
                    names[j]: str(classes[int(matrix[i, j])]) for j in range(len(names)) if not np.isnan(matrix[i, j])
                },
                index=i,
            )
        )
    return result


def _agreement(column: np.ndarray, consensus: np.ndarray) -> float:
    got = ~np.isnan(column)
    if not got.any():
        return float("nan")
    return float(np.mean(column[got].astype(np.int64) == consensus[got]))


def _norm(probs: np.ndarray) -> np.ndarray:
    probs = np.clip(probs, 1e-9, None)
    return probs / probs.sum(axis=1, keepdims=True)
