"""Drift detection on the demo generator: detection rate and false-alarm rate by batch size.

Reference: the demo's 250 labelled photos (5 classes x 50), embedded with the real offline
backbone (tf_efficientnet_lite0). For each shift (none, lighting, blur, new_camera,
defect_rate, unseen_defect) a pool of production images is generated once and embedded
(cached under --workdir); each repeat draws a batch of 10, 30 or 100 images from the
pool without replacement and runs the verdict of ``datacentric drift`` (``check_drift``):
DriftDetector (embeddings), PixelStatsTest (per-image pixel statistics) and class_mix_test
(predicted class mix: a probe trained on the reference embeddings, its out-of-fold
predictions on the reference vs its predictions on the batch; chi-square with a Monte
Carlo p-value), combined as p = min(1, 3 min(p_emb, p_stats, p_mix)) (Bonferroni, each
family at alpha / 3). The "none" row is the false-alarm rate (should sit near or below
alpha); every other row is the detection rate (power). The "emb", "pix" and "mix" columns
show each test alone at alpha. Below the table: the false alarms of the asymptotic
chi-square p-value on the same "none" batches, for comparison with the Monte Carlo one.

    PYTHONPATH=. python benchmarks/bench_drift.py            # ~4-8 min on 2 cores (+2 min the first time: embedding)
    PYTHONPATH=. python benchmarks/bench_drift.py --quick    # fewer repeats, smaller pools
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

SIZES = (10, 30, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller pools")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--method", default="mmd", choices=("mmd", "ks"))
    parser.add_argument("--repeats", type=int, default=None, help="batches per shift and size")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/datacentric-bench-drift"))
    parser.add_argument("--backbone", default="tf_efficientnet_lite0")
    args = parser.parse_args()

    import torch

    from datacentric.demo import SHIFTS, generate_batch, generate_demo
    from datacentric.drift import DriftDetector, PixelStatsTest, class_mix_test, combine_p_values, image_statistics
    from datacentric.data.images import list_images
    from datacentric.model import ProbeClassifier, cross_val_probs, embed

    torch.set_num_threads(2)
    repeats = args.repeats or (10 if args.quick else 25)
    pool_size = 150 if args.quick else 300
    work = args.workdir
    cache = work / "cache"
    start = time.perf_counter()

    demo = work / "demo"
    if not (demo / "photos").is_dir():
        generate_demo(demo, per_class=50, seed=0)
    ref_paths = list_images(demo / "photos")
    classes = sorted({p.parent.name for p in ref_paths})
    y = np.array([classes.index(p.parent.name) for p in ref_paths])
    X_ref = embed(ref_paths, backbone=args.backbone, cache_dir=cache)
    ref_pred = cross_val_probs(X_ref, y, folds=5, seed=0).argmax(axis=1)
    probe = ProbeClassifier(n_classes=len(classes)).fit(X_ref, y)
    detector = DriftDetector(alpha=args.alpha, method=args.method, n_permutations=300, seed=0).fit(X_ref)
    stats_start = time.perf_counter()
    families = 3  # embedding, pixel statistics, class mix: as check_drift
    pixel = PixelStatsTest(alpha=args.alpha / families).fit(image_statistics(ref_paths))
    stats_seconds = time.perf_counter() - stats_start

    pools, pool_stats = {}, {}
    for shift in SHIFTS:
        folder = work / f"pool_{shift}_{pool_size}"
        paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
        if len(paths) != pool_size:
            paths = generate_batch(folder, pool_size, seed=1000 + SHIFTS.index(shift), shift=shift)
        pools[shift] = embed(paths, backbone=args.backbone, cache_dir=cache)
        pool_stats[shift] = image_statistics(paths)
    embed_seconds = time.perf_counter() - start

    rng = np.random.default_rng(0)
    mc_rng = np.random.default_rng(1)  # Monte Carlo seeds apart: the batches drawn stay those of earlier versions
    rows = []
    asymptotic = {size: [0, 0] for size in SIZES}  # "none" batches: asymptotic chi-square p < alpha, < alpha / 3
    test_start = time.perf_counter()
    for shift in SHIFTS:
        X_pool, S_pool = pools[shift], pool_stats[shift]
        words: dict[str, int] = {}
        n_rep = repeats * 4 if shift == "none" else repeats  # tighter false-alarm estimate
        row = {"shift": shift, "repeats": n_rep}
        for size in SIZES:
            hits = emb_hits = pix_hits = mix_hits = 0
            for _ in range(n_rep):
                pick = rng.choice(len(X_pool), size, replace=False)
                batch = X_pool[pick]
                p_emb = detector.score(batch).p_value
                scored = pixel.score(S_pool[pick])
                mix = class_mix_test(
                    ref_pred,
                    probe.predict(batch),
                    classes,
                    alpha=args.alpha / families,
                    seed=int(mc_rng.integers(2**32)),
                )
                p_values = {"pixel": scored.p_value, "mix": mix["p_value"]}
                hits += combine_p_values(p_emb, *p_values.values()) < args.alpha
                emb_hits += p_emb < args.alpha
                pix_hits += scored.p_value < args.alpha
                mix_hits += mix["p_value"] < args.alpha
                if shift == "none":
                    asymptotic[size][0] += mix["p_value_asymptotic"] < args.alpha
                    asymptotic[size][1] += mix["p_value_asymptotic"] < args.alpha / families
                # the first change named, as check_drift: from the family with the smallest p below alpha / 3
                named = {"pixel": scored.changes, "mix": mix["changes"]}
                speaking = sorted(
                    (k for k in named if named[k] and p_values[k] < args.alpha / families), key=lambda k: p_values[k]
                )
                if size == 30 and speaking:
                    first = named[speaking[0]][0]
                    words[first] = words.get(first, 0) + 1
            row[size] = hits / n_rep
            row[f"emb{size}"] = emb_hits / n_rep
            row[f"pix{size}"] = pix_hits / n_rep
            row[f"mix{size}"] = mix_hits / n_rep
        row["words"] = ", ".join(f"{w} {k}/{n_rep}" for w, k in sorted(words.items(), key=lambda kv: -kv[1])[:2])
        rows.append(row)
    test_seconds = time.perf_counter() - test_start

    print(
        f"\ndrift benchmark: {args.method}, alpha {args.alpha}, reference {len(X_ref)} demo photos, "
        f"backbone {args.backbone}, pools of {pool_size}, 300 permutations"
    )
    print(
        "rate of batches flagged (none = false alarms, others = detection): n = the verdict of check_drift "
        "(embedding, pixel\nstatistics and class mix, each at alpha/3); emb / pix / mix = embedding test / pixel "
        "statistics / class mix\n(Monte Carlo chi-square) alone at alpha; words = the first change named at n=30\n"
    )
    groups = [("n=", ""), ("emb", "emb"), ("pix", "pix"), ("mix", "mix")]
    header = (
        f"{'shift':<14}{'reps':>5}" + "".join(f"{g + str(s):>7}" for g, _ in groups for s in SIZES) + "  words (n=30)"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['shift']:<14}{row['repeats']:>5}"
            + "".join(f"{row[k + str(s) if k else s]:>7.2f}" for _, k in groups for s in SIZES)
            + f"  {row['words']}"
        )
    n_none = rows[0]["repeats"] * len(SIZES)
    fa = np.mean([rows[0][s] for s in SIZES])
    print(
        f"\nfalse alarms over all sizes: {fa:.3f} (alpha {args.alpha}; "
        f"± {np.sqrt(args.alpha * (1 - args.alpha) / n_none):.3f}"
        f" one standard error over {n_none} batches)"
    )
    print(
        "class mix, asymptotic chi-square p-value on the same 'none' batches (false alarms; Monte Carlo above): "
        + ", ".join(
            f"n={s} {asymptotic[s][0] / rows[0]['repeats']:.2f} at alpha, "
            f"{asymptotic[s][1] / rows[0]['repeats']:.3f} at alpha/3"
            for s in SIZES
        )
    )
    print(
        f"pixel statistics of the {len(ref_paths)} reference images: {stats_seconds:.1f} s "
        f"({stats_seconds / len(ref_paths) * 1000:.0f} ms per image; check_drift caches them by image hash)"
    )
    print(
        f"time: embedding {embed_seconds:.0f} s (cached after the first run), tests {test_seconds:.0f} s "
        f"({test_seconds / sum(r['repeats'] for r in rows) / len(SIZES):.2f} s per batch)"
    )


if __name__ == "__main__":
    main()
