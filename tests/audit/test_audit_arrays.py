import json

import numpy as np
import pytest

from datacentric.audit import audit_arrays
from datacentric.audit.report import render_report


def test_audit_arrays_end_to_end(synthetic, tiny_images):
    s = synthetic
    paths = tiny_images(s.truth)
    matrix = np.stack([s.labels, s.labels, s.labels], 1).astype(float)
    matrix[::6, 2] = (s.labels[::6] + 1) % 3
    matrix[1, 1:] = np.nan  # labelled by one of three annotators
    result = audit_arrays(
        s.labels,
        s.probs,
        s.classes,
        images=paths,
        embeddings=s.embeddings,
        metadata=s.metadata,
        annotator_labels=matrix,
        annotators=["mira", "tom", "ana"],
        project="parts/",
    )
    flagged = {i.index for i in result.flagged}
    assert set(s.wrong) <= flagged
    assert result.most_disagreeing == "ana"
    assert any(sl.column == "camera" and sl.value == "B" and sl.weak for sl in result.slices)
    assert result.counts["label_issues"] == len(flagged)
    issue = result.flagged[0]
    assert issue.nearest_given and issue.nearest_suggested
    assert all(p != issue.image for p in issue.nearest_given + issue.nearest_suggested)
    text = " ".join(result.next_steps)
    assert "datacentric labelstudio push parts/ --only-flagged" in text
    assert "camera=B" in " ".join(result.summary)
    doc = json.dumps(result.to_json())  # JSON-able, no NaN
    assert "NaN" not in doc
    html = render_report(result)
    assert html.count('<figure class="thumb bad"') == len(flagged)
    assert "<code>datacentric labelstudio push parts/ --only-flagged</code>" in html
    assert "Confusion matrix" in html and "<svg" in html
    assert html.count("chance it is a real error") == len(flagged)  # one per card
    assert "The forecast rests on the model and the labels alone" in html
    trust, chances = result.trust, [i.expected_precision for i in result.flagged]
    assert trust.flags == len(flagged) and trust.expected == pytest.approx(sum(chances))
    assert result.to_json()["trust"]["expected"] == trust.expected
    assert trust.low <= len(set(s.wrong)) <= trust.high  # the planted errors are all flagged: the range holds them
    assert all(0 <= c <= 1 for c in chances) and result.label_issues[-1].expected_precision < max(chances)


def test_audit_arrays_minimal_inputs():
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2])
    probs = np.full((11, 3), 0.1)
    probs[np.arange(11), labels] = 0.8
    result = audit_arrays(labels, probs, ["a", "b", "c"])
    assert result.classes[2].too_few and not result.flagged
    assert any("too few to judge" in line for line in result.summary)
    assert result.slices == [] and result.outliers == [] and len(result.consensus) == 11
    assert "<html" in render_report(result)


def test_crowdlab_consensus_flags_a_label_the_annotators_outvote():
    labels = np.repeat(np.arange(3), 10)
    probs = np.full((30, 3), 1 / 3)  # a model with no opinion: only the annotators can tell
    matrix = np.stack([labels, labels, labels], 1).astype(float)
    given = labels.copy()
    given[4] = 2  # the training label says 'c', but two of three annotators say 'a'
    matrix[4, 2] = 2
    result = audit_arrays(given, probs, ["a", "b", "c"], annotator_labels=matrix, annotators=["x", "y", "z"])
    top = result.label_issues[0]
    assert top.index == 4 and top.is_issue and top.reason == "annotators" and top.suggested == "a"
    reviewed = np.zeros(30, bool)
    reviewed[4] = True  # a reviewer settled it: no override
    result = audit_arrays(
        given, probs, ["a", "b", "c"], annotator_labels=matrix, annotators=["x", "y", "z"], reviewed=reviewed
    )
    assert not result.flagged


def test_audit_arrays_passes_the_flag_rule_on(synthetic):
    s = synthetic
    default = audit_arrays(s.labels, s.probs, s.classes)
    old = audit_arrays(s.labels, s.probs, s.classes, filter_by="prune_by_noise_rate")
    assert set(s.wrong) <= {i.index for i in default.flagged}
    assert len(default.flagged) < len(old.flagged)


def test_a_weak_model_is_named_at_the_top_of_the_summary():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    probs = rng.dirichlet([1, 1], size=80)  # a model that knows nothing
    weak = audit_arrays(labels, probs, ["ok", "defect"])
    assert weak.summary[0].startswith("Caution: the model is weak") and weak.counts["weak_model"]
    strong = np.where(labels[:, None] == np.arange(2), 0.9, 0.1)
    good = audit_arrays(labels, strong, ["ok", "defect"])
    assert not any("Caution" in line for line in good.summary) and not good.counts["weak_model"]


def test_flags_between_classes_the_model_mixes_up_anyway_say_so():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 30)
    probs = np.full((90, 3), 0.05)
    probs[labels == 2, 2] = 0.9  # defect is easy
    mixed = rng.random(60) * 0.9  # ok and minor: the model cannot tell them apart
    probs[:60, 0], probs[:60, 1] = mixed, 0.9 - mixed
    result = audit_arrays(labels, probs, ["ok", "minor", "defect"])
    line = next(s for s in result.summary if "look mislabelled" in s)
    assert "↔" in line and "mixes up" in line and "labelling rule" in line


def test_a_quoted_argument_stays_inside_its_command_in_the_report():
    """A metadata column or class name can hold ')' or '; ': shell-quoted, it is one argument."""
    from datacentric.audit.report import _steps

    html = _steps(
        [
            "Keep them together: datacentric train p/ --group-by '$(rm -rf ~); x (y)'",
            "Review: datacentric labelstudio push p/ --only-flagged — or: datacentric relabel p/ A B (one)",
        ]
    )
    assert "<code>datacentric train p/ --group-by &#x27;$(rm -rf ~); x (y)&#x27;</code>" in html
    assert "<code>datacentric labelstudio push p/ --only-flagged</code> — or" in html
    assert "<code>datacentric relabel p/ A B</code> (one)" in html
