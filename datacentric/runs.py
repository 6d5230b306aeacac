"""What a train run leaves behind, read and written in one place.

``oof.npz`` in a train run's folder holds, for the N labelled real images:
``ids`` (N str), ``labels`` (N int), ``probs`` (N, K float32, out-of-sample),
``classes`` (K str) and ``folds`` (R, N int: each image's validation fold in each CV
repeat; missing in runs made before it was stored) and, when CV kept groups together,
``groups`` (N str: each image's group, see :mod:`datacentric.model.grouping`).

A train run's final model lies in ``model.pt`` (a whole torch classifier, read and written by
:mod:`datacentric.model.classifier`: finetune runs, and probe runs made before ``probe.npz``) or
``probe.npz`` (:class:`ProbeHead`: the probe's head on a named backbone, no torch needed);
:func:`model_file` says which. ``probe.npz`` holds ``weight`` (K, D float32), ``bias`` (K float32)
and ``meta`` (JSON text: format "datacentric-probe/1", backbone, classes, data_config, weights,
pretrained); numpy reads it with ``allow_pickle=False``.

:func:`champion` is the one rule for "which train run" every command uses by default;
:func:`latest_audit` the one rule for "which audit" (the newest finished one with ``audit.json``,
read with :func:`read_audit`, written with :func:`write_audit`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from datacentric.errors import DatacentricError
from datacentric.paths import UNREADABLE_ARRAYS, write_atomic, write_npz
from datacentric.serialize import to_jsonable

if TYPE_CHECKING:  # numpy is imported where arrays are read or written: the store-only commands skip it
    import numpy as np

__all__ = [
    "AUDIT_FILE",
    "MODEL_FILE",
    "OOF_FILE",
    "PROBE_FILE",
    "OutOfFold",
    "ProbeHead",
    "champion",
    "latest_audit",
    "model_file",
    "read_audit",
    "read_oof",
    "read_probe",
    "write_audit",
    "write_oof",
    "write_probe",
]

OOF_FILE = "oof.npz"
AUDIT_FILE = "audit.json"  # an audit run's result (AuditResult.to_json())
MODEL_FILE = "model.pt"  # a whole torch classifier
PROBE_FILE = "probe.npz"  # a probe's head; the torch classifier is built from it when needed
PROBE_FORMAT = "datacentric-probe/1"


class RunFolder(Protocol):
    """What the readers here take of a run: its folder (``datacentric.project.Run`` has it)."""

    @property
    def dir(self) -> Path:
        """The run's folder."""


def model_file(run: RunFolder | Path | str) -> Path | None:
    """The file holding a train run's final model (``run`` is a Run or its folder); None when none."""
    folder = Path(getattr(run, "dir", run))
    for name in (MODEL_FILE, PROBE_FILE):
        if (folder / name).is_file():
            return folder / name
    return None


class RunRecord(Protocol):
    """What :func:`champion` reads of a run (``datacentric.project.Run`` has it)."""

    id: str
    status: str
    config: dict
    metrics: dict


R = TypeVar("R", bound=RunRecord)


def champion(train_runs: Sequence[R], retrain_runs: Sequence[RunRecord], *, complete: bool = False) -> R | None:
    """The train run in charge, from the train and retrain runs (each oldest first); None before any.

    The rule: the newest finished train run that no retrain decision rejected. A plain
    ``train`` always takes over; a ``retrain`` challenger only when promoted. A challenger
    names its retrain run in its config (``challenger_of``) and stays out of charge until
    that run finished with ``promoted`` True, so a retrain that failed or was killed while
    scoring never leaves an ungated model in charge. (Older challengers carry no tag: their
    retrain run's metrics ``promoted`` False and ``challenger`` their id mean rejected.)

    ``complete=True`` is for readers of every labelled image's out-of-sample prediction
    (audit, label book): of those runs, the newest that left no image out -- a retrain
    challenger is trained without the golden set, so it has no out-of-sample prediction
    for those images -- and the champion when every such run left some out.
    """
    promoted = {r.id for r in retrain_runs if r.status == "done" and r.metrics.get("promoted") is True}
    rejected = {
        r.metrics.get("challenger") for r in retrain_runs if r.status == "done" and r.metrics.get("promoted") is False
    }

    def gated(run: R) -> bool:
        decided_by = run.config.get("challenger_of")
        return run.id not in rejected and (decided_by is None or decided_by in promoted)

    in_charge = [r for r in train_runs if r.status == "done" and gated(r)]
    if complete:
        whole = [r for r in in_charge if not r.config.get("excluded")]
        if whole:
            return whole[-1]
    return in_charge[-1] if in_charge else None


@dataclass
class OutOfFold:
    """A train run's out-of-sample predictions."""

    ids: list[str]
    labels: np.ndarray  # (N,) int64, the labels trained on
    probs: np.ndarray  # (N, K) float64
    classes: list[str]
    folds: np.ndarray | None  # (R, N) validation fold per repeat; None for older runs
    groups: list[str] | None = None  # (N,) group kept on one side of every split; None = ungrouped

    def group_of(self) -> dict[str, str]:
        """Image id -> its group ({} when the run kept no groups)."""
        return dict(zip(self.ids, self.groups)) if self.groups is not None else {}


def write_oof(run_dir: Path | str, oof: OutOfFold) -> Path:
    """Write ``oof.npz`` into a run folder; returns its path."""
    import numpy as np

    path = Path(run_dir) / OOF_FILE
    extra = {"folds": np.asarray(oof.folds)} if oof.folds is not None else {}
    if oof.groups is not None:
        extra["groups"] = np.array(oof.groups, dtype=str)
    write_npz(
        path,
        ids=np.array(oof.ids, dtype=str),
        labels=np.asarray(oof.labels, dtype=np.int64),
        probs=np.asarray(oof.probs, dtype=np.float32),
        classes=np.array(oof.classes, dtype=str),
        **extra,
    )
    return path


def read_oof(run: RunFolder | Path | str) -> OutOfFold:
    """Read a train run's ``oof.npz`` (``run`` is a Run or its folder)."""
    import numpy as np

    path = Path(getattr(run, "dir", run)) / OOF_FILE
    if not path.exists():
        raise DatacentricError("train run has no out-of-sample probabilities (oof.npz); train again", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return OutOfFold(
                ids=[str(x) for x in data["ids"]],
                labels=np.asarray(data["labels"], dtype=np.int64),
                probs=np.asarray(data["probs"], dtype=np.float64),
                classes=[str(x) for x in data["classes"]],
                folds=np.asarray(data["folds"], dtype=np.int64) if "folds" in data.files else None,
                groups=[str(g) for g in data["groups"]] if "groups" in data.files else None,
            )
    except UNREADABLE_ARRAYS as exc:
        raise DatacentricError(f"unreadable out-of-sample file: {exc}", path) from None


@dataclass
class ProbeHead:
    """A probe run's final model without its frozen backbone: ``softmax(features @ weight.T + bias)``."""

    weight: np.ndarray  # (K, D) float32, standardisation folded in
    bias: np.ndarray  # (K,) float32
    classes: list[str]  # K names, in output order
    backbone: str  # the backbone spec the features came from
    data_config: dict  # timm data config the features were made with
    weights: str | None  # id of the backbone weights the features came from (None = unknown)
    pretrained: bool = True  # False: the backbone's seeded random initialisation (tests)


def write_probe(run_dir: Path | str, head: ProbeHead) -> Path:
    """Write ``probe.npz`` into a run folder (atomically); returns its path."""
    import numpy as np

    weight = np.asarray(head.weight, dtype=np.float32)
    bias = np.asarray(head.bias, dtype=np.float32)
    path = Path(run_dir) / PROBE_FILE
    if weight.ndim != 2 or bias.shape != (len(weight),) or len(weight) != len(head.classes):
        raise DatacentricError(
            f"a probe head is (K, D) and (K,) for K classes, got {weight.shape} and "
            f"{bias.shape} for {len(head.classes)}",
            path,
        )
    meta = {
        "format": PROBE_FORMAT,
        "backbone": head.backbone,
        "classes": list(head.classes),
        "data_config": to_jsonable(head.data_config),
        "weights": head.weights,
        "pretrained": bool(head.pretrained),
    }
    return write_npz(path, weight=weight, bias=bias, meta=np.array(json.dumps(meta)))


def read_probe(run: RunFolder | Path | str) -> ProbeHead:
    """Read ``probe.npz`` (``run`` is a Run, its folder or the file)."""
    import numpy as np

    path = Path(getattr(run, "dir", run))
    path = path / PROBE_FILE if path.is_dir() else path
    try:
        with np.load(path, allow_pickle=False) as data:
            weight, bias = np.asarray(data["weight"]), np.asarray(data["bias"])
            meta = json.loads(str(data["meta"]))
    except UNREADABLE_ARRAYS as exc:
        raise DatacentricError(f"cannot read model: {exc.__class__.__name__}: {exc}", path) from None
    if not isinstance(meta, dict) or meta.get("format") != PROBE_FORMAT:
        raise DatacentricError(f"not a datacentric probe file (expected format {PROBE_FORMAT})", path)
    return ProbeHead(
        weight=weight,
        bias=bias,
        classes=[str(c) for c in meta["classes"]],
        backbone=str(meta["backbone"]),
        data_config=dict(meta["data_config"]),
        weights=meta.get("weights"),
        pretrained=bool(meta.get("pretrained", True)),
    )


def latest_audit(audit_runs: Sequence[R]) -> R | None:
    """The audit in charge: the newest finished audit run (runs oldest first) that holds ``audit.json``."""
    for run in reversed(audit_runs):
        if run.status == "done" and (Path(getattr(run, "dir", "")) / AUDIT_FILE).is_file():
            return run
    return None


def write_audit(run_dir: Path | str, result: dict) -> Path:
    """Write an audit run's result (JSON-able) as ``audit.json``."""
    return write_run_json(run_dir, AUDIT_FILE, result)


def write_run_json(run_dir: Path | str, name: str, document: dict) -> Path:
    """Write a run's JSON document (``golden.json``, ``retrain.json``, ``drift.json``,
    ``improve.json``, ``audit.json``) atomically; values JSON cannot hold are written as text.
    """
    return write_atomic(Path(run_dir) / name, json.dumps(document, indent=2, default=str))


def read_audit(run: RunFolder | Path | str) -> dict:
    """An audit run's ``audit.json`` as a dict (``run`` is a Run or its folder)."""
    path = Path(getattr(run, "dir", run)) / AUDIT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatacentricError(f"cannot read the audit report ({exc})", path) from None
