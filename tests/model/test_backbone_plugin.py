"""A registered backbone plugin is built by create_backbone, trains, and its saved model loads again."""

from __future__ import annotations

import pytest

from datacentric import plugins
from datacentric.errors import DatacentricError
from datacentric.model import create_backbone, load_classifier, parse_backbone, train, weights_id

CALLS: list[dict] = []


def mynet(*, pretrained: bool = True, num_classes: int = 0):
    """A name timm does not know, built from timm's tiny test net."""
    import timm
    import torch

    CALLS.append({"pretrained": pretrained, "num_classes": num_classes})
    torch.manual_seed(0)
    return timm.create_model("test_efficientnet", pretrained=False, num_classes=num_classes)


@pytest.fixture
def registered_mynet():
    CALLS.clear()
    with plugins.registered("backbone", mynet, name="mynet"):
        yield


def test_create_backbone_builds_a_registered_plugin(registered_mynet):
    model = create_backbone("mynet", num_classes=3, pretrained=False)
    assert CALLS == [{"pretrained": False, "num_classes": 3}]
    assert model.get_classifier().out_features == 3 and not model.training
    assert weights_id(model) == "plugin-mynet-random"
    assert parse_backbone("mynet").name == "mynet"
    with pytest.raises(DatacentricError, match="finds its own weights"):
        create_backbone("mynet@/tmp/w.safetensors")


def test_a_backbone_plugin_trains_and_its_model_loads(registered_mynet, colour_project):
    result = train(colour_project, backbone="mynet", pretrained=False)
    assert result.run.status == "done" and result.run.metrics["backbone"] == "mynet"
    assert {"pretrained": False, "num_classes": 0} in CALLS  # the embeddings
    built = len(CALLS)
    clf = load_classifier(result.run)
    assert clf.backbone == "mynet" and clf.classes == ["blue", "green", "red"]
    assert len(CALLS) == built  # a probe's model is built when first used, not on load
    assert clf.module.get_classifier().out_features == 3
    assert CALLS[-1] == {"pretrained": False, "num_classes": 3}  # rebuilt through the plugin


def test_an_unregistered_name_is_still_unknown():
    with pytest.raises(DatacentricError, match="unknown backbone 'mynet'"):
        create_backbone("mynet", pretrained=False)
