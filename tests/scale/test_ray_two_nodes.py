"""A simulated two-node cluster (``ray.cluster_utils.Cluster``): both nodes get work."""

from __future__ import annotations

import pytest

from datacentric.project import Project

from ._ray import require_isolated_ray

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def two_nodes():
    require_isolated_ray()
    import os

    import ray
    import ray.data
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    node = dict(num_cpus=1, object_store_memory=80 * 2**20, node_ip_address="127.0.0.1")
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    ray.init(address=cluster.address, log_to_driver=False)
    # Ray Data starts pool actors asynchronously; waiting for the whole pool keeps a slow
    # start-up from deciding which node works.
    context = ray.data.DataContext.get_current()
    waited, context.wait_for_min_actors_s = context.wait_for_min_actors_s, 120
    yield {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    context.wait_for_min_actors_s = waited
    ray.shutdown()
    cluster.shutdown()


def test_the_pool_spreads_over_both_nodes(two_nodes, tmp_path):
    """One actor per node, and a job longer than a batch keeps both busy.

    The worker takes 0.3 s a batch, longer than Ray takes to hand out the next one, so the
    work reaches the second actor whatever the timing. (A job of tiny fast batches can
    finish on the first node before the second gets any: that is not a failure.)
    """
    import time

    import numpy as np

    from datacentric.scale.engine import run_batches

    class SlowWorker:
        def __call__(self, batch: dict) -> dict:
            import ray

            time.sleep(0.3)
            node = ray.get_runtime_context().get_node_id()
            return {"path": batch["path"], "node": np.array([node] * len(batch["path"]), dtype=object)}

    paths = []
    for i in range(8):
        paths.append(tmp_path / f"{i}.bin")
        paths[-1].write_bytes(b"x")
    batches = list(run_batches(SlowWorker, (), paths, engine="ray", batch_size=1, threads=1))
    nodes = [str(node) for batch in batches for node in batch["node"]]
    assert len(nodes) == 8
    assert set(nodes) == two_nodes, nodes


def test_embed_runs_on_the_cluster(two_nodes, scaled):
    from datacentric.scale import embed_images

    root, new = scaled
    with Project.open(root) as project:
        project.config.image_size = 40  # another embedding key: nothing stored yet
        result = embed_images(project, new, engine="ray", batch_size=2)
    assert result.embedded == 14
    assert set(result.nodes) <= two_nodes, result.nodes
