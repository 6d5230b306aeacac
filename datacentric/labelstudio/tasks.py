"""What a pushed task says: which images, in which order, with which flags and pre-labels.

A task's data carries our image hash (``image_hash``), the image's metadata, its current
labels and the latest audit's flag; its prediction is the champion model's out-of-sample
pre-label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datacentric.errors import DatacentricError
from datacentric.labelstudio.client import FROM_NAME, TO_NAME
from datacentric.project import ImageRecord, Project, Run
from datacentric.runs import OOF_FILE, model_file, read_audit, read_oof

# task data keys of our own: metadata under these names is left out of a task
OWN_KEYS = (
    "image",
    "image_hash",
    "file",
    "given",
    "labels",
    "flag",
    "given_label",
    "suggested",
    "quality",
    "review_rank",
)


@dataclass
class TaskContent:
    """What a push writes into tasks, read from the project before any task is written."""

    labels: dict[str, dict[str, str]]  # each image's current label per annotator
    consensus: dict[str, str]  # each image's consensus label
    flags: dict[str, dict]  # image id -> the audit's flag (given, suggested, quality, rank)
    run: Run | None  # the train run whose pre-labels are sent
    probs: dict[str, dict[str, float]]  # image id -> class probabilities from that run

    def data(self, rec: ImageRecord) -> dict[str, Any]:
        """The task data for one image (see :func:`task_data`)."""
        return task_data(rec, self.labels, self.consensus, self.flags)

    def meta(self, rec: ImageRecord) -> dict[str, Any]:
        """The task's meta: our image id and flag."""
        return {"datacentric": {"image_id": rec.id, "flag": self.flags.get(rec.id, {})}}

    def prediction(self, rec: ImageRecord) -> dict[str, Any] | None:
        """The image's pre-label, or None without one."""
        if self.run is None or rec.id not in self.probs:
            return None
        return prediction(self.probs[rec.id], self.run.id)


def task_data(rec: ImageRecord, labels: dict, consensus: dict, flags: dict) -> dict[str, Any]:
    """One image's task data: its metadata, hash, file name, labels and flag."""
    flag = flags.get(rec.id, {})
    data: dict[str, Any] = {k: v for k, v in rec.metadata.items() if k not in OWN_KEYS and k != TO_NAME}
    data.update(
        {
            "image_hash": rec.id,
            "file": rec.path.name,
            "given": consensus.get(rec.id, ""),
            "labels": "; ".join(f"{a}: {lab}" for a, lab in sorted(labels.get(rec.id, {}).items())),
            "flag": "label issue" if flag else "",
            "suggested": flag.get("suggested", "") if flag else "",
            "quality": round(float(flag["quality"]), 4) if flag and flag.get("quality") is not None else None,
            "review_rank": flag.get("rank") if flag else None,
        }
    )
    return data


def prediction(probs: dict[str, float], version: str) -> dict[str, Any]:
    """A Label Studio prediction choosing the most probable class."""
    label = max(probs, key=probs.get)
    score = float(probs[label])
    return {
        "model_version": version,
        "score": score,
        "result": [
            {
                "from_name": FROM_NAME,
                "to_name": TO_NAME,
                "type": "choices",
                "value": {"choices": [label]},
                "score": score,
            }
        ],
    }


def review_order(proj: Project, only_flagged: bool) -> tuple[list[ImageRecord], dict[str, dict], str | None]:
    """Real images, flagged ones first (worst label quality first); the flags; the audit run's id."""
    records = proj.images("real")
    flags, audit_run = audit_flags(proj, records)
    if only_flagged:
        if audit_run is None:
            raise DatacentricError(
                "no audit run yet; run `datacentric audit` first, or push without --only-flagged", proj.root
            )
        records = [r for r in records if r.id in flags]
    order = {image_id: flag["rank"] for image_id, flag in flags.items()}
    records.sort(key=lambda r: (0, order[r.id]) if r.id in order else (1, 0))
    return records, flags, audit_run


def audit_flags(proj: Project, records: list[ImageRecord]) -> tuple[dict[str, dict], str | None]:
    """The label issues of the newest finished audit, ranked worst quality first; and its run id."""
    run = proj.latest_audit()
    if run is None:
        return {}, None
    report = read_audit(run)
    by_id = {r.id: r.id for r in records}
    by_id.update({str(r.path): r.id for r in records})
    by_id.update({r.path.name: r.id for r in records})
    issues = [i for i in report.get("label_issues", []) if i.get("is_issue")]
    issues.sort(key=lambda i: float(i.get("quality", 1.0) if i.get("quality") is not None else 1.0))
    flags: dict[str, dict] = {}
    for issue in issues:
        image_id = _flagged_image(issue, by_id, records)
        if image_id is None or image_id in flags:
            continue
        flags[image_id] = {
            "given": issue.get("given"),
            "suggested": issue.get("suggested"),
            "quality": issue.get("quality"),
            "rank": len(flags) + 1,
        }
    return flags, run.id


def _flagged_image(issue: dict, by_id: dict[str, str], records: list[ImageRecord]) -> str | None:
    """The id of the image an audit issue names: by id, path, file name or id prefix (>= 6)."""
    ref = str(issue.get("id") or issue.get("image", ""))  # audit writes id (hash) and image (path)
    return (
        by_id.get(ref)
        or by_id.get(str(issue.get("image", "")))
        or next((r.id for r in records if len(ref) >= 6 and r.id.startswith(ref)), None)
    )


def pre_labels(proj: Project, records: list[ImageRecord]) -> tuple[Run | None, dict[str, dict[str, float]]]:
    """Probabilities per image from the champion train run: out-of-sample (oof.npz) where the
    image was in training, else the run's final model (when it can be loaded).
    """
    run = proj.champion()
    if run is None:
        return None, {}
    oof = read_oof(run) if (run.dir / OOF_FILE).is_file() else None
    result = (
        {}
        if oof is None
        else {i: {c: float(p) for c, p in zip(oof.classes, row)} for i, row in zip(oof.ids, oof.probs)}
    )
    rest = [r for r in records if r.id not in result]
    if rest and model_file(run) is not None:
        try:
            from datacentric.model import load_classifier  # the model package may not exist yet
        except ImportError:
            load_classifier = None
        if load_classifier is not None:
            clf = load_classifier(run, cache_dir=proj.cache_dir)
            for rec, row in zip(rest, clf.predict_proba([r.path for r in rest])):
                result[rec.id] = {c: float(p) for c, p in zip(clf.classes, row)}
    return run, result
