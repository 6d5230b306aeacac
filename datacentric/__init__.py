"""datacentric: data-centric AI for small image data sets.

The names below are the public API; each loads its module on first use, so
``import datacentric`` stays light (``datacentric.edge`` runs without torch).

>>> import datacentric as dc
>>> str(dc.DatacentricError("unknown label 'pti'", "labels.csv:4"))
"unknown label 'pti' (labels.csv:4)"
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "DatacentricError": "datacentric.errors",
    "Project": "datacentric.project",
    "load_image": "datacentric.data.images",
    "import_csv": "datacentric.data.importers",
    "import_folder": "datacentric.data.importers",
    "import_path": "datacentric.data.importers",
    "project_status": "datacentric.status",
    "generate_demo": "datacentric.demo",
    "generate_batch": "datacentric.demo",
    "AuditResult": "datacentric.audit",
    "audit_arrays": "datacentric.audit",
    "find_issues": "datacentric.audit",
    "create_backbone": "datacentric.model",
    "embed": "datacentric.model",
    "cross_val_probs": "datacentric.model",
    "train": "datacentric.model",
    "predict": "datacentric.model",
    "load_classifier": "datacentric.model",
    "DriftCheck": "datacentric.drift",
    "DriftDetector": "datacentric.drift",
    "DriftResult": "datacentric.drift",
    "check_drift": "datacentric.drift",
    "RetrainDecision": "datacentric.retrain",
    "champion_run": "datacentric.retrain",
    "retrain": "datacentric.retrain",
    "ExportResult": "datacentric.export",
    "export_run": "datacentric.export",
    "OnnxClassifier": "datacentric.edge",
    "improve_project": "datacentric.improve",
    "measure_lift": "datacentric.improve",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'datacentric' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
