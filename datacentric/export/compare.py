"""The whole export: torch reference, ONNX fp32 (and int8), every format measured, refused below threshold."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacentric import edge
from datacentric.errors import DatacentricError
from datacentric.export.int8 import INT8_RECIPE, calibration_choice, quantize_int8
from datacentric.export.measuring import (
    _accuracy,
    _agreement,
    _batch_of,
    _disagreements,
    _torch_bytes,
    measure_latency,
)
from datacentric.export.results import DEFAULT_THRESHOLD, NEAR_TIE, ExportResult, FormatResult
from datacentric.export.to_onnx import config_from_metadata, export_onnx, onnx_metadata
from datacentric.progress import track

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["RefusedExport", "export_model"]


def export_model(
    module: "torch.nn.Module",
    classes: Sequence[str],
    data_config: dict,
    out_dir: Path | str,
    *,
    paths: Sequence[Path | str],
    labels: Sequence[int] | np.ndarray | None = None,
    accuracy_mask: Sequence[bool] | np.ndarray | None = None,
    transform: Callable | None = None,
    int8: bool = False,
    force: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    backbone: str = "",
    calibration_size: int = 32,
    threads: int = 2,
    repeats: int = 20,
    torch_b16: bool = True,
    seed: int = 0,
    torch_bytes: int | None = None,
) -> ExportResult:
    """Export ``module`` to ONNX in ``out_dir`` (``model.onnx``, and ``model.int8.onnx`` with int8) and compare.

    Parameters
    ----------
    module : torch.nn.Module
        The classifier: NCHW float normalised input, K logits out.
    classes : list of str
        The K class names, in the order of the logits.
    data_config : dict
        timm data config (input_size, mean, std, interpolation, crop_pct[, crop_mode]).
    out_dir : Path
        Folder for the ONNX files.
    paths : list of Path
        Real images to compare the formats on (and to calibrate int8 with).
    labels : array (N,) of int, optional
        Class index per image, -1 for unlabelled; enables the accuracy column.
    accuracy_mask : array (N,) of bool, optional
        Which labelled images count for accuracy (default: all labelled).
    transform : callable, optional
        PIL image -> tensor for the torch model (default: timm's eval transform of ``data_config``).
    int8 : bool
        Also write a static int8 model, and deliver it.
    force : bool
        Write the delivered model even if its top-1 agreement is below ``threshold``.
    threshold : float
        Least top-1 agreement with torch the delivered model must reach (default 0.99).
    calibration_size : int
        Real images used to calibrate int8 (chosen at random with ``seed``, spread over classes).
    threads : int
        Threads for torch and onnxruntime alike, for a fair latency comparison.
    repeats : int
        Timed runs per latency at batch 1 (a quarter, at least 3, at batch 16); 0: no latencies (None).
    torch_b16 : bool
        Time torch at batch 16 (False: None there; it is the export's slowest, most memory-hungry timing).
    torch_bytes : int, optional
        Size of the torch model file (default: its state dict, serialised).

    Raises
    ------
    RefusedExport
        When the delivered format agrees below ``threshold`` and not ``force``; nothing is delivered.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _Images.of(paths, labels, accuracy_mask, out_dir)
    transform = transform or _eval_transform(data_config)
    onnx_file = _OnnxFile(list(classes), data_config, backbone, out_dir)
    with _torch_threads(threads):
        reference, pixels, keep, skipped = _torch_reference(module, images.paths, transform, onnx_file.config, out_dir)
        images = images.kept(keep)
        timer = _Timer(edge.normalise(pixels[:16], onnx_file.config), repeats, torch_b16=torch_b16)
        rows = [_torch_row(module, reference, images, timer, torch_bytes=torch_bytes, threads=threads)]
        files, quantization = onnx_file.write(module, images, int8=int8, calibration_size=calibration_size, seed=seed)
        for name, file in files:
            row, disagreements = _measure_onnx(name, file, pixels, reference, images, onnx_file.classes, timer, threads)
            rows.append(row)
    result = _table(rows, images, skipped, disagreements, quantization, threads=threads, threshold=threshold)
    result.other_load = _other_load(threads) if repeats > 0 else None
    return _deliver(result, rows[-1], out_dir, int8=int8, force=force)


def _other_load(threads: int) -> float | None:
    """CPU cores' worth of other work while the formats were timed: the 1-minute load average
    less this export's own ``threads`` (None where the system does not say).
    """
    try:
        return max(0.0, os.getloadavg()[0] - threads)
    except (AttributeError, OSError):  # no load average on this system
        return None


@dataclass
class _Images:
    """The real images an export is checked on: N paths, their labels and which count for accuracy."""

    paths: list[Path]
    labels: np.ndarray  # (N,) class index, -1 for unlabelled
    mask: np.ndarray  # (N,) bool: labelled and counted for accuracy

    @classmethod
    def of(
        cls,
        paths: Sequence[Path | str],
        labels: Sequence[int] | np.ndarray | None,
        accuracy_mask: Sequence[bool] | np.ndarray | None,
        out_dir: Path,
    ) -> _Images:
        """The images, with -1 labels when none are given; raises when there are none."""
        paths = [Path(p) for p in paths]
        if not paths:
            raise DatacentricError("no real images to check the exported model on", out_dir)
        labels_arr = np.full(len(paths), -1, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
        mask = labels_arr >= 0
        if accuracy_mask is not None:
            mask &= np.asarray(accuracy_mask, dtype=bool)
        return cls(paths, labels_arr, mask)

    def kept(self, keep: list[int]) -> _Images:
        """Only the images at the indices ``keep`` (those that could be read)."""
        return _Images([self.paths[i] for i in keep], self.labels[keep], self.mask[keep])


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Restore torch's thread count afterwards (the steps inside set it: 1 untimed, ``threads`` timed)."""
    import torch

    old_threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)


@dataclass
class _OnnxFile:
    """Writes the ONNX files of one export: fp32, and int8 calibrated on the real images when asked."""

    classes: list[str]
    data_config: dict
    backbone: str
    out_dir: Path

    @property
    def config(self) -> edge.PreprocessConfig:
        """The edge preprocessing the files' metadata will describe."""
        return config_from_metadata(onnx_metadata(self.classes, self.data_config, self.backbone))

    def write(
        self, module: "torch.nn.Module", images: _Images, *, int8: bool, calibration_size: int, seed: int
    ) -> tuple[list[tuple[str, Path]], str | None]:
        """The (format name, file) pairs written, and how int8 was made (None without int8)."""
        fp32_path = export_onnx(
            module,
            self.out_dir / "model.onnx",
            classes=self.classes,
            data_config=self.data_config,
            backbone=self.backbone,
        )
        if not int8:
            return [("onnx-fp32", fp32_path)], None
        calib = calibration_choice(images.paths, images.labels, calibration_size, seed)
        files = [("onnx-fp32", fp32_path), ("onnx-int8", _quantize(fp32_path, self.out_dir, calib))]
        return files, f"{INT8_RECIPE}; min/max calibration on {len(calib)} real images"


def _eval_transform(data_config: dict) -> Callable:
    """timm's evaluation transform of ``data_config`` (PIL image -> normalised tensor)."""
    import timm.data

    return timm.data.create_transform(**data_config, is_training=False)


def _torch_reference(
    module: "torch.nn.Module", paths: list[Path], transform: Callable, config: edge.PreprocessConfig, out_dir: Path
) -> tuple[np.ndarray, np.ndarray, list[int], list]:
    """Torch's probabilities (timm's transform) and the edge pixels (our numpy crop) per readable image.

    Returns (reference (N, K), pixels uint8 (N, H, W, 3) -- :func:`edge.normalise` makes them the
    edge inputs, batch by batch --, indices of the images kept, (path, reason) skipped).
    """
    import torch

    from datacentric.data.images import load_image

    # The reference pass is not timed: one thread, as its batch-1 forwards between image
    # decodes ran 10x slower on two threads of a busy 2-core machine (threads wait on each other).
    torch.set_num_threads(1)
    module.eval()  # in place: the latencies and the ONNX export that follow see eval mode too
    torch_probs, keep, skipped = [], [], []
    # uint8 (N, H, W, 3), filled in place (a list then np.stack held it twice): the float32 inputs
    # of all images held 150 MB through quantization and every format's check, these 38 MB
    edge_pixels = None
    for i, path in enumerate(track(paths, "torch reference", total=len(paths))):
        try:
            image = load_image(path)
        except DatacentricError as exc:
            skipped.append((str(path), exc.what))
            continue
        with torch.inference_mode():
            logits = module(transform(image).unsqueeze(0))
        torch_probs.append(torch.softmax(logits.float(), dim=1).numpy()[0])
        x = edge.crop(image, config)
        if edge_pixels is None:
            edge_pixels = np.empty((len(paths), *x.shape), dtype=x.dtype)
        edge_pixels[len(keep)] = x
        keep.append(i)
    if not keep:
        raise DatacentricError("none of the real images could be read", out_dir)
    return np.stack(torch_probs), edge_pixels[: len(keep)], keep, skipped


class _Timer:
    """Latency per image at batch 1 and 16 on the same inputs for every format (None when ``repeats`` is 0).

    Without ``torch_b16``, torch's batch of 16 is not timed (None): it is the export's slowest
    timing and its largest torch memory peak (~0.3 GB for EfficientNet-Lite0 at 224 px).
    """

    def __init__(self, inputs: np.ndarray, repeats: int, *, torch_b16: bool = True) -> None:
        self.b1, self.b16 = _batch_of(inputs, 1), _batch_of(inputs, 16)
        self.repeats = repeats
        self.torch_b16 = torch_b16

    def latencies(self, make: Callable[[Any], Callable[[], Any]], b1: Any, b16: Any) -> dict[str, float | None]:
        """``latency_ms_b1`` and ``latency_ms_b16`` of ``make(batch)()``."""
        return {"latency_ms_b1": self._latency(make, b1, 1), "latency_ms_b16": self._latency(make, b16, 16)}

    def torch_latencies(self, module: "torch.nn.Module") -> dict[str, float | None]:
        """The latencies of the torch module."""
        import torch

        def torch_run(x: "torch.Tensor") -> Callable[[], Any]:
            def run() -> Any:
                with torch.inference_mode():
                    return module(x)

            return run

        if self.torch_b16:
            return self.latencies(torch_run, torch.from_numpy(self.b1), torch.from_numpy(self.b16))
        return {"latency_ms_b1": self._latency(torch_run, torch.from_numpy(self.b1), 1), "latency_ms_b16": None}

    def _latency(self, make: Callable[[Any], Callable[[], Any]], batch: Any, size: int) -> float | None:
        if self.repeats <= 0:
            return None
        runs = self.repeats if size == 1 else max(3, self.repeats // 4)
        return measure_latency(make(batch), size, repeats=runs, warmup=5 if size == 1 else 2)


def _quantize(fp32_path: Path, out_dir: Path, calib: list[Path]) -> Path:
    """The int8 model, written as ``model.int8.onnx.partial`` until it is delivered."""
    from threadpoolctl import threadpool_limits

    # numpy's Gram matrices for adaptive rounding: one BLAS thread, the same bytes
    # written, 45% fewer CPU-seconds on a busy 2-core machine than two fighting threads
    with threadpool_limits(limits=1, user_api="blas"):
        return quantize_int8(fp32_path, out_dir / "model.int8.onnx.partial", calib)


def _torch_row(
    module: "torch.nn.Module",
    reference: np.ndarray,
    images: _Images,
    timer: _Timer,
    *,
    torch_bytes: int | None,
    threads: int,
) -> FormatResult:
    """The torch model's row of the table: the reference every other format is measured against."""
    import torch

    torch.set_num_threads(threads)  # every format's latency on the same threads
    return FormatResult(
        name="torch-fp32",
        bytes=torch_bytes or _torch_bytes(module),
        **timer.torch_latencies(module),
        agreement=1.0,
        max_prob_diff=0.0,
        accuracy=_accuracy(reference, images.labels, images.mask),
    )


def _measure_onnx(
    name: str,
    file: Path,
    pixels: np.ndarray,
    reference: np.ndarray,
    images: _Images,
    classes: list[str],
    timer: _Timer,
    threads: int,
) -> tuple[FormatResult, list]:
    """One ONNX file's row of the table, and the images on which it disagrees with torch."""
    clf = edge.OnnxClassifier(file, threads=threads)
    starts = range(0, len(pixels), 16)
    batches = (
        edge.normalise(pixels[s : s + 16], clf.config) for s in track(starts, f"{name} agreement", total=len(starts))
    )
    probs = np.concatenate([clf.run(batch) for batch in batches])
    agree, diff = _agreement(probs, reference)
    row = FormatResult(
        name=name,
        bytes=file.stat().st_size,
        **timer.latencies(lambda x: lambda: clf.run(x), timer.b1, timer.b16),
        agreement=agree,
        max_prob_diff=diff,
        accuracy=_accuracy(probs, images.labels, images.mask),
        path=file,
    )
    return row, _disagreements(probs, reference, images.paths, classes)


def _table(
    rows: list[FormatResult],
    images: _Images,
    skipped: list,
    disagreements: list,
    quantization: str | None,
    *,
    threads: int,
    threshold: float,
) -> ExportResult:
    """The export's result: every format's row, the delivered (last) one's path and disagreements."""
    return ExportResult(
        path=rows[-1].path,
        formats=rows,
        n_images=len(images.paths),
        n_accuracy=int(images.mask.sum()),
        threads=threads,
        threshold=threshold,
        quantization=quantization,
        skipped=skipped,
        disagreements=disagreements,
    )


def _deliver(result: ExportResult, delivered: FormatResult, out_dir: Path, *, int8: bool, force: bool) -> ExportResult:
    """Refuse a delivered format below the threshold (removing an int8 file), else give int8 its final name."""
    if delivered.agreement < result.threshold and not force:
        if delivered.path is not None and delivered.path.name.endswith(".partial"):
            delivered.path.unlink(missing_ok=True)
            delivered.path = None
        result.path = None  # type: ignore[assignment]
        raise RefusedExport(result, delivered)
    if int8:
        final = out_dir / "model.int8.onnx"
        os.replace(delivered.path, final)
        delivered.path = final
        result.path = final
    return result


class RefusedExport(DatacentricError):
    """The delivered format fell below the agreement threshold.

    ``result`` carries the measured table; its onnx-fp32 row's ``path`` is the float model,
    which was written and checked and stays in the export run's folder.
    """

    def __init__(self, result: ExportResult, row: FormatResult) -> None:
        self.result = result
        miss = (result.threshold - row.agreement) * 100
        ties = sum(d.near_tie for d in result.disagreements)
        super().__init__(
            f"{row.name} model agrees with torch on {row.agreement:.1%} of {result.n_images} real images, "
            f"{miss:.1f} points below the {result.threshold:.1%} threshold ({ties} of its "
            f"{len(result.disagreements)} disagreements are near-ties for torch, top two classes within "
            f"{NEAR_TIE:.2f}); not written (use --force to write it anyway)",
        )
