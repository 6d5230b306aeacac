"""Scale: near-duplicate search and drift scoring on synthetic embeddings, time and peak memory.

Sections (one function each, all called by ``main``):

* near-duplicates: ``find_near_duplicates`` over N embeddings (default 10k / 100k / 1M,
  dimension 1280, the default backbone's width), the exact blocked search against the faiss
  HNSW index (see ``datacentric/model/neighbours.py``). The exact search runs only up to
  ``--exact-max`` (its time grows as N^2; larger sizes show the estimate from the largest
  measured one), the ANN search up to ``--ann-max``.
* recall@10 of the ANN k-NN lists against the exact ones (at ``--recall-n``, 10k).
* drift: ``DriftDetector.score_batches`` on ``--drift-new`` new embeddings (1M) streamed in
  chunks against ``--drift-ref`` reference embeddings (2k).
* embedding throughput: ``embed_images`` on ``--throughput`` generated production photos
  (2,000; the demo's 128-px parts) with the real default backbone (pretrained
  tf_efficientnet_lite0 at 224 px), local engine against the Ray engine on a one-node
  cluster started on this machine, each into a fresh store, with Ray's fixed cost split into
  cluster start-up and the wait for the first result batch (actors start, load the model).
  Ray must start inside a loopback-only network namespace: run the benchmark under
  ``scripts/loopback_only``, else the Ray row says it was skipped.

Every case runs in its own child process, which reports its own peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so cases cannot inflate each other's; the
peak includes the input embeddings themselves (float32, N x 1280 x 4 bytes: 0.5 GB at
100k). Embeddings are synthetic: clusters in a 32-dimensional latent space mapped linearly
to D dimensions, plus noise and a ReLU (non-negative like pooled CNN features), with 1%
planted near-copies. Times are wall-clock seconds, with the CPU seconds the child used (user
+ system, summed over its threads) in brackets: on a shared machine the wall clock measures
the neighbours' load too.

    PYTHONPATH=. python benchmarks/bench_scale.py                # 4 min on 2 quiet cores, 11 busy (1M ANN not run)
    PYTHONPATH=. python benchmarks/bench_scale.py --ann-max 1000000   # also 1M ANN (~12 GB, long)
    PYTHONPATH=. python benchmarks/bench_scale.py --quick        # 2k / 20k, drift at 100k
    PYTHONPATH=. scripts/loopback_only python benchmarks/bench_scale.py   # with the Ray row
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LATENT = 32  # intrinsic dimension of the synthetic embeddings
CHUNK = 10_000  # rows generated at once


# -- data ------------------------------------------------------------------------------------
def embeddings(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` synthetic (n, dim) float32 embeddings: latent clusters, 1% planted near-copies."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 100), LATENT)) * 2.0
    mixing = (rng.normal(size=(LATENT, dim)) / np.sqrt(LATENT)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        out[start : start + CHUNK] = _rows(rng, centres, mixing, min(CHUNK, n - start))
    copies = rng.choice(n, size=(max(1, n // 100), 2), replace=False) if n >= 4 else np.empty((0, 2), int)
    out[copies[:, 0]] = out[copies[:, 1]] + 0.01 * rng.normal(size=(len(copies), dim)).astype(np.float32)
    return out


def _rows(rng: np.random.Generator, centres: np.ndarray, mixing: np.ndarray, n: int, shift: float = 0.0) -> np.ndarray:
    """``n`` rows around random centres, mapped to D dimensions; ``shift`` moves the latent mean."""
    z = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, LATENT)) + shift
    noise = 0.3 * rng.normal(size=(n, mixing.shape[1])).astype(np.float32)
    return np.maximum(z.astype(np.float32) @ mixing + noise, 0.0)


# -- child cases (run in a fresh process each) -----------------------------------------------
def case_near_duplicates(n: int, dim: int, mode: str) -> dict:
    """Time ``find_near_duplicates`` on n embeddings with the exact or the ANN search."""
    from datacentric.model import neighbours as outliers

    x = embeddings(n, dim)
    outliers.ANN_THRESHOLD = 0 if mode == "ann" else 1 << 62
    start, cpu = time.perf_counter(), _cpu_seconds()
    pairs = outliers.find_near_duplicates(x)
    return {"seconds": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "pairs": len(pairs)}


def case_recall(n: int, dim: int, k: int = 10) -> dict:
    """recall@k of the ANN k-NN lists against the exact ones (ties at the k-th count as found)."""
    from datacentric.model import neighbours as outliers

    x = embeddings(n, dim)
    outliers.ANN_THRESHOLD = 1 << 62
    exact, _ = outliers.neighbours(x, k)
    approx, _ = outliers.ann_neighbours(x, k)
    return {"recall": float(np.mean(approx <= exact[:, -1:] + 1e-6))}  # float32 distances: ~1e-7 off


def case_drift(n_new: int, n_ref: int, dim: int) -> dict:
    """Fit on n_ref embeddings, then score n_new streamed in chunks (never all in memory)."""
    from datacentric.drift import DriftDetector

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, LATENT)) * 2.0
    mixing = (rng.normal(size=(LATENT, dim)) / np.sqrt(LATENT)).astype(np.float32)
    detector = DriftDetector(n_permutations=200).fit(_rows(rng, centres, mixing, n_ref))
    fitted = _peak_mb()

    def chunks():
        for start in range(0, n_new, 4096):
            yield _rows(rng, centres, mixing, min(4096, n_new - start), shift=0.2)

    start, cpu = time.perf_counter(), _cpu_seconds()
    score = detector.score_batches(chunks())
    return {
        "seconds": time.perf_counter() - start,
        "cpu": _cpu_seconds() - cpu,
        "after_fit_mb": fitted,
        "n": score.n,
        "p_value": score.p_value,
        "drift": score.drift,
    }


def case_throughput(n: int, engine: str, batch_size: int = 32, backbone: str = "") -> dict:
    """Embed n generated photos with one engine into a fresh store; time its phases."""
    import socket
    import tempfile

    from datacentric.demo import generate_batch
    from datacentric.project import Project
    from datacentric.scale import embed_images
    from datacentric.scale import engine as engines

    if engine == "ray" and sorted(name for _, name in socket.if_nameindex()) != ["lo"]:
        return {"skipped": "not in a loopback-only network namespace (run under scripts/loopback_only)"}
    first: list[float] = []
    track = engines.track

    def timed(items, description, total=None):
        for item in track(items, description, total):
            if not first:
                first.append(time.perf_counter())
            yield item

    engines.track = timed
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "line3"
        generate_batch(folder, n, seed=0)
        project = Project.init(Path(tmp) / "parts", **({"backbone": backbone} if backbone else {}))
        start, cpu = time.perf_counter(), _cpu_seconds()
        if engine == "ray":
            with engines.ray_session(None):
                ready = time.perf_counter()
                result = embed_images(project, folder, engine="ray", batch_size=batch_size)
        else:
            ready = start
            result = embed_images(project, folder, batch_size=batch_size)
        end = time.perf_counter()
        project.close()
    return {
        "seconds": end - start,
        "cpu": _cpu_seconds() - cpu,
        "start": ready - start,
        "first": first[0] - ready,
        "rest": end - first[0],
        "images": result.embedded,
        "nodes": len(result.nodes),
    }


CASES = {
    "near_duplicates": case_near_duplicates,
    "recall": case_recall,
    "drift": case_drift,
    "throughput": case_throughput,
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(name: str, timeout: float | None = None, **kwargs) -> dict:
    """Run one case in a child process; its result plus ``peak_mb`` (or ``error``)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps([name, kwargs])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(spec: str) -> None:
    name, kwargs = json.loads(spec)
    result = CASES[name](**kwargs)
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


# -- sections ----------------------------------------------------------------------------------
def near_duplicate_section(
    sizes: list[int], dim: int, exact_max: int, ann_max: int, timeout: float | None
) -> list[list[str]]:
    """Rows: N, method, seconds, peak memory, pairs found (exact where it fits, else an estimate)."""
    rows: list[list[str]] = []
    exact_time: tuple[int, float] | None = None
    for n in sizes:
        input_mb = n * dim * 4 / 2**20
        for mode, limit in (("exact", exact_max), ("ann", ann_max)):
            if n > limit:
                note = f"not run: index ~{input_mb:,.0f} MB on top of the input" if mode == "ann" else "not run"
                if mode == "exact" and exact_time:
                    m, seconds = exact_time
                    note = f"not run: ~{_duration(seconds * (n / m) ** 2)} cpu (N^2 from {m:,})"
                rows.append([f"{n:,}", mode, note, f"input alone {input_mb:,.0f} MB", ""])
                continue
            result = run_case("near_duplicates", timeout, n=n, dim=dim, mode=mode)
            if "error" in result:
                rows.append([f"{n:,}", mode, result["error"], "", ""])
                continue
            if mode == "exact":
                exact_time = (n, result["cpu"])
            rows.append(
                [
                    f"{n:,}",
                    mode,
                    f"{result['seconds']:.1f} s ({result['cpu']:.0f} s)",
                    f"{result['peak_mb']:,.0f} MB (input {input_mb:,.0f})",
                    str(result["pairs"]),
                ]
            )
    return rows


def recall_section(n: int, dim: int, timeout: float | None) -> str:
    """One line: recall@10 of the ANN lists against the exact ones at n embeddings."""
    result = run_case("recall", timeout, n=n, dim=dim)
    if "error" in result:
        return f"recall@10 at {n:,}: {result['error']}"
    return f"recall@10 of the ANN k-NN lists against the exact ones at {n:,} embeddings: {result['recall']:.4f}"


def drift_section(n_new: int, n_ref: int, dim: int, timeout: float | None) -> list[list[str]]:
    """Rows: drift scoring of n_new streamed embeddings against n_ref, seconds and peak memory."""
    result = run_case("drift", timeout, n_new=n_new, n_ref=n_ref, dim=dim)
    if "error" in result:
        return [[f"{n_new:,}", f"{n_ref:,}", result["error"], "", ""]]
    return [
        [
            f"{n_new:,}",
            f"{n_ref:,}",
            f"{result['seconds']:.1f} s ({result['cpu']:.0f} s)",
            f"{result['peak_mb']:,.0f} MB (after fit {result['after_fit_mb']:,.0f})",
            f"{result['p_value']:.4f}",
        ]
    ]


def throughput_section(n: int, timeout: float | None, backbone: str = "") -> list[list[str]]:
    """Rows: engine, images/s, total, cluster start, first batch, the rest (local vs Ray)."""
    rows = []
    for engine in ("local", "ray"):
        result = run_case("throughput", timeout, n=n, engine=engine, backbone=backbone)
        if "error" in result or "skipped" in result:
            rows.append([engine, result.get("error") or f"skipped: {result['skipped']}", "", "", "", ""])
            continue
        rows.append(
            [
                f"{engine} ({result['nodes']} node)",
                f"{result['images'] / result['seconds']:.1f}",
                f"{result['seconds']:.1f} s ({result['cpu']:.0f} s)",
                f"{result['start']:.1f} s",
                f"{result['first']:.1f} s",
                f"{result['rest']:.1f} s",
            ]
        )
    return rows


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A plain-text table like the other benchmarks print."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths))
    print(f"\n{title}\n{line}\n{'-' * len(line)}")
    for row in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="2k / 20k embeddings, drift at 100k")
    parser.add_argument("--sizes", default=None, help="comma-separated N (default 10000,100000,1000000)")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--exact-max", type=int, default=10_000, help="largest N searched exactly")
    parser.add_argument("--ann-max", type=int, default=100_000, help="largest N searched with the ANN index")
    parser.add_argument("--recall-n", type=int, default=None, help="N for recall@10 (default 10000)")
    parser.add_argument("--drift-new", type=int, default=None, help="new embeddings scored (default 1M)")
    parser.add_argument("--drift-ref", type=int, default=2000, help="reference embeddings")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per case")
    parser.add_argument(
        "--throughput", type=int, default=None, help="generated photos embedded by each engine (default 2000, 0 = skip)"
    )
    parser.add_argument("--backbone", default="", help=argparse.SUPPRESS)  # tests: a tiny random one
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child)
    default_sizes = "2000,20000" if args.quick else "10000,100000,1000000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    recall_n = args.recall_n or min(sizes[0], 10_000)
    drift_new = args.drift_new or (100_000 if args.quick else 1_000_000)
    started = time.perf_counter()
    print(f"scale benchmark: synthetic clustered embeddings, dimension {args.dim}", flush=True)
    print_table(
        "near-duplicates (find_near_duplicates): exact blocked search vs faiss HNSW",
        ["N", "search", "wall (cpu) time", "peak memory", "pairs"],
        near_duplicate_section(sizes, args.dim, args.exact_max, args.ann_max, args.timeout),
    )
    print(recall_section(recall_n, args.dim, args.timeout))
    print_table(
        "drift scoring (DriftDetector.score_batches, chunks of 4,096 rows)",
        ["new", "reference", "wall (cpu) time", "peak memory", "p-value"],
        drift_section(drift_new, args.drift_ref, args.dim, args.timeout),
    )
    photos = args.throughput if args.throughput is not None else (200 if args.quick else 2000)
    if photos:
        print_table(
            f"embedding throughput: {photos:,} generated photos, embed_images, local vs Ray (one node, this machine)",
            ["engine", "images/s", "wall (cpu) time", "cluster start", "first batch", "the rest"],
            throughput_section(photos, args.timeout, args.backbone),
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
