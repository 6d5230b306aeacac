"""Fix the data for weak classes: targeted augmentation, synthetic images, and the lift experiment.

>>> from datacentric.improve import make_recipe
>>> make_recipe("geometry", "pit").target
'pit'
"""

from __future__ import annotations

from datacentric.improve.augment import Augmented, Recipe, augment_images, choose_recipes, make_recipe
from datacentric.improve.generate import SynthResult, synthesize
from datacentric.improve.lift import (
    Baseline,
    Fix,
    LearningCurve,
    LiftResult,
    Scores,
    baseline_scores,
    keep_rule,
    learning_curve,
    measure_lift,
)
from datacentric.improve.synth import (
    CopyPaste,
    DefectRegion,
    Generator,
    Synthetic,
    find_defect_region,
    get_generator,
)
from datacentric.improve.results import ImproveResult
from datacentric.improve.targets import find_targets
from datacentric.improve.workflow import improve_project

__all__ = [
    "Augmented",
    "Baseline",
    "CopyPaste",
    "DefectRegion",
    "Fix",
    "Generator",
    "ImproveResult",
    "LearningCurve",
    "LiftResult",
    "Recipe",
    "Scores",
    "SynthResult",
    "Synthetic",
    "augment_images",
    "baseline_scores",
    "choose_recipes",
    "find_defect_region",
    "find_targets",
    "get_generator",
    "improve_project",
    "keep_rule",
    "learning_curve",
    "make_recipe",
    "measure_lift",
    "synthesize",
]
