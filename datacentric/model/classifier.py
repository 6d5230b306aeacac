"""A trained end-to-end classifier: a timm model with a K-class head.

A train run keeps it in one of two files (:func:`datacentric.runs.model_file` says which).

``model.pt`` (finetune runs; probe runs made before ``probe.npz`` existed) is a plain
dictionary readable with ``torch.load(..., weights_only=True)``::

    format       "datacentric-classifier/1"
    backbone     the backbone spec used for training (e.g. "tf_efficientnet_lite0")
    arch         timm model (or backbone plugin) name to rebuild with (``timm.create_model(arch, num_classes=K)``)
    classes      K class names, in output order
    data_config  timm data config: input_size, mean, std, interpolation, crop_pct, crop_mode
    mode         "probe" or "finetune"
    state_dict   the model's tensors

Loading it needs no pretrained weights (the file has them all), so it works offline
for any backbone.

``probe.npz`` (probe runs) holds only what the probe learned, written without torch
(:class:`datacentric.runs.ProbeHead`, format in :mod:`datacentric.runs`). The torch model is
built from it on first use: the frozen backbone from the same weights (refused when they are not
the ones trained on) with the head copied in -- the same model ``model.pt`` would hold.
:func:`model_bytes` gives that model as ``model.pt`` bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.paths import write_atomic
from datacentric.serialize import to_jsonable
from datacentric.runs import MODEL_FILE, ProbeHead, model_file, read_probe

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from datacentric.project import Run

__all__ = ["FORMAT", "Classifier", "classifier_from_payload", "load_classifier", "model_bytes", "save_classifier"]

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

    ``module`` may be given as ``build``, a function that makes it: it is then built on first
    use (a probe run's classifier answers ``classes`` without importing torch).
    """

    def __init__(
        self,
        module: torch.nn.Module | None,
        classes: Sequence[str],
        backbone: str,
        data_config: dict,
        mode: str = "probe",
        *,
        build: Callable[[], object] | None = None,
        head: ProbeHead | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        if module is None and build is None:
            raise ValueError("give module or build")
        self._module = module.eval() if module is not None else None
        self._build = build
        self.classes = list(classes)
        self.backbone = backbone
        self.data_config = dict(data_config)
        self.mode = mode
        self._transform = None
        self._head = head if head is not None and head.weights and cache_dir is not None else None
        self._cache_dir = cache_dir

    @property
    def module(self) -> torch.nn.Module:
        """The torch model (timm, eval mode), built on first use when it was given as ``build``."""
        if self._module is None:
            self._module = self._build().eval()
        return self._module

    @property
    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
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
        """Probabilities (N, K) plus ``{index: error}`` for files that could not be read (rows NaN).

        A probe loaded with a project's ``cache_dir`` answers from the cached embeddings it was
        trained on (:mod:`datacentric.model.probe_predict`, no torch); other models run in torch.
        """
        if self._head is not None:
            from datacentric.model.probe_predict import probe_probabilities

            return probe_probabilities(self._head, [Path(p) for p in paths], self._cache_dir, batch_size=batch_size)
        from datacentric.model.embeddings import iter_batches
        from datacentric.model.torch_inference import infer
        from datacentric.progress import track

        paths = [Path(p) for p in paths]
        probs = np.full((len(paths), len(self.classes)), np.nan, dtype=np.float32)
        errors: dict[int, DatacentricError] = {}
        batches = iter_batches(paths, self.transform, batch_size, on_error=errors.__setitem__)
        total = (len(paths) + batch_size - 1) // batch_size
        for indices, batch in track(batches, "predicting", total=total):
            probs[indices] = infer(self.module, batch).softmax(-1).numpy()
        return probs, errors


def save_classifier(
    module: torch.nn.Module, path: Path | str, *, classes: Sequence[str], backbone: str, data_config: dict, mode: str
) -> int:
    """Write ``model.pt`` (format in the module docstring); return its size in bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save(_payload(module, classes=classes, backbone=backbone, data_config=data_config, mode=mode), buffer)
    return write_atomic(path, buffer.getvalue()).stat().st_size


def _payload(module, *, classes: Sequence[str], backbone: str, data_config: dict, mode: str) -> dict:
    from datacentric.model.weights import parse_backbone

    return {
        "format": FORMAT,
        "backbone": backbone,
        "arch": parse_backbone(backbone).name,
        "classes": list(classes),
        "data_config": to_jsonable(data_config),
        "mode": mode,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()},
    }


def load_classifier(run_or_path: Run | Path | str, *, cache_dir: Path | str | None = None) -> Classifier:
    """Load a classifier from a train run (``Run``), a run folder, or a ``model.pt``/``probe.npz`` path.

    ``cache_dir`` (a project's) is where a probe's backbone finds converted weights when its
    model is built (default ``~/.cache/datacentric``).
    """
    path = _model_path(run_or_path)
    if not path.is_file():
        raise DatacentricError("no model here (train a model first: datacentric train PROJECT)", path)
    if path.suffix == ".npz":
        return _load_probe(path, cache_dir)
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise DatacentricError(f"cannot read model: {exc.__class__.__name__}: {exc}", path) from None
    return classifier_from_payload(payload, path)


def model_bytes(run_or_path: Run | Path | str, *, cache_dir: Path | str | None = None) -> bytes:
    """A train run's model as ``model.pt`` bytes (self-contained: for workers that lack the weights)."""
    path = _model_path(run_or_path)
    if path.suffix != ".npz":
        return path.read_bytes()
    import torch

    clf = _load_probe(path, cache_dir)
    buffer = io.BytesIO()
    torch.save(
        _payload(clf.module, classes=clf.classes, backbone=clf.backbone, data_config=clf.data_config, mode=clf.mode),
        buffer,
    )
    return buffer.getvalue()


def _model_path(run_or_path) -> Path:
    """The model file of a train run (``Run``) or run folder (``probe.npz`` or ``model.pt``), or the path given."""
    path = Path(getattr(run_or_path, "dir", run_or_path))
    return (model_file(path) or path / MODEL_FILE) if path.is_dir() else path


def _load_probe(path: Path, cache_dir) -> Classifier:
    head = read_probe(path)

    def build():
        return _probe_module(head, cache_dir, path)

    return Classifier(
        None,
        head.classes,
        head.backbone,
        _config(head.data_config),
        "probe",
        build=build,
        head=head,
        cache_dir=cache_dir,
    )


def _probe_module(head: ProbeHead, cache_dir, where):
    """The backbone the probe's features came from, with the probe's head copied in."""
    import torch

    from datacentric.model.backbone import create_backbone, weights_id

    module = create_backbone(
        head.backbone, num_classes=len(head.classes), pretrained=head.pretrained, cache_dir=cache_dir
    )
    if head.weights and weights_id(module) != head.weights:
        raise DatacentricError(
            f"the backbone's weights are not the ones this probe was trained on ({weights_id(module)}, "
            f"trained on {head.weights}): train again",
            where,
        )
    layer = module.get_classifier()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(head.weight))
        layer.bias.copy_(torch.from_numpy(head.bias))
    return module.eval()


def _config(data_config: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data_config.items()}


def classifier_from_payload(payload: object, where: Path | str) -> Classifier:
    """Rebuild a :class:`Classifier` from the dictionary stored in ``model.pt``."""
    from datacentric.model.backbone import rebuild

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DatacentricError(f"not a datacentric model file (expected format {FORMAT})", where)
    module = rebuild(payload["arch"], len(payload["classes"]))
    module.load_state_dict(payload["state_dict"])
    return Classifier(
        module, payload["classes"], payload["backbone"], _config(payload["data_config"]), payload.get("mode", "probe")
    )
