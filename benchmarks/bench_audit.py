"""How well does the audit find the demo's deliberately wrong labels? Ours vs the plain recipe.

The demo data set knows the truth (ground_truth.csv: true_label, wrong_label). An image
is *mislabelled* when its training label (the project's consensus of mira, tom and ana)
differs from the true label; ``wrong_label=1`` marks the systematic errors every annotator
made the same way. In one run, on the same embeddings and labels:

* plain  — 5-fold scikit-learn LogisticRegression (defaults) on the embeddings, then
  cleanlab ``find_label_issues`` with its defaults; score = 1 - self-confidence.
* ours-1 — datacentric's probe, one 5-fold pass, our audit (``audit_arrays``: cleanlab
  flags of the worst-scored images, too-small classes not judged, CROWDLAB consensus of
  the three annotators).
* ours   — the same with repeated CV (probabilities averaged over 3 fold shuffles, the
  train default for small sets): does stabilising the probabilities help?
* "plain LR + low_self_confidence" — reference only: the plain probabilities under our
  flag rule, so the probe's own share of the difference shows.
* "(prune_by_noise_rate)" rows — our audit with cleanlab's default flag rule, as before:
  shows what the flag rule alone changes.

Prints flagged count, precision, recall, AUROC of the score, precision among the top-k
(k = number truly mislabelled) and recall on the wrong_label=1 images; with several
seeds, each seed's table and then the mean ± standard deviation over seeds.

Run:  PYTHONPATH=. python benchmarks/bench_audit.py [--quick] [--data DEMO_DIR] [--seeds 0 1 2]
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
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    # one BLAS thread: the small LR fits were ~50x slower with threads fighting a busy machine
    os.environ.setdefault(_var, "1")
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


METRICS = ("flagged", "precision", "recall", "auroc", "p@k", "recall_wrong_label")
Forecast = tuple[float, float, bool]  # the audit's predicted and the observed precision, range held


def _run_seed(
    seed: int, data: Path | None, quick: bool, repeats: int
) -> tuple[list[tuple[str, float, dict, float]], Forecast]:
    """Every method's (name, cv accuracy, metrics, seconds) on one demo data set, and the
    forecast of the default audit's flags."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from datacentric.audit import audit_arrays, label_matrix
    from datacentric.data.importers import import_path
    from datacentric.model import cross_val_probs, embed_project
    from datacentric.project import Project

    work = Path(tempfile.mkdtemp(prefix="bench_audit_"))
    if data is None:
        from datacentric.demo import generate_demo

        data = generate_demo(work / "demo", per_class=20 if quick else 50, seed=seed).root
    t0 = time.perf_counter()
    proj = Project.init(work / "parts", seed=seed)
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
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    plain = cross_val_predict(LogisticRegression(max_iter=1000), X, y, cv=cv, method="predict_proba")
    flags = find_label_issues(y, plain)
    score = 1 - get_label_quality_scores(y, plain)
    rows.append(
        (
            "plain: 5-fold LR + cleanlab defaults",
            float((plain.argmax(1) == y).mean()),
            _metrics(flags, score, target, systematic),
            time.perf_counter() - t,
        )
    )
    # reference only: the plain probabilities under our flag rule (what the probe adds on its own)
    flags = find_label_issues(y, plain, filter_by="low_self_confidence")
    rows.append(
        (
            "plain LR + low_self_confidence (reference)",
            float((plain.argmax(1) == y).mean()),
            _metrics(flags, score, target, systematic),
            time.perf_counter() - t,
        )
    )

    for repeats_now in sorted({1, repeats}):
        t = time.perf_counter()
        probs = cross_val_probs(X, y, folds=5, seed=seed, repeats=repeats_now)
        probe_s = time.perf_counter() - t
        for filter_by in ("prune_by_noise_rate", None):
            t = time.perf_counter()
            result = audit_arrays(
                y,
                probs,
                classes,
                annotator_labels=matrix,
                annotators=annotators,
                metadata=dataset.metadata,
                filter_by=filter_by,
            )
            ordered = sorted(result.label_issues, key=lambda i: i.index)
            flags = np.array([i.is_issue for i in ordered])
            score = 1 - np.array([i.quality for i in ordered])
            name = f"ours: probe x{repeats_now} + audit" + (f" ({filter_by})" if filter_by else "")
            rows.append(
                (
                    name,
                    float((probs.argmax(1) == y).mean()),
                    _metrics(flags, score, target, systematic),
                    probe_s + time.perf_counter() - t,
                )
            )
        if repeats_now == repeats:
            trust = result.trust
            real = int((flags & target).sum())
            forecast = (trust.precision, real / max(1, trust.flags), trust.low <= real <= trust.high)
            print(
                f"seed {seed}: the audit's forecast: {trust.expected:.1f} of its {trust.flags} flags are real "
                f"errors (90% range {trust.low}-{trust.high}); {real} are"
            )
            print(
                f"seed {seed}: annotator who disagrees most: {result.most_disagreeing}; "
                f"weak slices: {[f'{s.column}={s.value}' for s in result.slices if s.weak] or 'none'}; "
                "CROWDLAB consensus right on "
                f"{np.mean([classes.index(c.label) == t for c, t in zip(result.consensus, truth)]):.1%}"
                f" vs majority vote {np.mean(y == truth):.1%}"
            )
    print(
        f"seed {seed}: {len(y)} images, {len(classes)} classes, {int(target.sum())} mislabelled "
        f"({int(systematic.sum())} systematic wrong_label=1); embeddings {embed_s:.0f} s"
    )
    return rows, forecast


def _print_table(rows: list[tuple[str, float, dict, float]]) -> None:
    header = (
        f"{'method':48s} {'cv acc':>6s} {'flagged':>7s} {'prec':>5s} {'recall':>6s} {'AUROC':>6s} "
        f"{'P@k':>5s} {'R(wrong_label)':>14s} {'sec':>5s}"
    )
    print(header)
    print("-" * len(header))
    for name, acc, m, sec in rows:
        print(
            f"{name:48s} {acc:6.2f} {m['flagged']:7d} {m['precision']:5.2f} {m['recall']:6.2f} "
            f"{m['auroc']:6.3f} {m['p@k']:5.2f} {m['recall_wrong_label']:14.2f} {sec:5.0f}"
        )


def _print_mean(per_seed: list[list[tuple[str, float, dict, float]]]) -> None:
    """Mean ± standard deviation over seeds of every method's metrics."""
    print(f"\nmean ± sd over {len(per_seed)} seeds")
    header = (
        f"{'method':48s} {'cv acc':>11s} {'flagged':>11s} {'prec':>11s} {'recall':>11s} {'AUROC':>11s} "
        f"{'P@k':>11s} {'R(wrong_label)':>14s}"
    )
    print(header)
    print("-" * len(header))
    for j, (name, *_) in enumerate(per_seed[0]):
        acc = np.array([rows[j][1] for rows in per_seed])
        cells = [f"{acc.mean():5.2f}±{acc.std():4.2f}"]
        for key in METRICS:
            v = np.array([rows[j][2][key] for rows in per_seed], dtype=float)
            fmt = "5.1f" if key == "flagged" else "5.3f" if key == "auroc" else "5.2f"
            cells.append(f"{v.mean():{fmt}}±{v.std():{'4.1f' if key == 'flagged' else '4.2f'}}")
        print(f"{name:48s} " + " ".join(f"{c:>11s}" for c in cells[:-1]) + f" {cells[-1]:>14s}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 images per class instead of 50")
    parser.add_argument("--data", type=Path, help="an existing demo folder (default: generate one per seed)")
    parser.add_argument("--seed", type=int, help="one demo seed (same as --seeds S)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="demo seeds; several print the mean")
    parser.add_argument("--repeats", type=int, default=3, help="CV repeats for 'ours'")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else args.seeds
    if args.data is not None and len(seeds) > 1:
        parser.error("--data is one demo folder: give one seed")

    import torch

    torch.set_num_threads(2)
    per_seed, forecasts = [], []
    for seed in seeds:
        rows, forecast = _run_seed(seed, args.data, args.quick, args.repeats)
        forecasts.append(forecast)
        print()
        _print_table(rows)
        print()
        per_seed.append(rows)
    if len(per_seed) > 1:
        _print_mean(per_seed)
    if forecasts:
        pred, obs, held = (np.array(v, dtype=float) for v in zip(*forecasts))
        print(
            f"\nthe audit's forecast of its flags' precision (ours, default rule): predicted {pred.mean():.2f} "
            f"vs observed {obs.mean():.2f} over {len(pred)} seed(s); the 90% range held the count on "
            f"{int(held.sum())} of {len(held)}"
        )


if __name__ == "__main__":
    sys.exit(main())
