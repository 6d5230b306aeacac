"""Where a user waits: cached re-audit, CLI start-up, probe training, the demo by step, embeddings.

Prints one table. Every figure comes from this one run. With ``--baseline DIR`` (another
checkout, e.g. the main branch before a change) every timed command also runs against that
tree's code, interleaved with ours, so the before/after columns share the machine's state.
CPU-seconds (user + system of the measured process and its children) are the figure to
trust on a shared machine; wall time swings with other people's jobs and is shown beside it.

Rows:

* ``audit`` again with everything cached, on N generated images (5 classes, 48 px, a random
  ``tf_efficientnet_lite0`` at 64 px: the real 1280-d embedding geometry without the cost of
  pretrained weights), with the child's peak memory;
* CLI start-up: ``datacentric --help``, ``status``, ``history`` against ``python -c pass``;
* ``train`` (probe) with cached embeddings, 250 images;
* ``datacentric demo`` (real backbone), wall and CPU by step;
* embedding throughput: ``embed`` from files at batch 32 (through ONNX Runtime, the default)
  against the best plain torch forward on random tensors (NCHW or channels-last at batch 8,
  16 or 32, whichever is fastest here) and against the same ONNX Runtime session on random
  tensors, interleaved.

Usage::

    PYTHONPATH=. python benchmarks/bench_speed.py                 # everything (~30+ min on 2 cores)
    PYTHONPATH=. python benchmarks/bench_speed.py --quick         # 250 / 1,000 images, no demo
    PYTHONPATH=. python benchmarks/bench_speed.py --baseline ../main --sizes 250 1000 4000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402  (after the sys.path line above)

BACKBONE = "tf_efficientnet_lite0@random"
GNU_TIME = "/usr/bin/time"  # GNU time, for the peak memory of a child (see run_child)
CLASSES = ["ok", "scratch", "dent", "pit", "discoloration"]


@dataclass
class Usage:
    """What one child process used."""

    wall: float  # seconds
    cpu: float  # user + system seconds, the child and the processes it waited for
    peak_mb: float  # largest resident set


def run_child(args: list[str], tree: Path) -> tuple[Usage, str]:
    """Run ``python args`` with ``tree`` first on the path; its usage and stdout.

    The child starts in an empty folder: ``python -m`` puts the working directory before
    ``PYTHONPATH``, which would pick whichever checkout the benchmark was started from.
    The peak comes from GNU time (``/usr/bin/time -f %M``), which starts the child itself:
    the ``ru_maxrss`` that ``wait4`` reports for a child started from this (large) process
    also counts the memory it shared with this process before ``exec``.
    Bytecode is written and used as on a user's machine (see :func:`compile_tree`), even
    where the shell sets ``PYTHONDONTWRITEBYTECODE``.
    """
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cwd = Path(tempfile.gettempdir()) / "bench-speed-cwd"
    cwd.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("w+", suffix=".peak") as peak,
    ):
        start = time.perf_counter()
        command = [GNU_TIME, "-f", "%M", "-o", peak.name, sys.executable, *args]
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, rusage = os.wait4(proc.pid, 0)  # CPU of the child and the processes it waited for
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{err.read()[-2000:]}")
        peak_mb = int(Path(peak.name).read_text().split()[-1]) / 1024  # GNU time prints KiB
        return Usage(wall, rusage.ru_utime + rusage.ru_stime, peak_mb), out.read()


def compile_tree(tree: Path) -> None:
    """Write the tree's bytecode before anything is timed.

    A user's install has it (pip compiles at install, an editable install on first run);
    without it every command compiled our ~25 imported modules from source, about 0.04
    CPU-s of each store-only command's 0.26-0.32 in earlier rounds.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "datacentric")], check=True)


def run_cli(args: list[str], tree: Path) -> Usage:
    """One ``datacentric ...`` command, as a user runs it."""
    return run_child(["-m", "datacentric", *args], tree)[0]


# -- generated projects ---------------------------------------------------------------------------
def make_project(work: Path, n: int, seed: int = 0) -> Path:
    """A project of ``n`` generated 48 px photos in 5 classes, trained (probe), audited once."""
    from PIL import Image

    from datacentric.data.importers import import_path
    from datacentric.model import train
    from datacentric.project import Project

    root = work / f"audit-{n}"
    if (root / "project" / ".ready").exists():
        return root / "project"
    rng = np.random.default_rng(seed)
    photos = root / "photos"
    for i in range(n):
        c = i % len(CLASSES)
        label = CLASSES[c] if rng.random() > 0.05 else CLASSES[(c + 1) % len(CLASSES)]
        pixels = rng.normal(90 + 25 * c, 30, (48, 48, 3))
        pixels[:, :, c % 3] += 30 * np.sin(np.arange(48) / (1.5 + c))[None, :]
        (photos / label).mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        image.save(photos / label / f"{i:05d}.png")
    with Project.init(root / "project", backbone=BACKBONE, seed=0) as proj:
        proj.config.image_size = 64
        proj.save_config()
        import_path(proj, photos, annotator="mira")
        train(proj)
    run_cli(["audit", str(root / "project")], ROOT)  # the first audit fills every cache
    (root / "project" / ".ready").touch()
    return root / "project"


# -- measurements ---------------------------------------------------------------------------------
def interleaved(trees: dict[str, Path], args: list[str], repeats: int) -> dict[str, list[Usage]]:
    """Run ``datacentric args`` ``repeats`` times per tree, alternating trees."""
    out: dict[str, list[Usage]] = {name: [] for name in trees}
    for _ in range(repeats):
        for name, tree in trees.items():
            out[name].append(run_cli(args, tree))
    return out


def median(usages: list[Usage]) -> Usage:
    """The median of each figure over repeated runs."""
    return Usage(
        statistics.median(u.wall for u in usages),
        statistics.median(u.cpu for u in usages),
        max(u.peak_mb for u in usages),
    )


def python_pass(repeats: int) -> Usage:
    """``python -c pass``: the floor every command stands on."""
    return median([run_child(["-c", "pass"], ROOT)[0] for _ in range(repeats)])


_DEMO = textwrap.dedent("""
    import json, resource, sys, time
    from datacentric.cli import app
    from datacentric.cli import demo as demo_cli
    steps, run = [], demo_cli._run
    def usage():  # CPU of this process and its finished children; the largest child's peak
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        status = open("/proc/self/status").read()
        own_peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
        cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        return cpu, max(own_peak, kids.ru_maxrss / 1024)
    def timed(args, root):
        wall, (cpu, _) = time.perf_counter(), usage()
        ok = run(args, root)
        cpu_after, peak = usage()
        steps.append([" ".join(a for a in args if not a.startswith("/")),
                      time.perf_counter() - wall, cpu_after - cpu, peak])
        return ok
    demo_cli._run = timed
    wall, (cpu, _) = time.perf_counter(), usage()
    app(["demo", sys.argv[1]], standalone_mode=False)
    cpu_after, peak = usage()
    steps.append(["total", time.perf_counter() - wall, cpu_after - cpu, peak])
    print("STEPS" + json.dumps(steps))
""")


def demo_steps(tree: Path, work: Path) -> tuple[list[tuple[str, float, float, float]], Usage]:
    """Run ``datacentric demo`` from ``tree``: (step, wall, CPU, peak MB so far) per step, and
    the whole run's usage. The peak is the largest process's: the demo itself or one step
    (each step runs in its own process; a checkout from before ran them all in one)."""
    out_dir = work / f"demo-{abs(hash(str(tree))) % 10_000}"
    usage, out = run_child(["-c", _DEMO, str(out_dir)], tree)
    line = next(li for li in out.splitlines()[::-1] if li.startswith("STEPS"))
    return [tuple(s) for s in json.loads(line[5:])], usage


def throughput(paths: list[Path], repeats: int) -> list[tuple[str, str]]:
    """Images per second and CPU-ms per image, best and spread over ``repeats`` interleaved
    rounds: plain torch forwards at batch 8, 16 and 32 and ONNX Runtime on random tensors,
    ``embed`` from files through ONNX Runtime (the default) and through torch, at batch 32."""
    import torch

    from datacentric.model import embed
    from datacentric.model.backbone import data_config
    from datacentric.model.embeddings import embedding_key, feature_model, runtime_model

    batch, name = 32, "tf_efficientnet_lite0"
    model = feature_model(name, pretrained=False)
    config = data_config(model)
    n_images = max(batch, len(paths) // batch * batch)
    session = runtime_model(model, name, config, None, "onnxruntime")  # the session embed() runs
    assert embedding_key(name, model, config, "onnxruntime") != embedding_key(name, model, config, "torch")

    def torch_forward(memory_format, size):
        xx = torch.randn(size, *config["input_size"]).contiguous(memory_format=memory_format)

        def go():
            model.to(memory_format=memory_format)
            with torch.inference_mode():
                for _ in range(n_images // size):
                    model(xx)
            return n_images // size * size

        return go

    def onnx_forward():
        xn = torch.randn(batch, *config["input_size"]).numpy()
        for _ in range(n_images // batch):
            session(xn)
        return n_images // batch * batch

    def from_files(runtime):
        return lambda: len(embed(paths, backbone=name, pretrained=False, batch_size=batch, runtime=runtime))

    torch_cases = {
        f"torch forward, {layout}, batch {size}, random tensors": torch_forward(memory_format, size)
        for layout, memory_format in (("NCHW", torch.contiguous_format), ("channels-last", torch.channels_last))
        for size in (4, 8, 16, 32)
    }
    cases = {
        **torch_cases,
        "ONNX Runtime fp32 forward, random tensors": onnx_forward,
        "embed() from files, ONNX Runtime (default)": from_files("onnxruntime"),
        "embed() from files, torch runtime": from_files("torch"),
    }
    rates: dict[str, list[float]] = {k: [] for k in cases}
    cpu_ms: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():
        fn()  # warm-up (and the one ONNX export)
    for _ in range(repeats):  # interleaved, so every case sees the same machine
        for what, fn in cases.items():
            wall, cpu = time.perf_counter(), time.process_time()
            n = fn()
            rates[what].append(n / (time.perf_counter() - wall))
            cpu_ms[what].append((time.process_time() - cpu) / n * 1000)
    model.to(memory_format=torch.channels_last)  # as feature_model() hands it out
    rows = [
        (what, f"{max(r):7.2f} img/s (min {min(r):.2f}), {statistics.median(cpu_ms[what]):5.1f} CPU-ms/img")
        for what, r in rates.items()
    ]
    best = {what: max(r) for what, r in rates.items()}
    plain = max(best[what] for what in torch_cases)
    onnx = best["ONNX Runtime fp32 forward, random tensors"]
    files = best["embed() from files, ONNX Runtime (default)"]
    return rows + [
        ("= embed (ONNX Runtime) / best plain torch forward", f"{files / plain:7.2f}x"),
        ("= embed (ONNX Runtime) / ONNX Runtime forward", f"{files / onnx:7.2f}x"),
        ("= ONNX Runtime / best plain torch forward", f"{onnx / plain:7.2f}x"),
        ("= embed (torch) / best plain torch forward", f"{best['embed() from files, torch runtime'] / plain:7.2f}x"),
        (
            "= embed (ONNX Runtime) / embed (torch), same pipeline",
            f"{files / best['embed() from files, torch runtime']:7.2f}x",
        ),
    ]


# -- the table ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000, 10000])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timed command (median)")
    parser.add_argument("--work", type=Path, help="keep generated projects here between runs")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--quick", action="store_true", help="250, 1,000 images, no demo")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.skip_demo, args.repeats = [250, 1000], True, 2
    trees = {"ours": ROOT}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    for tree in trees.values():
        compile_tree(tree)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []

    def add(what: str, per_tree: dict[str, Usage], *, memory: bool = False, note: str = "") -> None:
        cells = [what]
        for name in trees:
            u = per_tree.get(name)
            mem = f", {u.peak_mb / 1024:.2f} GB" if (u and memory) else ""
            cells.append("—" if u is None else f"{u.wall:.2f} s wall, {u.cpu:.2f} CPU-s{mem}")
        rows.append(cells + [note])

    for n in args.sizes:
        project = make_project(work, n)
        interleaved(trees, ["audit", str(project)], 1)  # fill each tree's caches: keys differ by runtime
        runs = interleaved(trees, ["audit", str(project)], args.repeats)
        cpu_per_k = {name: median(u).cpu / n * 1000 for name, u in runs.items()}
        add(
            f"audit again, all cached, {n:,} images",
            {k: median(v) for k, v in runs.items()},
            memory=True,
            note="CPU-s per 1,000 images: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu_per_k.items()),
        )

    small = make_project(work, 250)
    floor = python_pass(5)
    add("python -c pass", {name: floor for name in trees})
    for command in (["--help"], ["status", str(small)], ["history", str(small)]):
        runs = {k: median(v) for k, v in interleaved(trees, command, 5).items()}
        add(
            f"datacentric {command[0]}",
            runs,
            note=", ".join(f"{k} {u.cpu / max(floor.cpu, 1e-3):.0f}x python" for k, u in runs.items()),
        )
    trained = interleaved(trees, ["train", str(small)], args.repeats)
    runs = {k: median(v) for k, v in trained.items()}
    add("train (probe), cached embeddings, 250 images", runs)

    if not args.skip_demo:
        steps: dict[str, dict[str, Usage]] = {}
        for name, tree in trees.items():
            measured, _ = demo_steps(tree, work)
            seen: dict[str, int] = {}
            for step, wall, cpu, peak_mb in measured:
                seen[step] = seen.get(step, 0) + 1  # a step run twice (audit) gets a row per run
                label = step if seen[step] == 1 else f"{step} ({seen[step]})"
                steps.setdefault(label, {})[name] = Usage(wall, cpu, peak_mb)
        for step, per_tree in steps.items():
            add(
                "demo: total" if step == "total" else f"demo: {step}",
                per_tree,
                memory=True,
                note="memory: the largest process's peak so far (the demo or one step)" if step == "init" else "",
            )

    print(
        f"\nbench_speed: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the "
        "end; "
        f"medians of {args.repeats} (start-up: 5) interleaved runs\n"
    )
    header = ["what", *trees, "note"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))

    if not args.skip_throughput:
        paths = sorted((work / "audit-250" / "photos").rglob("*.png"))[:128]
        print("\nembedding throughput (ours only; tf_efficientnet_lite0, random weights, 224 px)")
        for what, value in throughput(paths, args.repeats):
            print(f"  {what:<58} {value}")


if __name__ == "__main__":
    main()
