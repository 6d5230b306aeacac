"""The demo's three annotators: who labels which images, and who mistakes what for what."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ANNOTATORS", "CONFUSIONS", "Annotations", "annotate"]

ANNOTATORS = ("mira", "tom", "ana")

# Who mistakes what for what: a row gives the odds of each wrong label for a true label.
CONFUSIONS: dict[str, dict[str, float]] = {
    "ok": {"dent": 0.35, "discoloration": 0.35, "pit": 0.15, "scratch": 0.15},
    "scratch": {"pit": 0.5, "ok": 0.3, "dent": 0.1, "discoloration": 0.1},
    "dent": {"ok": 0.6, "pit": 0.2, "scratch": 0.1, "discoloration": 0.1},
    "pit": {"scratch": 0.5, "dent": 0.25, "ok": 0.15, "discoloration": 0.1},
    "discoloration": {"ok": 0.6, "dent": 0.2, "pit": 0.1, "scratch": 0.1},
}


@dataclass
class Annotations:
    """Every annotator's labels: ``given[a][i]`` counts where ``labelled[a][i]``; ``wrong``
    marks the images all annotators label with the same wrong class.
    """

    truth: np.ndarray
    given: dict[str, np.ndarray]
    labelled: dict[str, np.ndarray]
    wrong: np.ndarray


def annotate(
    rng: np.random.Generator, truth: np.ndarray, difficulty: np.ndarray, rates: list[float], share_wrong: float
) -> Annotations:
    """Label every image as the three annotators would: shared wrong labels, then each one's slips."""
    n = len(truth)
    given = {a: truth.copy() for a in ANNOTATORS}
    ana_labelled = np.zeros(n, dtype=bool)
    ana_labelled[rng.permutation(n)[: (n + 1) // 2]] = True
    labelled = {"mira": np.ones(n, bool), "tom": np.ones(n, bool), "ana": ana_labelled}

    wrong = np.zeros(n, dtype=bool)
    for i in _pick(rng, np.arange(n), difficulty, int(round(share_wrong * n))):
        wrong[i] = True
        shared = _confuse(rng, truth[i])
        for a in ANNOTATORS:
            given[a][i] = shared
    slips: list[set[str]] = [set() for _ in range(n)]  # independent wrong labels per image
    for a, rate in zip(ANNOTATORS, rates):
        candidates = np.flatnonzero(labelled[a] & ~wrong)
        # prefer images nobody else got wrong, so a majority vote can still fix these; where two
        # annotators slip on one image they pick different labels, so only the flagged images
        # have every annotator agree on a wrong label
        weights = difficulty[candidates] * np.array([0.02 if slips[i] else 1.0 for i in candidates])
        for i in _pick(rng, candidates, weights, int(round(rate * len(candidates)))):
            given[a][i] = _confuse(rng, truth[i], frozenset(slips[i]))
            slips[i].add(given[a][i])
    return Annotations(truth=truth, given=given, labelled=labelled, wrong=wrong)


def _confuse(rng: np.random.Generator, label: str, exclude: frozenset[str] = frozenset()) -> str:
    row = CONFUSIONS[label]
    names = sorted(n for n in row if n not in exclude)
    odds = np.array([row[n] for n in names])
    return names[int(rng.choice(len(names), p=odds / odds.sum()))]


def _pick(rng: np.random.Generator, candidates: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(candidates))
    if k <= 0:
        return np.array([], dtype=int)
    return rng.choice(candidates, size=k, replace=False, p=weights / weights.sum())
