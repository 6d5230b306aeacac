"""The Parquet embedding store that the local and the Ray engine share.

Layout, under a project's cache::

    embeddings/<key>/parts/<job>/part-*.parquet     committed vectors (columns id, path, vector)
    embeddings/<key>/staging/<job>/part-*.parquet   a running job's vectors, never read

``key`` is the embedding key of :mod:`datacentric.model.embeddings` (backbone, weights,
preprocessing), ``id`` an image's content hash (sha256 of its bytes) and ``vector`` a
fixed-size list of float32: plain Parquet, readable with ``pyarrow.parquet.read_table``.

Workers (in this process or on a cluster) write parts into the job's staging folder. Only
the driver commits: one rename of the staging folder into ``parts/``, done inside the SQLite
transaction that records the job, and undone if that transaction fails. So a job that
crashes or is stopped before its commit leaves the store and the cache as they were, and a
re-run embeds only the ids that no committed part holds.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

__all__ = ["EmbeddingStore", "write_part"]

STALE_SECONDS = 24 * 3600  # a staging folder this old belongs to a job that died: removed


class EmbeddingStore:
    """Committed embedding parts for one embedding key under ``cache_dir``."""

    def __init__(self, cache_dir: Path | str, key: str):
        self.key = key
        self.folder = Path(cache_dir) / "embeddings" / key
        self.parts = self.folder / "parts"
        self.staging_root = self.folder / "staging"

    def part_files(self) -> list[Path]:
        """The committed Parquet files, in a stable order."""
        if not self.parts.is_dir():
            return []
        return sorted(self.parts.glob("*/part-*.parquet"))

    def ids(self) -> set[str]:
        """Content hashes that some committed part holds a vector for."""
        import pyarrow.parquet as pq

        found: set[str] = set()
        for part in self.part_files():
            found.update(pq.read_table(part, columns=["id"]).column("id").to_pylist())
        return found

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vector of each of ``ids`` that the store holds (float32)."""
        import pyarrow.parquet as pq

        wanted = set(ids)
        out: dict[str, np.ndarray] = {}
        for part in self.part_files():
            if not wanted:
                break
            table = pq.read_table(part, columns=["id", "vector"])
            names = table.column("id").to_pylist()
            rows = [i for i, name in enumerate(names) if name in wanted]
            if not rows:
                continue
            matrix = _matrix(table.column("vector").take(rows))
            for row, vector in zip(rows, matrix):
                out[names[row]] = vector
                wanted.discard(names[row])
        return out

    def new_job(self) -> Path:
        """A fresh staging folder for one job (stale ones from dead jobs are removed first)."""
        self._remove_stale_staging()
        job = self.staging_root / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        job.mkdir(parents=True)
        return job

    def commit(self, job: Path, record: Callable[[], None]) -> Path:
        """Make ``job``'s parts visible while ``record`` (a store transaction) runs.

        ``record`` is called after the rename; if it raises, the rename is undone and the
        job's folder is removed, so nothing of the job stays visible.
        """
        self.parts.mkdir(parents=True, exist_ok=True)
        target = self.parts / job.name
        job.replace(target)
        try:
            record()
        except BaseException:
            target.replace(job)
            self.discard(job)
            raise
        return target

    def discard(self, job: Path) -> None:
        """Remove a job's staging folder (a failed or interrupted job)."""
        shutil.rmtree(job, ignore_errors=True)

    def _remove_stale_staging(self) -> None:
        if not self.staging_root.is_dir():
            return
        limit = time.time() - STALE_SECONDS
        for folder in self.staging_root.iterdir():
            try:
                if folder.stat().st_mtime < limit:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


def write_part(folder: Path | str, ids: list[str], paths: list[str], vectors: np.ndarray) -> Path | None:
    """Write one Parquet part of ``vectors`` (N, D) into ``folder``; None when N is 0."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(ids) == 0:
        return None
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])
    table = pa.table({"id": pa.array(ids, pa.string()), "path": pa.array(paths, pa.string()), "vector": column})
    target = Path(folder) / f"part-{uuid.uuid4().hex}.parquet"
    tmp = target.with_name(f".{target.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(target)
    return target


def _matrix(column) -> np.ndarray:
    """A (N, D) float32 array from a chunked fixed-size-list column."""
    chunks = [
        chunk.flatten().to_numpy(zero_copy_only=False).reshape(len(chunk), -1) for chunk in column.chunks if len(chunk)
    ]
    return np.concatenate(chunks).astype(np.float32, copy=False)
