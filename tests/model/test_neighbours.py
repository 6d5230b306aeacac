import numpy as np

from datacentric.audit import find_near_duplicates, find_outliers
from datacentric.model.neighbours import nearest


def _cloud(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12))
    x[:, 0] += 6
    return x


def test_far_image_is_an_outlier():
    x = _cloud()
    x[9] = -x[9] * 4
    outliers = find_outliers(x)
    assert outliers[0].index == 9 and outliers[0].is_outlier
    assert sum(o.is_outlier for o in outliers) <= 3


def test_near_duplicates_and_fold_leak():
    x = _cloud()
    x[5] = x[4] + 1e-5
    x[20] = x[30] * 1.0001  # same direction: cosine distance ~0
    labels = ["a"] * 60
    labels[30] = "b"
    folds = np.arange(60) % 5
    pairs = find_near_duplicates(x, labels=labels, folds=folds)
    found = {tuple(p.indices): p for p in pairs}
    assert set(found) == {(4, 5), (20, 30)}
    assert found[(4, 5)].leaks_across_folds is True and found[(4, 5)].same_label
    assert found[(20, 30)].same_label is False
    assert find_near_duplicates(x, folds=None)[0].leaks_across_folds is None


def test_nearest_respects_candidates():
    x = _cloud()
    mask = np.zeros(60, bool)
    mask[[1, 2, 3]] = True
    picks = nearest(x, 0, mask, k=2)
    assert len(picks) == 2 and set(picks) <= {1, 2, 3}
