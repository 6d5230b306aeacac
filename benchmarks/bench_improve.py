"""Benchmark: does targeted data lift a starved class? Recall before/after each fix, over seeds.

Builds the demo data set (``datacentric.demo.generate_demo``; a small built-in
stand-in if the demo module is absent), keeps only ``--starve`` images of the
target class, embeds with the project's real backbone, and runs the lift
experiment for every candidate fix (augmentation recipes, every registered
generator; the first-party procedural plugin is made importable from
``plugins/`` if not installed). Nothing is added to the project.

    PYTHONPATH=. python benchmarks/bench_improve.py            # ~3-5 min on 2 cores
    PYTHONPATH=. python benchmarks/bench_improve.py --quick    # fewer images and seeds
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _standin_demo(out: Path, per_class: int, seed: int) -> Path:
    """Grey machined-surface textures with drawn defects, photos/<label>/*.png."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    for label in ("ok", "scratch", "pit", "dent", "discoloration"):
        (out / "photos" / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = rng.normal(135, 16, (96, 96)).clip(0, 255).astype(np.uint8)
            img = Image.fromarray(base).filter(ImageFilter.GaussianBlur(1.2)).convert("RGB")
            d = ImageDraw.Draw(img)
            x, y = rng.integers(20, 76, 2)
            if label == "scratch":
                d.line(
                    [(x - 25, y - rng.integers(-15, 15)), (x + 25, y + rng.integers(-15, 15))], fill=(70,) * 3, width=1
                )
            elif label == "pit":
                r = rng.integers(1, 3)
                d.ellipse([x - r, y - r, x + r, y + r], fill=(105,) * 3)
            elif label == "dent":
                r = rng.integers(8, 14)
                d.ellipse([x - r, y - r, x + r, y + r], outline=(175,) * 3, width=2)
            elif label == "discoloration":
                r = rng.integers(10, 18)
                d.ellipse([x - r, y - r, x + r, y + r], fill=(150, 120, 80))
            img.filter(ImageFilter.GaussianBlur(0.6)).save(out / "photos" / label / f"{label}_{i:03d}.png")
    return out / "photos"


def build(work: Path, per_class: int, starve: int, target: str, seed: int):
    from datacentric.data.importers import import_folder
    from datacentric.project import Project

    try:
        from datacentric.demo import generate_demo

        demo = generate_demo(work / "demo", per_class=per_class, seed=seed)
        photos = Path(demo.photos_dir)
        source = "datacentric.demo"
    except ImportError:
        photos = _standin_demo(work / "demo", per_class, seed)
        source = "built-in stand-in (datacentric.demo not available)"
    files = sorted((photos / target).iterdir())
    for extra in files[starve:]:
        extra.unlink()
    proj = Project.init(work / "parts", seed=seed)
    import_folder(proj, photos, annotator="mira")
    return proj, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 images per class, 3 seeds, budget 30")
    parser.add_argument("--target", default="pit")
    parser.add_argument("--starve", type=int, default=8, help="images kept of the target class")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget, args.per_class = 3, 30, 20
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass
    try:
        import datacentric_procedural  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT / "plugins" / "datacentric-procedural" / "src"))
        from datacentric import plugins

        from datacentric_procedural import register_generators

        plugins.load_plugins()
        register_generators(lambda obj, name=None: plugins.register("generator", obj, name=name))
    from datacentric.improve import improve_project

    work = Path(tempfile.mkdtemp(prefix="bench-improve-"))
    try:
        start = time.perf_counter()
        proj, source = build(work, args.per_class, args.starve, args.target, seed=0)
        counts = {c: int((proj.dataset().labels == k).sum()) for k, c in enumerate(proj.classes())}
        result = improve_project(proj, classes=[args.target], budget=args.budget, seeds=args.seeds, materialise=False)
        seconds = time.perf_counter() - start
        t = args.target
        print(f"data: {source}; images per class {counts}; backbone {proj.config.backbone}")
        print(
            f"{args.seeds} seeds x {proj.config.folds} folds, {args.budget} images per fix, "
            f"metrics on real held-out images only\n"
        )
        print(f"{'fix':<34} {t + ' recall before':>20} {'after':>14} {'gain':>8} {'noise':>6} {'accuracy':>16}  kept")
        for f in result.fixes:
            print(
                f"{f.name:<34} {f.before.recall[t]:>13.3f} ± {f.before.recall_std[t]:.3f} "
                f"{f.after.recall[t]:>7.3f} ± {f.after.recall_std[t]:.3f} {f.gain[t]:>+8.3f} {f.noise[t]:>6.3f} "
                f"{f.before.accuracy:>7.3f} → {f.after.accuracy:.3f}  {'yes' if f.kept else 'no'}"
            )
            print(f"{'':<34} {f.reason}")
        curve = result.curves.get(t)
        if curve:
            points = ", ".join(f"{n}: {r:.2f}" for n, r in zip(curve.counts, curve.recall))
            print(f"\nlearning curve ({t} images: recall) {points}; +{curve.b:.3f} per doubling")
        print(f"advice: {result.advice}")
        print(f"total {seconds:.0f} s")
        proj.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
