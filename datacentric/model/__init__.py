"""Backbones, cached embeddings, cross-validated probabilities, training and prediction.

Weights come from the hub only when ``DATACENTRIC_ONLINE=1`` is set (see
:mod:`datacentric.model.weights`); importing this package changes no environment variable.
torch and timm are imported only when a function needs them.
"""

from __future__ import annotations

from datacentric.model.backbone import create_backbone, data_config, weights_id
from datacentric.model.classifier import Classifier, load_classifier, save_classifier
from datacentric.model.cv import (
    CrossValResult,
    FoldPlan,
    ProbeClassifier,
    cross_val_probs,
    cross_validate,
    plan_folds,
    run_folds,
)
from datacentric.model.embeddings import embed, embed_project, iter_batches
from datacentric.model.finetune import FineTuner
from datacentric.model.prediction import Prediction, predict
from datacentric.model.training import TrainResult, per_class_metrics, train
from datacentric.model.weights import BackboneSpec, parse_backbone

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
