"""Ship small: export a trained classifier to ONNX (fp32, optionally int8) and prove it still works.

The exported file carries the class names and preprocessing constants as ONNX
``metadata_props``, so :class:`datacentric.edge.OnnxClassifier` needs nothing but the
file (and onnxruntime, numpy, pillow) to predict.

Every export is checked against the torch model on the project's real images:
top-1 agreement, largest absolute probability difference, accuracy, file size and
latency per image at batch 1 and batch 16 (median of repeated runs after warm-up,
same thread count for every format).

Why *static* int8: dynamic quantization quantizes activations on the fly and, in
onnxruntime, only speeds up MatMul/Gemm-heavy models (transformers, LSTMs); for a
conv net it leaves the convolutions in float and adds quantize/dequantize work
(measured on this project's CPU: 85 ms vs 6 ms at batch 1 for EfficientNet-Lite0).
Static QDQ quantization with per-channel weights, calibrated on the project's own
real images, quantizes the convolutions too and keeps accuracy.

Shapes: N images, K classes.

Layout: :mod:`~datacentric.export.to_onnx` (the fp32 file and its metadata),
:mod:`~datacentric.export.int8` and :mod:`~datacentric.export.weight_rounding` (static int8),
:mod:`~datacentric.export.measuring` (latency, agreement), :mod:`~datacentric.export.results`
(the table), :mod:`~datacentric.export.compare` (the whole export of a torch module) and
:mod:`~datacentric.export.from_project` (a project's train run, recorded as an "export" run).
"""

from __future__ import annotations

from datacentric.export.compare import RefusedExport, export_model
from datacentric.export.from_project import export_run
from datacentric.export.int8 import INT8_RECIPE, ImageCalibrationReader, optimized_op_counts, quantize_int8
from datacentric.export.measuring import measure_latency
from datacentric.export.results import (
    DEFAULT_THRESHOLD,
    FORMAT_NAMES,
    NEAR_TIE,
    Disagreement,
    ExportResult,
    FormatResult,
)
from datacentric.export.to_onnx import OPSET, export_onnx

__all__ = [
    "DEFAULT_THRESHOLD",
    "FORMAT_NAMES",
    "INT8_RECIPE",
    "NEAR_TIE",
    "OPSET",
    "Disagreement",
    "ExportResult",
    "FormatResult",
    "ImageCalibrationReader",
    "RefusedExport",
    "export_model",
    "export_onnx",
    "export_run",
    "measure_latency",
    "optimized_op_counts",
    "quantize_int8",
]
