"""The demo's reviewer: settles the worst flags of the latest audit with the generator's truth.

In the demo no person is at hand to look at the flagged photos, so this stands in for one:
it writes the decisions a careful reviewer would make (the true label of each of the worst
flags, from ``ground_truth.csv``) to a CSV that ``datacentric relabel --from`` applies. Some
flags turn out to be real errors (the label changes), others false alarms (the label stays):
the next audit counts both.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from datacentric.decisions import COLUMNS
from datacentric.errors import DatacentricError
from datacentric.paths import write_atomic
from datacentric.project import Project
from datacentric.runs import read_audit

__all__ = ["REVIEWER", "play_reviewer"]

REVIEWER = "lead"  # the name the demo's decisions are given under


def play_reviewer(project_root: Path, data_root: Path, out: Path, *, worst: int = 10) -> int:
    """Write the true labels of the latest audit's ``worst`` flags to the decisions CSV ``out``.

    Returns how many rows were written (flags whose photo the generator knows).
    """
    with Project.open(project_root) as project:
        audit = project.latest_audit()
        if audit is None:
            raise DatacentricError("no audit run yet; run: datacentric audit PROJECT", project.root)
        flags = [i for i in read_audit(audit).get("label_issues", []) if i.get("is_issue")]
    with open(data_root / "ground_truth.csv", newline="") as handle:
        truth = {str((data_root / row["file"]).resolve()): row["true_label"] for row in csv.DictReader(handle)}
    rows = []
    for flag in flags:
        if len(rows) == worst:
            break
        label = truth.get(str(Path(flag.get("image", "")).resolve()))
        if label is not None:
            rows.append({"file": flag["image"], "label": label, "annotator": REVIEWER})
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows({**row, "note": "demo: the generator's true label"} for row in rows)
    write_atomic(out, text.getvalue())
    return len(rows)
