"""What a project drift check found: :class:`DriftResult`, stored as the run's ``drift.json``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DriftResult"]


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
