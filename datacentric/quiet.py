"""Third-party modules imported without their start-up network calls, leaving ``os.environ`` as it was.

Importing datacentric changes no environment variable. The hub is never asked for weights
unless the user opts in (:func:`datacentric.model.weights.online`), so ``HF_HUB_OFFLINE``
is not needed; albumentations asks PyPI for a newer version when imported unless
``NO_ALBUMENTATIONS_UPDATE`` is set, so that variable is set for the import only; the same
for onnxruntime's usage telemetry (``ORT_DISABLE_TELEMETRY``, see :mod:`datacentric.edge`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["import_albumentations", "import_onnxruntime"]


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` inside the block, then as it was."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def import_albumentations() -> ModuleType:
    """``albumentations``, imported without its update check against PyPI."""
    with _env("NO_ALBUMENTATIONS_UPDATE", "1"):
        return importlib.import_module("albumentations")


def import_onnxruntime() -> ModuleType:
    """``onnxruntime`` with its usage telemetry off (imported once, by :mod:`datacentric.edge`)."""
    from datacentric.edge import ort

    return ort
