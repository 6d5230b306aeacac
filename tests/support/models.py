"""Randomly initialised timm classifiers, for export tests."""

from __future__ import annotations


CLASSES = ["ok", "pit", "scratch"]


def small_model(name: str):
    """(module, data_config): a randomly initialised timm model ``name`` with a K-class head, at 64 px."""
    import timm
    import torch

    torch.manual_seed(0)
    module = timm.create_model(name, pretrained=False, num_classes=len(CLASSES)).eval()
    config = dict(timm.data.resolve_model_data_config(module))
    config["input_size"] = (3, 64, 64)
    return module, config
