"""How well does the audit find the demo's deliberately wrong labels? Ours vs the plain recipe.

The demo data set knows the truth (ground_truth.csv: true_label, wrong_label). An image
is *mislabelled* when its training label (the project's consensus of mira, tom and ana)
differs from the true label; ``wrong_label=1`` marks the systematic errors every annotator
made the same way. In one run, on the same embeddings and labels:

* plain  — 5-fold scikit-learn LogisticRegression (defaults) on the embeddings, then
  cleanlab ``find_label_issues`` with its defaults; score = 1 - self-confidence.
* ours-1 — datacentric's probe, one 5-fold pass, our audit (``audit_arrays``: cleanlab
  flags, too-small classes not judged, CROWDLAB consensus of the three annotators).
* ours   — the same with repeated CV (probabilities averaged over 3 fold shuffles, the
  train default for small sets): does stabilising the probabilities help?

Prints flagged count, precision, recall, AUROC of the score, precision among the top-k
(k = number truly mislabelled) and recall on the wrong_label=1 images.

Run:  PYTHONPATH=. python benchmarks/bench_audit.py [--quick] [--data DEMO_DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402


def _metrics(flags: np.ndarray, score: np.ndarray, target: np.ndarray, systematic: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    tp = int((flags & target).sum())
    k = int(target.sum())
    top = np.argsort(-score, kind="stable")[:k]
    return {
        "flagged": int(flags.sum()),
        "precision": tp / max(1, int(flags.sum())),
        "recall": tp / max(1, k),
        "auroc": float(roc_auc_score(target, score)) if 0 < k < len(target) else float("nan"),
        "p@k": float(target[top].mean()) if k else float("nan"),
        "recall_wrong_label": float((flags & systematic).sum() / max(1, systematic.sum())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 images per class instead of 50")
    parser.add_argument("--data", type=Path, help="an existing demo folder (default: generate one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="CV repeats for 'ours'")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from datacentric.audit import audit_arrays, label_matrix
    from datacentric.importers import import_path
    from datacentric.model import cross_val_probs, embed_project
    from datacentric.project import Project

    work = Path(tempfile.mkdtemp(prefix="bench_audit_"))
    data = args.data
    if data is None:
        from datacentric.demo import generate_demo

        data = generate_demo(work / "demo", per_class=20 if args.quick else 50, seed=args.seed).root
    t0 = time.perf_counter()
    proj = Project.init(work / "parts", seed=args.seed)
    import_path(proj, data / "photos", annotator="mira")
    import_path(proj, data / "labels_extra.csv")
    dataset = proj.dataset()
    X = embed_project(proj)
    embed_s = time.perf_counter() - t0
    y, classes = dataset.labels, dataset.classes
    truth_rows = {Path(r["file"]).name: r for r in csv.DictReader(open(data / "ground_truth.csv"))}
    names = [p.name for p in dataset.paths]
    truth = np.array([classes.index(truth_rows[n]["true_label"]) for n in names])
    systematic = np.array([truth_rows[n]["wrong_label"] == "1" for n in names])
    target = y != truth
    matrix, annotators = label_matrix(proj.current_labels(), dataset.ids, classes)

    rows = []
    t = time.perf_counter()
    cv = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    plain = cross_val_predict(LogisticRegression(max_iter=1000), X, y, cv=cv, method="predict_proba")
    flags = find_label_issues(y, plain)
    score = 1 - get_label_quality_scores(y, plain)
    rows.append(("plain: 5-fold LR + cleanlab defaults", float((plain.argmax(1) == y).mean()),
                 _metrics(flags, score, target, systematic), time.perf_counter() - t))

    for repeats in sorted({1, args.repeats}):
        t = time.perf_counter()
        probs = cross_val_probs(X, y, folds=5, seed=args.seed, repeats=repeats)
        result = audit_arrays(y, probs, classes, annotator_labels=matrix, annotators=annotators)
        ordered = sorted(result.label_issues, key=lambda i: i.index)
        flags = np.array([i.is_issue for i in ordered])
        score = 1 - np.array([i.quality for i in ordered])
        rows.append((f"ours: probe x{repeats} + audit (CROWDLAB)", float((probs.argmax(1) == y).mean()),
                     _metrics(flags, score, target, systematic), time.perf_counter() - t))
        if repeats == args.repeats:
            print(f"annotator who disagrees most: {result.most_disagreeing}; "
                  f"weak slices: {[f'{s.column}={s.value}' for s in result.slices if s.weak] or 'none'}; "
                  f"CROWDLAB consensus right on {np.mean([classes.index(c.label) == t for c, t in zip(result.consensus, truth)]):.1%}"
                  f" vs majority vote {np.mean(y == truth):.1%}")

    print(f"\n{len(y)} images, {len(classes)} classes, {int(target.sum())} mislabelled "
          f"({int(systematic.sum())} systematic wrong_label=1); embeddings {embed_s:.0f} s\n")
    header = f"{'method':40s} {'cv acc':>6s} {'flagged':>7s} {'prec':>5s} {'recall':>6s} {'AUROC':>6s} {'P@k':>5s} {'R(wrong_label)':>14s} {'sec':>5s}"
    print(header)
    print("-" * len(header))
    for name, acc, m, sec in rows:
        print(f"{name:40s} {acc:6.2f} {m['flagged']:7d} {m['precision']:5.2f} {m['recall']:6.2f} "
              f"{m['auroc']:6.3f} {m['p@k']:5.2f} {m['recall_wrong_label']:14.2f} {sec:5.0f}")


if __name__ == "__main__":
    sys.exit(main())
