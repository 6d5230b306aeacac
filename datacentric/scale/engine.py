"""Where per-batch workers run: in this process (``local``) or on a Ray cluster (``ray``).

:func:`run_batches` feeds image files to a worker (see :mod:`datacentric.scale.workers`)
and yields its result batches as they come, with a progress bar either way.

The Ray engine reads files with Ray Data's ``read_binary_files`` and runs the worker as a
pool of actors (``map_batches`` with a callable class). Without ``address`` it starts a
throw-away cluster on this machine, bound to 127.0.0.1, with no dashboard and no usage
statistics; ``address="auto"`` joins the cluster that ``ray start`` runs here, and
``HOST:PORT`` a remote head node. CPUs are budgeted so that reading always has a share
(an actor reserves 0.75 CPU, a read task 0.25; one actor per ``threads`` CPUs, at least one
per node), and a job that makes no progress for
``stall_seconds`` fails with a message instead of hanging. On error or Ctrl-C the driver
disconnects, which ends the job's actors; a cluster it started is shut down.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from datacentric.errors import DatacentricError
from datacentric.progress import track

__all__ = [
    "ENGINES",
    "RAY_EXTRA",
    "check_engine",
    "ray_session",
    "readable_files",
    "require_ray",
    "run_batches",
]

ENGINES = ("local", "ray")
RAY_EXTRA = 'pip install "datacentric[ray]"'
ACTOR_CPUS = 0.75  # the rest of each CPU is left to read tasks, so reading never starves
READ_CPUS = 0.25
STALL_SECONDS = 600.0
MAX_BLOCKS = 20_000  # past this, blocks hold more than one batch (scheduling cost per block)


def check_engine(engine: str) -> None:
    """Refuse an engine name that is not one of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise DatacentricError(f"unknown engine '{engine}' (choose {' or '.join(ENGINES)})", "--engine")


def require_ray() -> None:
    """Fail at once, in one line, when Ray Data is not installed."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise DatacentricError(f"--engine ray needs Ray Data: {RAY_EXTRA}", "ray") from None


@contextmanager
def ray_session(address: str | None = None) -> Iterator[object]:
    """A connected Ray driver: joins ``address``, or starts a local cluster on 127.0.0.1.

    If this process is already connected (a test's cluster, a caller's ``ray.init``), that
    connection is used and left open.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # no start-up chatter on stderr
    require_ray()
    import ray

    if ray.is_initialized():
        yield ray
        return
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address and address != "auto":
        _check_reachable(address)  # ray.init would retry an unreachable head for minutes
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(
                num_cpus=os.cpu_count() or 1, object_store_memory=256 * 2**20, _node_ip_address="127.0.0.1", **options
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local cluster"
        raise DatacentricError(f"cannot start or join Ray ({where}): {str(exc).splitlines()[0]}", "--address") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse at once a ``HOST:PORT`` that no server answers on."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DatacentricError(f"not a Ray address: '{address}' (expected auto or HOST:PORT)", "--address")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise DatacentricError(f"cannot reach the Ray head at {address}: {exc.strerror or exc}", "--address") from None


def readable_files(files: Sequence[Path]) -> tuple[list[Path], dict[str, str]]:
    """Files a worker can open, and the reason for each that it cannot.

    Checked on the driver: Ray's reader fails the whole job on a file it cannot open.
    """
    good, errors = [], {}
    for path in files:
        if not path.is_file():
            errors[str(path)] = "not a file (gone?)"
        elif not os.access(path, os.R_OK):
            errors[str(path)] = "no permission to read"
        else:
            good.append(path)
    return good, errors


def run_batches(
    worker: type,
    args: tuple,
    paths: Sequence[Path],
    *,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 32,
    description: str = "working",
    threads: int = 1,
    stall_seconds: float = STALL_SECONDS,
) -> Iterator[dict]:
    """Run ``worker(*args)`` over the files in batches; yield its result batches.

    ``threads`` is how many CPU threads one worker uses: the Ray engine runs one worker per
    ``threads`` CPUs, but at least one on every node. Result batches come in no fixed order
    on the Ray engine: match rows by ``path``.
    """
    check_engine(engine)
    total = (len(paths) + batch_size - 1) // batch_size
    if engine == "local":
        yield from track(_local(worker, args, paths, batch_size), description, total=total)
        return
    with ray_session(address) as ray:
        batches = _ray(ray, worker, args, paths, batch_size, threads)
        yield from track(_watched(batches, stall_seconds), description, total=total)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _local(worker: type, args: tuple, paths: Sequence[Path], batch_size: int) -> Iterator[dict]:
    """Batches in this process, files read by two threads a batch ahead."""
    import numpy as np

    instance = worker(*args)
    starts = list(range(0, len(paths), batch_size))
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead = None
        for b, start in enumerate(starts):
            chunk = paths[start : start + batch_size]
            blobs = list(ahead.result()) if ahead is not None else list(pool.map(_read, chunk))
            if b + 1 < len(starts):
                nxt = paths[starts[b + 1] : starts[b + 1] + batch_size]
                ahead = pool.submit(lambda files: list(map(_read, files)), nxt)
            else:
                ahead = None
            yield instance(
                {
                    "path": np.array([str(p) for p in chunk], dtype=object),
                    "bytes": [blob if blob is not None else b"" for blob in blobs],
                }
            )


def _ray(ray, worker: type, args: tuple, paths: Sequence[Path], batch_size: int, threads: int) -> Iterator[dict]:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    cpus = float(ray.cluster_resources().get("CPU", 1))
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    actors = max(1, nodes, int(cpus // max(1, threads)))
    dataset = ray.data.read_binary_files(
        [str(p) for p in paths],
        include_paths=True,
        num_cpus=READ_CPUS,
        # a block per batch: results stream back (and progress moves) batch by batch
        override_num_blocks=max(1, min(-(-len(paths) // batch_size), MAX_BLOCKS)),
    )
    results = dataset.map_batches(
        worker,
        fn_constructor_args=args,
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=ACTOR_CPUS,
    )
    yield from results.iter_batches(batch_size=None, batch_format="numpy")


_END = object()


def _watched(batches: Iterator[dict], stall_seconds: float) -> Iterator[dict]:
    """``batches``, failing with a message when none arrives for ``stall_seconds``."""
    inbox: queue.Queue = queue.Queue(maxsize=4)

    def pump() -> None:
        try:
            for batch in batches:
                inbox.put(batch)
            inbox.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the driver thread
            inbox.put(exc)

    threading.Thread(target=pump, daemon=True, name="datacentric-ray-results").start()
    while True:
        try:
            item = inbox.get(timeout=stall_seconds)
        except queue.Empty:
            raise DatacentricError(
                f"the Ray job made no progress for {stall_seconds:.0f} s (cluster busy, or a worker stuck?); stopped",
                "ray",
            ) from None
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise _one_line(item) from None
        yield item


def _one_line(exc: BaseException) -> BaseException:
    if isinstance(exc, (DatacentricError, KeyboardInterrupt)):
        return exc
    text = str(exc).strip().splitlines()
    return DatacentricError(f"the Ray job failed: {type(exc).__name__}: {text[-1] if text else ''}", "ray")
