"""Backbones, cached embeddings, cross-validated probabilities, training and prediction.

Importing this package switches the Hugging Face hub client to offline mode
unless ``DATACENTRIC_ONLINE=1`` is set (see :mod:`datacentric.model.weights`).
torch and timm are imported only when a function needs them.
"""

from __future__ import annotations

import os

if os.environ.get("DATACENTRIC_ONLINE", "").strip().lower() not in ("1", "true", "yes"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations checks PyPI on import otherwise

from datacentric.model.backbone import create_backbone, data_config, weights_id  # noqa: E402
from datacentric.model.classifier import Classifier, load_classifier, save_classifier  # noqa: E402
from datacentric.model.cv import (  # noqa: E402
    CrossValResult,
    FoldPlan,
    ProbeClassifier,
    cross_val_probs,
    cross_validate,
    plan_folds,
    run_folds,
)
from datacentric.model.embeddings import embed, embed_project, iter_batches  # noqa: E402
from datacentric.model.finetune import FineTuner  # noqa: E402
from datacentric.model.prediction import Prediction, predict  # noqa: E402
from datacentric.model.training import TrainResult, per_class_metrics, train  # noqa: E402
from datacentric.model.weights import BackboneSpec, parse_backbone  # noqa: E402

__all__ = [
    "BackboneSpec",
    "Classifier",
    "CrossValResult",
    "FineTuner",
    "FoldPlan",
    "Prediction",
    "ProbeClassifier",
    "TrainResult",
    "create_backbone",
    "cross_val_probs",
    "cross_validate",
    "data_config",
    "embed",
    "embed_project",
    "iter_batches",
    "load_classifier",
    "parse_backbone",
    "per_class_metrics",
    "plan_folds",
    "predict",
    "run_folds",
    "save_classifier",
    "train",
    "weights_id",
]
