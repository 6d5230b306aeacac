"""End to end on the full demo with the real offline backbone: does the audit find what we planted?

The demo knows the truth (ground_truth.csv), a sloppy annotator (ana) and a darker camera (B).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import datacentric as dc
from datacentric.audit.trust import expected_words
from tests.support.files import read_rows


@pytest.mark.slow
def test_audit_finds_planted_label_errors_sloppy_annotator_and_dark_camera(full_demo):
    data, parts = full_demo
    with dc.Project.open(parts) as proj:
        result = dc.find_issues(proj)
        labelled = proj.dataset()
    given = {Path(p).name: labelled.classes[k] for p, k in zip(labelled.paths, labelled.labels)}
    truth = {Path(row["file"]).name: row["true_label"] for row in read_rows(data.ground_truth_csv)}
    wrong = {name for name, label in given.items() if label != truth[name]}
    flagged = {Path(issue.image).name for issue in result.flagged}
    assert len(wrong) >= 10
    assert len(flagged & wrong) >= 0.5 * len(wrong), "most wrong labels are flagged"
    assert len(flagged & wrong) >= 0.5 * len(flagged), "most flags are real errors"
    forecast = result.trust
    assert forecast.flags == len(flagged) and forecast.reviews == 0
    assert abs(forecast.precision - len(flagged & wrong) / len(flagged)) <= 0.25, "the forecast is near the truth"
    assert any(expected_words(forecast) in line for line in result.summary), "printed beside the flag count"
    assert result.most_disagreeing == "ana"
    weak = {(s.column, s.value) for s in result.slices if s.weak}
    assert ("camera", "B") in weak
