"""Audit a labelled image set: label errors, annotators, weak classes, weak slices, outliers.

Every check works on out-of-sample predicted probabilities (N images, K classes) from
cross-validation, so no prediction comes from a model that saw the image's label.

* :func:`find_issues` — audit a project's latest train run and write an "audit" run
  (``audit.json`` + ``report.html``).
* :func:`audit_arrays` — the same checks on plain arrays, for your own training loop.
* The parts, usable alone: :func:`label_issues`, :func:`annotator_consensus`,
  :func:`class_health`, :func:`slice_accuracy`, :func:`find_outliers`,
  :func:`find_near_duplicates`, :func:`flag_trust` (how many flags are real errors).
"""

from __future__ import annotations

from datacentric.audit.annotators import (
    AnnotatorStats,
    ConsensusLabel,
    MultiAnnotatorResult,
    annotator_consensus,
    label_matrix,
    majority_vote,
)
from datacentric.audit.classes import ClassHealth, ClassOverlap, class_health, overlapping_classes
from datacentric.audit.core import AuditResult, audit_arrays
from datacentric.audit.from_project import find_issues, load_audit
from datacentric.audit.labels import LabelIssue, label_issues
from datacentric.model.neighbours import NearDuplicate, Outlier, find_near_duplicates, find_outliers
from datacentric.audit.slices import Slice, slice_accuracy
from datacentric.audit.trust import FlagTrust, flag_trust

__all__ = [
    "AnnotatorStats",
    "AuditResult",
    "ClassHealth",
    "ClassOverlap",
    "ConsensusLabel",
    "FlagTrust",
    "LabelIssue",
    "MultiAnnotatorResult",
    "NearDuplicate",
    "Outlier",
    "Slice",
    "annotator_consensus",
    "audit_arrays",
    "class_health",
    "find_issues",
    "find_near_duplicates",
    "find_outliers",
    "flag_trust",
    "label_issues",
    "label_matrix",
    "load_audit",
    "majority_vote",
    "overlapping_classes",
    "slice_accuracy",
]
