"""A project's state at a glance: counts per class, annotator and origin, and problems."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from datacentric.project import Project

__all__ = ["ProjectStatus", "project_status"]


@dataclass
class ProjectStatus:
    """What ``datacentric status`` prints."""

    root: str
    images: int
    classes: dict[str, int]  # consensus label -> real images
    annotators: dict[str, int]  # annotator -> images labelled
    origins: dict[str, int]  # real / augmented / synthetic -> images
    metadata: dict[str, list[str]]  # column -> distinct values
    unlabelled: int
    disagreements: int  # images whose annotators' current labels differ
    runs: dict[str, int]  # kind -> runs running or done
    backbone: str
    problems: list[str] = field(default_factory=list)
    # kind -> runs whose process ended before they finished
    stale_runs: dict[str, int] = field(default_factory=dict)
    failed_runs: dict[str, int] = field(default_factory=dict)  # kind -> runs that ended in an error
    removed: int = 0  # images taken out with remove-images (kept in the history)


def project_status(project: Project) -> ProjectStatus:
    """Summarise a project and list what would stop or weaken training."""
    real = project.images("real")
    every = project.images(None)
    consensus = project.labels()
    current = project.current_labels()
    class_counts = Counter(consensus[r.id] for r in real if r.id in consensus)
    classes = {name: class_counts.get(name, 0) for name in project.classes()}
    annotators = Counter(a for r in real for a in current.get(r.id, {}))
    columns: dict[str, set[str]] = {}
    for record in real:
        for key, value in record.metadata.items():
            columns.setdefault(key, set()).add(value)
    runs = project.runs()
    disagreements = sum(1 for r in real if len(set(current.get(r.id, {}).values())) > 1)
    problems = []
    if not real:
        problems.append("no images yet: run `datacentric import`")
    for name, count in classes.items():
        if count == 0:
            problems.append(f"class '{name}' has no images")
        elif count < 2:
            problems.append(f"class '{name}' has only {count} image: too few to learn or judge")
        elif count < project.config.folds:
            problems.append(f"class '{name}' has {count} images, fewer than {project.config.folds} folds")
    if len([c for c in classes.values() if c]) == 1:
        problems.append("only one class has images: a classifier needs at least two")
    return ProjectStatus(
        root=str(project.root),
        images=len(real),
        classes=classes,
        annotators=dict(sorted(annotators.items())),
        origins=dict(Counter(r.origin for r in every)),
        metadata={k: sorted(v) for k, v in sorted(columns.items())},
        unlabelled=sum(1 for r in real if r.id not in consensus),
        disagreements=disagreements,
        runs=dict(Counter(r.kind for r in runs if r.status not in ("stale", "failed"))),
        stale_runs=dict(Counter(r.kind for r in runs if r.status == "stale")),
        failed_runs=dict(Counter(r.kind for r in runs if r.status == "failed")),
        backbone=project.config.backbone,
        problems=problems,
        removed=len(project.removed_ids()),
    )
