"""What ``improve`` made and measured: plain results that the workflow fills and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datacentric.improve.augment import Recipe
from datacentric.improve.lift import LearningCurve, LiftResult

__all__ = ["Candidate", "ImproveResult"]


@dataclass
class Candidate:
    """Images made by one fix, before they are measured or kept."""

    name: str
    kind: str  # augment | synthetic
    target: str
    paths: list[Path]
    parents: list[str]  # parent image id per image
    params: list[dict]
    generator: dict  # name + options of the generator or recipe
    recipe: Recipe | None = None


@dataclass
class ImproveResult:
    """What ``improve`` tried, measured, kept and advises."""

    run_id: str
    run_dir: Path
    targets: list[str]
    fixes: list[LiftResult]
    advice: str
    kept: dict[str, str]  # target -> name of the kept fix
    materialised: int  # images added to the project
    recipes: list[Path]  # saved albumentations recipes of kept augmentations
    curves: dict[str, LearningCurve] = field(default_factory=dict)
    report: Path | None = None
    notes: list[str] = field(default_factory=list)  # generators that made nothing, and why

    def verdict(self, fix: LiftResult) -> str:
        """``kept`` (the best fix that passed for its target), ``passed, X gains more`` or ``not kept``."""
        if fix.name in self.kept.values():
            return "kept"
        if fix.kept:
            better = sorted({self.kept[t] for t in fix.targets if t in self.kept})
            return f"passed, {' and '.join(better)} gains more" if better else "passed"
        return "not kept"

    def to_json(self) -> dict:
        """The ``improve --json`` output."""
        return {
            "targets": self.targets,
            "fixes": [f.to_json() for f in self.fixes],
            "advice": self.advice,
            "kept": self.kept,
            "materialised": self.materialised,
            "recipes": [str(p) for p in self.recipes],
            "notes": self.notes,
            "run": self.run_id,
            "report": str(self.report) if self.report else None,
            "learning_curves": {
                t: {"counts": c.counts, "recall": c.recall, "per_doubling": round(c.b, 4)}
                for t, c in self.curves.items()
            },
        }
