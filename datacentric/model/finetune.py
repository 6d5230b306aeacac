"""Fine-tuning a timm backbone end to end on a few dozen images per class.

Training images pass through an albumentations pipeline (random resized crop,
flip, small rotation, colour jitter; normalisation from the backbone's timm data
config). Batches are drawn class-balanced. With a validation set, training stops
when the validation loss has not improved for ``patience`` epochs and the best
epoch's weights are kept (and written to ``checkpoint`` when given). BatchNorm
statistics stay frozen at their pretrained values, which is steadier with
batches of a few images.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datacentric.config import DEFAULT_BACKBONE
from datacentric.errors import DatacentricError
from datacentric.estimator import Params
from datacentric.data.images import load_image

__all__ = ["FineTuner", "default_augment"]


def default_augment(config: dict, seed: int = 0):
    """The training transform: an ``A.Compose`` (serialisable) producing normalised CHW tensors."""
    from datacentric.quiet import import_albumentations

    A = import_albumentations()
    from albumentations.pytorch import ToTensorV2

    size = int(config["input_size"][-1])
    return A.Compose(
        [
            A.RandomResizedCrop(size=(size, size), scale=(0.6, 1.0)),
            A.HorizontalFlip(),
            A.Affine(rotate=(-15, 15), p=0.5),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=0.5),
            A.Normalize(mean=tuple(config["mean"]), std=tuple(config["std"]), max_pixel_value=255.0),
            ToTensorV2(),
        ],
        seed=seed,
    )


class _Images:
    """Decoded images kept in memory (RGB uint8, short side limited) and eval tensors."""

    def __init__(self, paths: Sequence[Path], config: dict):
        import timm.data

        side = int(round(config["input_size"][-1] / float(config.get("crop_pct") or 1.0))) + 8
        self.arrays = []
        self.eval_tensors = []
        transform = timm.data.create_transform(**config, is_training=False)
        for path in paths:
            image = load_image(path)
            scale = side / min(image.size)
            if scale < 1:
                image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
            self.arrays.append(np.asarray(image))
            self.eval_tensors.append(transform(image))


class FineTuner(Params):
    """Fine-tune a timm backbone with a K-class head (scikit-learn style).

    Parameters
    ----------
    backbone
        Backbone spec (see :func:`datacentric.model.create_backbone`).
    n_classes
        Number of classes K.
    epochs
        Most epochs; with validation data, early stopping usually ends sooner.
    patience
        Epochs without a better validation loss before stopping.
    batch_size, lr, weight_decay
        Optimisation (AdamW; the new head learns at ``lr``, the trunk at ``lr / 3``).
    image_size
        Input size override (0 = the backbone's).
    pretrained, cache_dir
        Weight resolution, as for :func:`create_backbone`.
    seed
        Seeds initial head, sampling order and augmentation: same seed, same model.
    checkpoint
        Write the best weights here (a ``.pt`` file) when given.
    device
        "cpu", "cuda", ...; None = CUDA when available, else CPU.
    """

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        *,
        n_classes: int = 2,
        epochs: int = 15,
        patience: int = 3,
        batch_size: int = 16,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        image_size: int = 0,
        pretrained: bool = True,
        cache_dir: Path | str | None = None,
        seed: int = 0,
        checkpoint: Path | str | None = None,
        device: str | None = None,
    ) -> None:
        self.backbone = backbone
        self.n_classes = n_classes
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.image_size = image_size
        self.pretrained = pretrained
        self.cache_dir = cache_dir
        self.seed = seed
        self.checkpoint = checkpoint
        self.device = device

    def _new_module(self):
        import torch

        from datacentric.model.backbone import create_backbone

        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            module = create_backbone(
                self.backbone, num_classes=self.n_classes, pretrained=self.pretrained, cache_dir=self.cache_dir
            )
            head = module.get_classifier()
            torch.nn.init.normal_(head.weight, std=0.01)
            torch.nn.init.zeros_(head.bias)
        return module

    def fit(
        self,
        paths: Sequence[Path | str],
        y: np.ndarray,
        *,
        val_paths: Sequence[Path | str] | None = None,
        val_y: np.ndarray | None = None,
        images: dict | None = None,
    ) -> "FineTuner":
        """Train on image files and integer labels; early-stop on ``val_*`` when given.

        ``images`` may map path -> (uint8 array, eval tensor) already decoded (saves
        decoding the same files in every fold).
        """
        import torch

        from datacentric.model.backbone import data_config

        y = np.asarray(y, dtype=np.int64)
        if len(paths) != len(y) or len(y) == 0:
            raise DatacentricError(f"need as many labels as images, got {len(y)} for {len(paths)}", "finetune")
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        module = self._new_module().to(device)
        self.data_config_ = data_config(module, self.image_size)
        images = images if images is not None else decode_images([*paths, *(val_paths or [])], self.data_config_)
        val = None
        if val_paths is not None and len(val_paths) > 0:
            val_x = torch.stack([images[Path(p)][1] for p in val_paths])
            val = (val_x, torch.as_tensor(np.asarray(val_y, dtype=np.int64), device=device))
        best_epoch = self._train(module, [images[Path(p)][0] for p in paths], y, val, device)
        module.eval()
        self.module_ = module
        self.best_epoch_ = best_epoch
        if self.checkpoint is not None:
            torch.save({k: v.detach().clone() for k, v in module.state_dict().items()}, Path(self.checkpoint))
        return self

    def _train(self, module, arrays: list[np.ndarray], y: np.ndarray, val: tuple | None, device) -> int:
        """Run the epochs, early-stopped on ``val`` (tensors x, y) when given; leave the best
        epoch's weights in ``module``; fill ``history_``; return the best epoch.
        """
        import torch

        augment = default_augment(self.data_config_, seed=self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        counts = np.bincount(y, minlength=self.n_classes).astype(np.float64)
        sample_weight = torch.as_tensor(1.0 / counts[y])
        optimizer = self._optimizer(module)
        loss_fn = torch.nn.CrossEntropyLoss()
        best_loss, best_state, best_epoch, waited = float("inf"), None, 0, 0
        self.history_ = []
        for epoch in range(1, self.epochs + 1):
            _train_mode(module)
            order = torch.multinomial(sample_weight, len(y), replacement=True, generator=generator).numpy()
            train_loss = self._epoch(module, optimizer, loss_fn, augment, arrays, y, order, device)
            record = {"epoch": epoch, "train_loss": train_loss}
            if val is not None:
                module.eval()
                with torch.inference_mode():
                    val_loss = float(loss_fn(_logits(module, val[0]), val[1]))
                record["val_loss"] = val_loss
                if val_loss < best_loss - 1e-4:
                    best_loss, best_epoch, waited = val_loss, epoch, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    waited += 1
            self.history_.append(record)
            if val is not None and waited >= self.patience:
                break
        if best_state is None:
            return len(self.history_)
        module.load_state_dict(best_state)
        return best_epoch

    def _optimizer(self, module):
        """AdamW: the head at ``lr``, the trunk at ``lr / 3``."""
        import torch

        head = module.get_classifier()
        head_ids = {id(p) for p in head.parameters()}
        trunk = [p for p in module.parameters() if id(p) not in head_ids]
        return torch.optim.AdamW(
            [{"params": list(head.parameters()), "lr": self.lr}, {"params": trunk, "lr": self.lr / 3}],
            weight_decay=self.weight_decay,
        )

    def _epoch(self, module, optimizer, loss_fn, augment, arrays, y: np.ndarray, order: np.ndarray, device) -> float:
        """One pass over the sampled ``order`` in batches of augmented images; the mean training loss."""
        import torch

        total = 0.0
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            batch = torch.stack([augment(image=arrays[i])["image"] for i in chosen])
            target = torch.as_tensor(y[chosen], device=device)
            optimizer.zero_grad()
            batch = batch.to(device).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(module(batch), target)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(chosen)
        return total / len(order)

    def predict_proba(self, paths: Sequence[Path | str], *, images: dict | None = None) -> np.ndarray:
        """Class probabilities (N, K) for image files."""
        import torch

        images = images if images is not None else decode_images(paths, self.data_config_)
        x = torch.stack([images[Path(p)][1] for p in paths])
        self.module_.eval()
        with torch.inference_mode():
            return _logits(self.module_, x).softmax(-1).float().cpu().numpy()


def _train_mode(module) -> None:
    """Training mode, but BatchNorm layers keep their pretrained statistics."""
    import torch

    module.train()
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.eval()


def _logits(module, x, batch_size: int = 64):
    import torch

    device = next(module.parameters()).device
    return torch.cat(
        [
            module(x[i : i + batch_size].to(device).contiguous(memory_format=torch.channels_last))
            for i in range(0, len(x), batch_size)
        ]
    )


def decode_images(paths: Sequence[Path | str], config: dict) -> dict:
    """Decode files once: ``{path: (uint8 HWC array for augmentation, eval CHW tensor)}``."""
    unique = list(dict.fromkeys(Path(p) for p in paths))
    bank = _Images(unique, config)
    return {p: (a, t) for p, a, t in zip(unique, bank.arrays, bank.eval_tensors)}
