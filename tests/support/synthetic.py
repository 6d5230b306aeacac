"""Arrays with planted label errors and a weak slice, for the audit's unit tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ["ok", "scratch", "pit"]


@dataclass
class Synthetic:
    labels: np.ndarray  # given labels (with planted errors)
    truth: np.ndarray
    probs: np.ndarray  # out-of-sample-like probabilities, confident in the truth
    embeddings: np.ndarray
    metadata: list[dict]
    wrong: np.ndarray  # indices of planted wrong labels
    classes: list[str]


def make_synthetic(n_per_class: int = 30, seed: int = 0, n_wrong: int = 6) -> Synthetic:
    """Clustered embeddings; probabilities from distance to class centres; a few flipped labels;
    camera B predictions made worse (a weak slice)."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    truth = np.repeat(np.arange(k), n_per_class)
    centres = rng.normal(size=(k, 16)) * 4
    emb = centres[truth] + rng.normal(size=(len(truth), 16))
    logits = -((emb[:, None, :] - centres[None]) ** 2).sum(-1) / 8
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    camera = np.where(rng.random(len(truth)) < 0.3, "B", "A")
    # camera B: the model is often wrong there
    bad = np.flatnonzero((camera == "B") & (rng.random(len(truth)) < 0.5))
    for i in bad:
        probs[i] = np.roll(probs[i], 1) * 0.6 + 0.4 / k
    labels = truth.copy()
    wrong = rng.choice(np.flatnonzero(camera == "A"), size=n_wrong, replace=False)
    labels[wrong] = (truth[wrong] + 1) % k
    metadata = [{"camera": str(c), "line": "1"} for c in camera]
    return Synthetic(labels, truth, probs, emb.astype(np.float32), metadata, np.sort(wrong), list(CLASSES))
