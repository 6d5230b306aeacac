"""What an audit found: :class:`AuditResult`, the one result of every check."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from datacentric.audit.annotators import (
    AnnotatorStats,
    ConsensusLabel,
)
from datacentric.audit.classes import (
    ClassHealth,
    ClassOverlap,
)
from datacentric.audit.labels import LabelIssue
from datacentric.audit.trust import FlagTrust
from datacentric.model.neighbours import (
    NearDuplicate,
    Outlier,
)
from datacentric.audit.slices import Slice


__all__ = ["AuditResult"]


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
    trust: FlagTrust | None = None  # how many flags are expected to be real errors
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
