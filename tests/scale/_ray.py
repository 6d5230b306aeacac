"""What the Ray test modules share: skip or fail when Ray or the isolated network is missing."""

from __future__ import annotations

import os
import socket

import pytest

RAY_OPTIONS = dict(include_dashboard=False, log_to_driver=False, object_store_memory=96 * 2**20)


def require_isolated_ray() -> None:
    """Skip (fail under CI) unless Ray is installed and only loopback is up in this namespace."""
    reason = None
    try:
        import ray.data  # noqa: F401
    except ImportError:
        reason = 'needs the [ray] extra: pip install "datacentric[ray]"'
    else:
        interfaces = sorted(name for _, name in socket.if_nameindex())
        if interfaces != ["lo"]:
            reason = (
                "starts Ray, which probes outside addresses: run inside a loopback-only "
                "network namespace (scripts/loopback_only, as make test does)"
            )
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
