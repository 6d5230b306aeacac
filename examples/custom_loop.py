"""Use datacentric's model API inside your own loop, on the built-in demo data.

Cached embeddings from the offline backbone, fold plans you can reuse with any
scikit-learn model, out-of-sample probabilities, and cleanlab on top — plain
arrays in and out. Run:  python examples/custom_loop.py [out_dir]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from datacentric.demo import generate_demo
from datacentric.model import ProbeClassifier, cross_val_probs, embed, plan_folds


def main(out: Path) -> None:
    demo = generate_demo(out / "demo", per_class=20, seed=0, overwrite=True)
    paths = sorted(demo.photos_dir.rglob("*.png"))
    classes = sorted({p.parent.name for p in paths})
    y = np.array([classes.index(p.parent.name) for p in paths])  # mira's labels

    # 1. embeddings: computed once, cached per (image hash, backbone, preprocessing)
    X = embed(paths, cache_dir=out / "cache")  # (N, 1280) float32
    print(f"{len(paths)} images, {len(classes)} classes, embeddings {X.shape}")

    # 2. out-of-sample probabilities from the built-in linear probe (3 repeats of 5-fold)
    probs = cross_val_probs(X, y, folds=5, seed=0, repeats=3)
    print(f"probe: out-of-sample accuracy {(probs.argmax(1) == y).mean():.3f}")

    # 3. the same folds with your own model: any scikit-learn classifier fits in
    plan = plan_folds(y, folds=5, seed=0)
    knn_probs = np.zeros_like(probs)
    for train_idx, val_idx in plan.splits(0):
        knn = make_pipeline(Normalizer(), KNeighborsClassifier(n_neighbors=5, weights="distance"))
        knn.fit(X[train_idx], y[train_idx])
        knn_probs[np.ix_(val_idx, knn.classes_)] = knn.predict_proba(X[val_idx])  # columns = knn.classes_
    print(f"kNN on the same folds: accuracy {(knn_probs.argmax(1) == y).mean():.3f}")

    # 4. label issues with cleanlab from the probe's out-of-sample probabilities
    from cleanlab.filter import find_label_issues

    issues = find_label_issues(y, probs, return_indices_ranked_by="self_confidence")
    wrong = {p.name for p in demo.wrong_files}
    hits = sum(paths[i].name in wrong for i in issues)
    print(f"cleanlab flags {len(issues)} images; {hits} of them are among the {len(wrong)} known wrong labels")
    for i in issues[:5]:
        print(
            f"  {paths[i].parent.name}/{paths[i].name}: given {classes[y[i]]}, "
            f"model says {classes[probs[i].argmax()]} ({probs[i].max():.2f})"
        )

    # 5. a final probe on everything: one linear map you can use (or copy into a torch head)
    probe = ProbeClassifier(n_classes=len(classes)).fit(X, y)
    print(f"final probe: weight {probe.weight_.shape}, bias {probe.bias_.shape}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
