"""Near-duplicates: twins stand out from their neighbourhood; a dense cluster is not a pile of twins."""

from __future__ import annotations

import numpy as np

from datacentric.model.neighbours import find_near_duplicates


def _photos(rng: np.random.Generator, n: int, spread: float, centre: np.ndarray) -> np.ndarray:
    return np.abs(centre + spread * rng.normal(size=(n, len(centre))))


def test_a_twin_pair_is_found_and_a_dense_dark_cluster_is_not():
    rng = np.random.default_rng(0)
    d = 64
    ordinary = _photos(rng, 120, 0.5, np.ones(d))
    # a dark, flat camera: its photos of different parts all embed close together
    dark = _photos(rng, 40, 0.04, np.ones(d) * 0.8 + rng.normal(0, 0.5, d))
    twin = ordinary[7] + 0.002 * rng.normal(size=d)  # the same part photographed twice
    X = np.vstack([ordinary, dark, twin])
    pairs = find_near_duplicates(X, labels=["ok"] * len(X))
    assert [sorted(p.indices) for p in pairs] == [[7, len(X) - 1]]
    assert pairs[0].same_label


def test_duplicates_of_one_another_are_all_reported():
    rng = np.random.default_rng(1)
    X = _photos(rng, 60, 0.5, np.ones(32))
    X = np.vstack([X, X[3] + 1e-4, X[10] + 1e-4])
    found = {tuple(sorted(p.indices)) for p in find_near_duplicates(X)}
    assert found == {(3, 60), (10, 61)}
