"""The Parquet embedding store: plain Parquet, one commit, nothing visible before it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datacentric.model.embedding_store import EmbeddingStore, write_part


def _job_with(store: EmbeddingStore, n: int, seed: int = 0):
    job = store.new_job()
    vectors = np.random.default_rng(seed).normal(size=(n, 5)).astype(np.float32)
    ids = [f"{seed}-{i}" for i in range(n)]
    write_part(job, ids, [f"/x/{i}.png" for i in ids], vectors)
    return job, ids, vectors


def test_committed_parts_are_plain_parquet_keyed_by_id(tmp_path):
    store = EmbeddingStore(tmp_path, "k1")
    job, ids, vectors = _job_with(store, 4)
    store.commit(job, lambda: None)
    [part] = store.part_files()
    table = pq.read_table(part)
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 5)
    assert table.column("id").to_pylist() == ids
    assert np.array_equal(np.array(table.column("vector").to_pylist(), dtype=np.float32), vectors)
    found = store.vectors([ids[2], "unknown"])
    assert list(found) == [ids[2]] and np.array_equal(found[ids[2]], vectors[2])
    assert store.ids() == set(ids)


def test_nothing_is_visible_before_the_commit(tmp_path):
    store = EmbeddingStore(tmp_path, "k1")
    job, ids, _ = _job_with(store, 3)
    assert store.part_files() == [] and store.vectors(ids) == {}
    store.discard(job)
    assert not job.exists()


def test_a_failed_record_undoes_the_commit(tmp_path):
    store = EmbeddingStore(tmp_path, "k1")
    first, ids, _ = _job_with(store, 2, seed=1)
    store.commit(first, lambda: None)
    before = store.part_files()
    job, _, _ = _job_with(store, 3, seed=2)

    def record():
        raise RuntimeError("store is locked")

    with pytest.raises(RuntimeError):
        store.commit(job, record)
    assert store.part_files() == before and store.ids() == set(ids)
    assert not job.exists() and not (store.parts / job.name).exists()


def test_an_empty_batch_writes_no_part(tmp_path):
    assert write_part(tmp_path, [], [], np.zeros((0, 5), np.float32)) is None
    assert list(tmp_path.iterdir()) == []
