"""A trained end-to-end classifier: a timm model with a K-class head, saved as ``model.pt``.

``model.pt`` is a plain dictionary readable with ``torch.load(..., weights_only=True)``::

    format       "datacentric-classifier/1"
    backbone     the backbone spec used for training (e.g. "tf_efficientnet_lite0")
    arch         timm model name to rebuild with (``timm.create_model(arch, num_classes=K)``)
    classes      K class names, in output order
    data_config  timm data config: input_size, mean, std, interpolation, crop_pct, crop_mode
    mode         "probe" or "finetune"
    state_dict   the model's tensors

Loading needs no pretrained weights (the file has them all), so it works offline
for any backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datacentric.errors import DatacentricError

__all__ = ["FORMAT", "Classifier", "classifier_from_payload", "load_classifier", "save_classifier"]

FORMAT = "datacentric-classifier/1"


class Classifier:
    """A loaded classifier: ``module`` maps normalised NCHW float tensors to K logits.

    Attributes
    ----------
    module : torch.nn.Module
        timm model in eval mode.
    classes : list[str]
        Class names in output order.
    backbone : str
        Backbone spec it was trained from.
    data_config : dict
        timm data config (input_size, mean, std, interpolation, crop_pct, crop_mode).
    mode : str
        "probe" or "finetune".
    """

    def __init__(self, module, classes: Sequence[str], backbone: str, data_config: dict, mode: str = "probe"):
        self.module = module.eval()
        self.classes = list(classes)
        self.backbone = backbone
        self.data_config = dict(data_config)
        self.mode = mode
        self._transform = None

    @property
    def transform(self):
        """PIL image -> normalised CHW float tensor (timm's eval transform for ``data_config``)."""
        if self._transform is None:
            import timm.data

            self._transform = timm.data.create_transform(**self.data_config, is_training=False)
        return self._transform

    def predict_proba(self, paths: Sequence[Path | str], *, batch_size: int = 32) -> np.ndarray:
        """Class probabilities (N, K) for image files; an unreadable file raises DatacentricError."""
        probs, errors = self.predict_files(paths, batch_size=batch_size)
        if errors:
            raise next(iter(errors.values()))
        return probs

    def predict_files(
        self, paths: Sequence[Path | str], *, batch_size: int = 32
    ) -> tuple[np.ndarray, dict[int, DatacentricError]]:
        """Probabilities (N, K) plus ``{index: error}`` for files that could not be read (rows NaN)."""
        import torch

        from datacentric.model.embeddings import iter_batches
        from datacentric.progress import track

        paths = [Path(p) for p in paths]
        probs = np.full((len(paths), len(self.classes)), np.nan, dtype=np.float32)
        errors: dict[int, DatacentricError] = {}
        batches = iter_batches(paths, self.transform, batch_size, on_error=errors.__setitem__)
        total = (len(paths) + batch_size - 1) // batch_size
        for indices, batch in track(batches, "predicting", total=total):
            with torch.inference_mode():
                probs[indices] = self.module(batch).float().softmax(-1).numpy()
        return probs, errors


def save_classifier(
    module, path: Path | str, *, classes: Sequence[str], backbone: str, data_config: dict, mode: str
) -> int:
    """Write ``model.pt`` (format in the module docstring); return its size in bytes."""
    import torch

    from datacentric.model.weights import parse_backbone

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    payload = {
        "format": FORMAT,
        "backbone": backbone,
        "arch": parse_backbone(backbone).name,
        "classes": list(classes),
        "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in data_config.items()},
        "mode": mode,
        "state_dict": state,
    }
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path.stat().st_size


def load_classifier(run_or_path) -> Classifier:
    """Load a classifier from a train run (``Run``), a run folder, or a ``model.pt`` path."""
    import torch

    path = Path(getattr(run_or_path, "dir", run_or_path))
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise DatacentricError("no model.pt here (train a model first: datacentric train PROJECT)", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise DatacentricError(f"cannot read model: {exc.__class__.__name__}: {exc}", path) from None
    return classifier_from_payload(payload, path)


def classifier_from_payload(payload, where) -> Classifier:
    """Rebuild a :class:`Classifier` from the dictionary stored in ``model.pt``."""
    import timm

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DatacentricError(f"not a datacentric model file (expected format {FORMAT})", where)
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in payload["data_config"].items()}
    module = timm.create_model(payload["arch"], pretrained=False, num_classes=len(payload["classes"]))
    module.load_state_dict(payload["state_dict"])
    return Classifier(module, payload["classes"], payload["backbone"], config, payload.get("mode", "probe"))
