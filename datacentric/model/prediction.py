"""``predict``: label new photos with a project's trained classifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.data.images import IMAGE_SUFFIXES, expand_paths

if TYPE_CHECKING:
    from datacentric.project import Project, Run

__all__ = ["Prediction", "predict"]


@dataclass
class Prediction:
    """One image's prediction; ``error`` is set (and label None) when the file could not be read."""

    path: Path
    label: str | None
    probability: float  # probability of ``label`` (0.0 when unreadable)
    probs: dict[str, float] = field(default_factory=dict)  # class -> probability
    run: str | None = None  # the train run whose model predicted
    error: str | None = None


def predict(
    project: Project, paths: Sequence[Path | str] | Path | str, *, run: Run | str | None = None, batch_size: int = 32
) -> list[Prediction]:
    """Predict a label for each image with a train run's model (default: the latest).

    ``paths`` may name files and folders (searched recursively for
    {suffixes}). Unreadable files give a Prediction with ``error`` set instead of
    stopping the batch.
    """
    from datacentric.model.classifier import load_classifier

    train_run = project.train_run(run)
    classifier = load_classifier(train_run, cache_dir=project.cache_dir)
    files = expand_paths(paths)
    if not files:
        raise DatacentricError(
            "no image files to predict",
            ", ".join(str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)),
        )
    probs, errors = classifier.predict_files(files, batch_size=batch_size)
    out = []
    for i, path in enumerate(files):
        if i in errors:
            out.append(Prediction(path=path, label=None, probability=0.0, run=train_run.id, error=errors[i].what))
            continue
        best = int(np.argmax(probs[i]))
        out.append(
            Prediction(
                path=path,
                label=classifier.classes[best],
                probability=float(probs[i, best]),
                probs={c: float(p) for c, p in zip(classifier.classes, probs[i])},
                run=train_run.id,
            )
        )
    return out


predict.__doc__ = predict.__doc__.replace("{suffixes}", ", ".join(IMAGE_SUFFIXES))
