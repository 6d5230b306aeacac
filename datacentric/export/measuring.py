"""Measuring a format against the torch model: latency, size, top-1 agreement, accuracy."""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacentric.export.results import Disagreement

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["measure_latency"]


def measure_latency(fn: Callable[[], Any], batch: int, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median milliseconds *per image* of ``fn()`` (which runs one batch of ``batch`` images).

    ``warmup`` untimed calls first, then ``repeats`` timed ones.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0 / batch


def _batch_of(arrays: np.ndarray, size: int) -> np.ndarray:
    """The first ``size`` rows of ``arrays`` repeated as often as needed (a copy of just those rows)."""
    return arrays[np.arange(size) % len(arrays)]


def _torch_bytes(module: "torch.nn.Module") -> int:
    import torch

    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.tell()


def _agreement(probs: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    if len(probs) == 0:
        return float("nan"), float("nan")
    agree = float(np.mean(probs.argmax(1) == reference.argmax(1)))
    return agree, float(np.max(np.abs(probs - reference)))


def _disagreements(
    probs: np.ndarray, reference: np.ndarray, paths: Sequence[Path], classes: Sequence[str]
) -> list[Disagreement]:
    top2 = np.sort(reference, axis=1)[:, -2:]
    gaps = top2[:, 1] - top2[:, 0]
    rows = [
        Disagreement(
            str(paths[i]), classes[int(reference[i].argmax())], classes[int(probs[i].argmax())], float(gaps[i])
        )
        for i in np.flatnonzero(probs.argmax(1) != reference.argmax(1))
    ]
    return sorted(rows, key=lambda d: d.torch_gap)


def _accuracy(probs: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float | None:
    if not mask.any():
        return None
    return float(np.mean(probs[mask].argmax(1) == labels[mask]))
