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
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    node = dict(num_cpus=1, object_store_memory=80 * 2**20, node_ip_address="127.0.0.1")
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_both_nodes_embed(two_nodes, scaled):
    from datacentric.scale import embed_images

    root, new = scaled
    with Project.open(root) as project:
        project.config.image_size = 40  # another embedding key: nothing stored yet
        result = embed_images(project, new, engine="ray", batch_size=2)
    assert result.embedded == 14
    assert len(result.nodes) == 2, result.nodes
