"""The export table: one row per model format, the images it disagrees on, and the whole result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_THRESHOLD", "FORMAT_NAMES", "NEAR_TIE", "Disagreement", "ExportResult", "FormatResult"]

FORMAT_NAMES = ("torch-fp32", "onnx-fp32", "onnx-int8")
DEFAULT_THRESHOLD = 0.99
NEAR_TIE = 0.05  # a torch top-2 probability gap under this: a flip there says little about the export


@dataclass
class FormatResult:
    """One row of the export table: a model format measured against the torch model."""

    name: str  # torch-fp32 | onnx-fp32 | onnx-int8
    bytes: int  # file size (torch: the saved state dict)
    latency_ms_b1: float | None  # median milliseconds per image at batch 1 (None: not measured)
    latency_ms_b16: float | None  # median milliseconds per image at batch 16
    agreement: float  # share of real images with the same top-1 label as torch-fp32
    max_prob_diff: float  # largest |p_format - p_torch| over images and classes
    accuracy: float | None  # top-1 accuracy on labelled real images (see ExportResult.accuracy_on)
    path: Path | None = None  # the file (None for torch-fp32 when not from a run)


@dataclass
class Disagreement:
    """A real image on which the delivered model's top-1 label differs from the torch model's."""

    image: str
    torch_label: str
    label: str  # the delivered model's
    torch_gap: float  # torch's top-1 minus top-2 probability: near 0, torch itself is torn

    @property
    def near_tie(self) -> bool:
        """Whether torch's two most likely classes are within :data:`NEAR_TIE` of each other."""
        return self.torch_gap < NEAR_TIE


@dataclass
class ExportResult:
    """What an export wrote and how the formats compare (the ``--json`` of ``datacentric export``)."""

    path: Path  # the model file delivered (int8 when int8 was asked for)
    formats: list[FormatResult]
    run_id: str | None = None  # the "export" run recording this table
    train_run: str | None = None  # the train run the model came from
    n_images: int = 0  # real images compared for agreement / probability difference
    n_accuracy: int = 0  # labelled real images the accuracy is measured on
    accuracy_on: str = "labelled"  # "holdout" (not seen in training) | "training" (seen) | "labelled"
    cv_accuracy: float | None = None  # the train run's cross-validated accuracy (honest held-out figure)
    threads: int = 1
    other_load: float | None = None  # cores' worth of other work while timing (1-min load less our threads)
    threshold: float = DEFAULT_THRESHOLD
    quantization: str | None = None  # how int8 was made
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image, reason) not compared
    disagreements: list[Disagreement] = field(default_factory=list)  # the delivered format's, nearest ties first

    def format(self, name: str) -> FormatResult:
        """The row for one format name."""
        for row in self.formats:
            if row.name == name:
                return row
        raise KeyError(name)
