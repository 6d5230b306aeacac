"""The engine's guards that need no cluster: stalls fail with a message, errors are one line."""

from __future__ import annotations

import time

import pytest

from datacentric.errors import DatacentricError
from datacentric.scale.engine import _watched, check_engine


def test_a_job_with_no_progress_fails_instead_of_hanging():
    def stuck():
        yield {"n": 1}
        time.sleep(5)
        yield {"n": 2}

    started = time.perf_counter()
    batches = _watched(stuck(), stall_seconds=0.3)
    assert next(batches) == {"n": 1}
    with pytest.raises(DatacentricError, match="no progress for 0 s"):
        next(batches)
    assert time.perf_counter() - started < 3


def test_a_worker_error_arrives_as_one_line():
    def broken():
        yield {"n": 1}
        raise ValueError("line one\nsecond line of a long traceback")

    batches = _watched(broken(), stall_seconds=5)
    next(batches)
    with pytest.raises(DatacentricError) as caught:
        next(batches)
    assert "\n" not in str(caught.value) and "ValueError" in str(caught.value)


def test_engine_names_are_checked():
    check_engine("local")
    check_engine("ray")
    with pytest.raises(DatacentricError, match="local or ray"):
        check_engine("dask")
