"""The train run's HTML report: cross-validated quality per class, as bars and a confusion matrix.

One self-contained page (``runs/<id>/report.html``), built with the shared
:mod:`datacentric.report` helpers; the class bars are the audit report's.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np

from datacentric import report as H
from datacentric.model.train_result import TrainResult
from datacentric.stats import weak_bar

__all__ = ["weak_classes", "write_train_report"]


def weak_classes(per_class: dict[str, dict], accuracy: float) -> list[str]:
    """Classes whose recall or precision is clearly below the overall accuracy (judged ones only):
    more than 0.10 below it, or below 0.5 while also 0.05 below it.
    """
    bar = weak_bar(accuracy)
    return [
        name
        for name, m in per_class.items()
        if not m["too_few"] and any(v is not None and v < bar for v in (m["recall"], m["precision"]))
    ]


def write_train_report(result: TrainResult, project_root: Path, path: Path) -> Path:
    """Write the report of one :class:`~datacentric.model.train_result.TrainResult`; return its path."""
    weak = weak_classes(result.per_class, result.cv_accuracy)
    sections = [
        H.section("Summary", _summary(result, weak), id="summary"),
        H.section(
            "Classes",
            _classes(result, weak),
            id="classes",
            intro=(
                "Recall: of the images labelled as the class, the share the model recognised. Precision: of "
                "the images the model called the class, the share labelled so. Both come from models that "
                "never saw the image (cross-validation). Red: what makes a class weak, its recall or "
                "precision more than 0.10 below the overall accuracy (or below 0.5 while also 0.05 below "
                "it); the dashed line is the overall accuracy. Classes with too few images to judge are "
                "left out of the bars."
            ),
        ),
    ]
    if result.labels is not None and result.probs is not None and len(result.classes) > 1:
        matrix = _confusion(result.labels, result.probs, len(result.classes))
        sections.append(
            H.section(
                "Confusion matrix",
                H.confusion_matrix_svg(matrix.tolist(), result.classes),
                id="confusion",
                intro=(
                    "Each row is a label as given, each column what the model predicted for images it had "
                    "not seen. The diagonal (green) is agreement; red cells are mix-ups."
                ),
            )
        )
    root = shlex.quote(str(project_root))
    steps = [
        ("Look for wrong labels and weak classes", f"datacentric audit {root}"),
        ("then fix the data", f"datacentric improve {root}"),
    ]
    sections.append(
        H.section(
            "What to do next",
            '<ul class="steps">'
            + "".join(f"<li>{H.escape(what)}: <code>{H.escape(command)}</code></li>" for what, command in steps)
            + "</ul>",
            id="next",
        )
    )
    title = f"Training {result.run.id}"
    return H.write(path, H.page(title, sections, subtitle=f"{result.mode} on {result.backbone}"))


def _summary(result, weak: list[str]) -> list[str]:
    n = int(sum(m["n"] for m in result.per_class.values()))
    facts = [
        {"what": "accuracy (cross-validated)", "value": f"{result.cv_accuracy:.3f} ± {result.cv_accuracy_std:.3f}"},
        {"what": "images", "value": n},
        {"what": "classes", "value": len(result.per_class)},
        {"what": "folds", "value": f"{result.folds} × {result.repeats} repeats"},
        {"what": "mode", "value": result.mode},
        {"what": "backbone", "value": result.backbone},
        {"what": "weak classes", "value": ", ".join(weak) or "none"},
        {"what": "time", "value": f"{result.seconds:.1f} s"},
    ]
    if result.ungrouped_cv_accuracy is not None:
        facts.append(
            {"what": f"plain folds (no {result.group_by} groups)", "value": f"{result.ungrouped_cv_accuracy:.3f}"}
        )
    return [H.table(facts, {"what": "", "value": ""})]


def _classes(result, weak: list[str]) -> list[str]:
    judged = [
        (name, m["recall"], m["precision"], name in weak) for name, m in result.per_class.items() if not m["too_few"]
    ]
    rows = [
        {
            "class": name,
            "images": m["n"],
            "recall": m["recall"],
            "precision": m["precision"],
            "verdict": (
                H.badge("too few to judge", "muted")
                if m["too_few"]
                else H.badge("weak", "bad")
                if name in weak
                else H.badge("ok", "good")
            ),
        }
        for name, m in result.per_class.items()
    ]
    bars = (
        [H.figure([H.class_bars_svg(judged, reference=result.cv_accuracy, bar=weak_bar(result.cv_accuracy))])]
        if judged
        else []
    )
    return bars + [
        H.table(rows, formats={"recall": ".2f", "precision": ".2f"}, flag=[name in weak for name in result.per_class])
    ]


def _confusion(labels: np.ndarray, probs: np.ndarray, k: int) -> np.ndarray:
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(probs).argmax(axis=1)), 1)
    return matrix
