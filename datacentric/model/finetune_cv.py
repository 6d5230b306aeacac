"""The finetune train run: cross-validate fine-tuning the whole backbone (one
:class:`~datacentric.model.finetune.FineTuner` per fold: probe first, then every layer),
then train the final network on every labelled image the same way and save it (``model.pt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacentric.model.cv import CrossValResult, run_folds
from datacentric.model.train_data import TrainData
from datacentric.runs import MODEL_FILE

if TYPE_CHECKING:
    from datacentric.project import Project, Run

__all__ = ["cross_validate_finetune", "train_finetune"]


def train_finetune(
    project: Project,
    run: Run,
    data: TrainData,
    backbone: str,
    *,
    epochs: int,
    device: str | None,
    keep_checkpoints: bool,
    **common: Any,
) -> tuple[CrossValResult, Path, int, int]:
    """Cross-validate fine-tuning, then save the whole network (``model.pt``): (cv, model file, bytes, params)."""
    from datacentric.model.classifier import save_classifier

    cv, module, data_cfg = cross_validate_finetune(
        project,
        data,
        backbone,
        epochs=epochs,
        device=device,
        checkpoints=run.dir / "checkpoints" if keep_checkpoints else None,
        **common,
    )
    model_path = run.dir / MODEL_FILE
    model_bytes = save_classifier(
        module, model_path, classes=list(data.real.classes), backbone=backbone, data_config=data_cfg, mode="finetune"
    )
    return cv, model_path, model_bytes, sum(p.numel() for p in module.parameters())


def cross_validate_finetune(
    project: Project,
    data: TrainData,
    backbone: str,
    *,
    folds: int,
    seed: int,
    repeats: int,
    pretrained: bool,
    epochs: int,
    checkpoints: Path | None,
    device: str | None,
    groups: Sequence[str] | None = None,
) -> tuple[CrossValResult, object, dict]:
    """Fine-tune once per fold, then on every labelled row: (cv, final torch module, its data config).

    ``cv.extra`` records the epochs and each fold's last training and validation loss.
    """
    from datacentric.model.finetune import FineTuner

    options = dict(
        n_classes=len(data.real.classes),
        epochs=epochs,
        image_size=project.config.image_size,
        pretrained=pretrained,
        cache_dir=project.cache_dir,
        device=device,
    )
    images = _decode(project, data, backbone, pretrained)
    if checkpoints is not None:
        checkpoints.mkdir(parents=True, exist_ok=True)
    fold = _FoldTuner(backbone, data, images, seed=seed, options=options, checkpoints=checkpoints)
    cv: CrossValResult = run_folds(
        data.real.labels,
        fold,
        n_classes=options["n_classes"],
        folds=folds,
        seed=seed,
        repeats=repeats,
        extra_parent=data.extra.parent,
        description="fine-tuning folds",
        groups=groups,
    )
    final = FineTuner(backbone, seed=seed, **options)
    labels = np.concatenate([data.real.labels, data.extra.labels]) if images.extra_paths else data.real.labels
    final.fit(images.paths + images.extra_paths, labels, images=images.bank)
    cv.extra = {**cv.extra, "epochs": epochs, "fold_losses": fold.losses}
    return cv, final.module_.cpu().eval(), images.config


@dataclass
class _Decoded:
    """Every real and extra image decoded once, for all folds and the final fit."""

    paths: list[Path]
    extra_paths: list[Path]
    config: dict  # the backbone's data config (project image size)
    bank: dict  # path -> (uint8 array, eval tensor), see decode_images


def _decode(project, data: TrainData, backbone: str, pretrained: bool) -> _Decoded:
    """Decode ``data``'s images with the preprocessing of ``backbone``."""
    from datacentric.model.backbone import create_backbone, data_config
    from datacentric.model.finetune import decode_images

    config = data_config(
        create_backbone(backbone, pretrained=pretrained, cache_dir=project.cache_dir), project.config.image_size
    )
    paths = [Path(p) for p in data.real.paths]
    extra_paths = [Path(p) for p in data.extra.paths]
    return _Decoded(paths, extra_paths, config, decode_images(paths + extra_paths, config))


class _FoldTuner:
    """``fit_predict`` for :func:`run_folds`: fine-tune a fresh network on one fold's training
    part and predict its validation part (whose loss is recorded, never used to choose).
    """

    def __init__(
        self, backbone: str, data: TrainData, images: _Decoded, *, seed: int, options: dict, checkpoints: Path | None
    ) -> None:
        self.backbone = backbone
        self.labels = data.real.labels
        self.extra_labels = data.extra.labels
        self.images = images
        self.seed = seed
        self.options = options
        self.checkpoints = checkpoints
        self.losses: list[dict] = []  # the last epoch's training and validation loss, one per fold

    def __call__(self, train_idx, extra_idx, val_idx) -> np.ndarray:
        """Probabilities of the validation rows from a network trained on the training rows."""
        from datacentric.model.finetune import FineTuner

        fold = len(self.losses)
        tuner = FineTuner(
            self.backbone,
            seed=self.seed * 1000 + fold,
            **self.options,
            checkpoint=self.checkpoints / f"fold{fold}.pt" if self.checkpoints is not None else None,
        )
        paths, extra_paths, y = self.images.paths, self.images.extra_paths, self.labels
        train_paths = [paths[i] for i in train_idx] + [extra_paths[i] for i in extra_idx]
        train_y = np.concatenate([y[train_idx], self.extra_labels[extra_idx]]) if len(extra_idx) else y[train_idx]
        val_paths = [paths[i] for i in val_idx]
        tuner.fit(train_paths, train_y, val_paths=val_paths, val_y=y[val_idx], images=self.images.bank)
        last = tuner.history_[-1]
        self.losses.append({k: round(v, 4) for k, v in last.items() if k != "epoch"})
        return tuner.predict_proba(val_paths, images=self.images.bank)
