import numpy as np
import pytest

from datacentric.audit import annotator_consensus, label_matrix, majority_vote

CLASSES = ["ok", "scratch", "pit"]


def _probs(truth, k=3, p=0.8):
    probs = np.full((len(truth), k), (1 - p) / (k - 1))
    probs[np.arange(len(truth)), truth] = p
    return probs


def test_sloppy_annotator_is_named_and_partial_rows_work():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 60)
    matrix = np.stack([truth, truth, truth], 1).astype(float)
    matrix[:15, 2] = (truth[:15] + 1) % 3  # ana is wrong on 15 images
    matrix[30:45, 1] = np.nan  # tom skipped some
    matrix[7, 1:] = np.nan  # image 7 labelled by mira only
    result = annotator_consensus(matrix, _probs(truth), annotators=["mira", "tom", "ana"], classes=CLASSES)
    assert result.method == "crowdlab"
    assert result.most_disagreeing == "ana"
    stats = {a.name: a for a in result.annotators}
    assert stats["tom"].n == 44 and stats["mira"].n == 60
    assert stats["ana"].agreement < stats["mira"].agreement
    assert stats["ana"].quality < stats["mira"].quality
    assert [c.label for c in result.consensus] == [CLASSES[t] for t in truth]
    assert result.consensus[7].n_annotations == 1 and result.consensus[7].votes == {"mira": CLASSES[truth[7]]}
    disagreeing = {i for i, c in enumerate(result.consensus) if len(set(c.votes.values())) > 1}
    assert disagreeing == set(range(7)) | set(range(8, 15))


def test_crowdlab_breaks_a_tie_with_the_better_annotator():
    truth = np.array([0, 1, 2] * 10)
    matrix = np.stack([truth, truth, (truth + 1) % 3], 1).astype(float)
    matrix[0, 1] = np.nan  # image 0: mira says 0, ana says 1 -> a tie for majority vote without a model
    probs = np.full((30, 3), 1 / 3)  # an uninformative model
    result = annotator_consensus(matrix, probs, annotators=["mira", "tom", "ana"], classes=CLASSES)
    assert result.consensus[0].label == "ok"  # mira is trusted more than ana
    assert result.most_disagreeing == "ana"


def test_single_annotator_is_passed_through():
    truth = np.array([0, 1, 2, 0])
    result = annotator_consensus(truth[:, None].astype(float), _probs(truth), annotators=["mira"], classes=CLASSES)
    assert result.method == "single"
    assert result.most_disagreeing is None
    assert [c.label for c in result.consensus] == ["ok", "scratch", "pit", "ok"]


def test_label_matrix_and_majority_vote():
    current = {"a": {"mira": "ok", "tom": "pit"}, "b": {"tom": "pit"}, "c": {"ana": "unknown"}}
    matrix, names = label_matrix(current, ["a", "b", "c"], CLASSES)
    assert names == ["ana", "mira", "tom"]
    assert np.isnan(matrix[2]).all()  # unknown label -> missing
    assert matrix[0, 1] == 0 and matrix[0, 2] == 2 and np.isnan(matrix[1, 1])
    votes = majority_vote(matrix, np.array([[0.2, 0.1, 0.7], [0.3, 0.3, 0.4], [1, 0, 0]]))
    assert votes.tolist() == [2, 2, -1]


@pytest.mark.parametrize("column", [0, 1])
def test_annotator_with_no_labels_is_left_out(column):
    truth = np.array([0, 1, 2] * 5)
    matrix = np.stack([truth, truth, truth], 1).astype(float)
    matrix[:, column] = np.nan
    result = annotator_consensus(matrix, _probs(truth), annotators=["a", "b", "c"], classes=CLASSES)
    assert len(result.annotators) == 2
