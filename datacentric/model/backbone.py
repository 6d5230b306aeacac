"""Backbone factory over ``timm.create_model`` with offline weight resolution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datacentric.config import DEFAULT_BACKBONE
from datacentric.errors import DatacentricError
from datacentric.model.weights import (
    PACKAGE_WEIGHTS,
    RANDOM,
    BackboneSpec,
    backbone_plugin,
    convert_to_cache,
    file_digest,
    fit_state_dict,
    no_weights_error,
    online,
    package_weights_file,
    parse_backbone,
    read_state_dict,
    user_cache_dir,
)

if TYPE_CHECKING:
    import torch

__all__ = ["create_backbone", "data_config", "rebuild", "register_backbones", "weights_id"]


def create_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    num_classes: int = 0,
    pretrained: bool = True,
    cache_dir: Path | str | None = None,
) -> torch.nn.Module:
    """Build a timm model by name with pretrained weights found offline.

    Parameters
    ----------
    name
        A backbone spec: a timm model name, ``name@/path/weights.safetensors`` for a
        local file, ``name@random`` (see :mod:`datacentric.model.weights`), or the name of
        a registered backbone plugin (its factory builds the model; see :mod:`datacentric.plugins`).
    num_classes
        0 gives a feature extractor (pooled features, ``model.num_features`` wide);
        K > 0 gives a fresh K-class head on the pretrained trunk (the source's own head
        is kept when K equals its class count).
    pretrained
        False = random initialisation, seeded so it is the same every time (tests).
    cache_dir
        Where converted weights are stored (a project's ``cache_dir``); default
        ``~/.cache/datacentric``.

    Returns
    -------
    torch.nn.Module
        The timm model in eval mode, with ``model.pretrained_cfg`` describing the
        preprocessing the weights want and ``model.datacentric_weights`` naming them.

    Raises
    ------
    DatacentricError
        Unknown model name, unusable weights file, or no weights available offline.
    """
    factory = backbone_plugin(name)
    if factory is not None:  # a registered backbone plugin builds its own model
        parse_backbone(name)  # refuses NAME@weights
        model = factory(pretrained=pretrained, num_classes=num_classes)
        return _finish(
            model,
            getattr(model, "datacentric_weights", None) or f"plugin-{name}-{'pretrained' if pretrained else 'random'}",
        )
    _fail_fast_without_weights(name, pretrained)
    spec = parse_backbone(name)
    if not pretrained or spec.weights == RANDOM:
        return _random_model(spec, num_classes)
    return _pretrained_model(spec, num_classes, Path(cache_dir) if cache_dir is not None else user_cache_dir())


def _random_model(spec: BackboneSpec, num_classes: int):
    """A randomly initialised model, seeded so it is the same every time, whatever its head."""
    import timm
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        # same trunk whatever the head: build with the default head, then replace it
        model = timm.create_model(spec.name, pretrained=False)
        if num_classes != model.num_classes:
            model.reset_classifier(num_classes)
    return _finish(model, "random")


def _pretrained_model(spec: BackboneSpec, num_classes: int, cache: Path):
    """Pretrained weights from the spec's file, an installed weights package, or (online) the hub."""
    import timm

    if spec.weights is not None:
        path = Path(spec.weights)
        if not path.is_file():
            raise DatacentricError("weights file not found", path)
        tag = f"file-{file_digest(path)[:16]}"
        return _from_file(spec, path, tag, cache, num_classes, overlay={})

    found = package_weights_file(spec.arch) if spec.name == spec.arch else None
    if found is not None:
        path, tag = found
        return _from_file(spec, path, tag, cache, num_classes, overlay=dict(PACKAGE_WEIGHTS[spec.arch].cfg))

    if not online():
        raise no_weights_error(spec)
    try:
        model = timm.create_model(spec.name, pretrained=True, num_classes=num_classes)
    except Exception as exc:  # noqa: BLE001 - network or hub failure
        raise DatacentricError(
            f"could not download weights for '{spec.name}': {exc.__class__.__name__}: {exc}", "backbone"
        ) from None
    cfg = model.pretrained_cfg or {}
    return _finish(model, f"hub-{cfg.get('hf_hub_id') or cfg.get('url') or spec.name}")


def _fail_fast_without_weights(name: str, pretrained: bool) -> None:
    """Refuse before importing torch/timm when no weights can be had (offline, none shipped)."""
    text = str(name).strip()
    if not pretrained or "@" in text or online():
        return
    arch = text.split(".", 1)[0]
    if text == arch and package_weights_file(arch) is not None:
        return
    raise no_weights_error(BackboneSpec(spec=text, name=text, weights=None))


def _from_file(spec: BackboneSpec, path: Path, tag: str, cache: Path, num_classes: int, overlay: dict):
    import timm

    reference = timm.create_model(spec.name, pretrained=False, pretrained_cfg_overlay=overlay or None)
    head_keys = _head_keys(reference)
    converted = convert_to_cache(path, spec.arch, reference.state_dict(), cache, tag)
    state = read_state_dict(converted)
    state = fit_state_dict(state, reference.state_dict(), where=path)
    model = timm.create_model(
        spec.name, pretrained=False, num_classes=num_classes, pretrained_cfg_overlay=overlay or None
    )
    target = model.state_dict()
    keep = {
        k: v
        for k, v in state.items()
        if k in target and (k not in head_keys or tuple(v.shape) == tuple(target[k].shape))
    }
    missing = [k for k in target if k not in keep]
    if any(k not in head_keys for k in missing):
        raise DatacentricError(f"weights file lacks tensors for {missing[:3]}", path)
    model.load_state_dict(keep, strict=False)
    return _finish(model, tag)


def _head_keys(model) -> set[str]:
    prefix = (model.pretrained_cfg or {}).get("classifier") or "classifier"
    prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix)
    return {k for k in model.state_dict() if k.startswith(tuple(p + "." for p in prefixes))}


def _finish(model, tag: str):
    model.eval()
    model.datacentric_weights = tag
    return model


def rebuild(arch: str, num_classes: int) -> torch.nn.Module:
    """A fresh ``num_classes``-class model of a saved classifier's ``arch`` (its weights are loaded next)."""
    factory = backbone_plugin(arch)
    if factory is not None:
        return factory(pretrained=False, num_classes=num_classes)
    import timm

    return timm.create_model(arch, pretrained=False, num_classes=num_classes)


def weights_id(model: torch.nn.Module) -> str:
    """The id of the weights a model from :func:`create_backbone` was built with."""
    return getattr(model, "datacentric_weights", "unknown")


def data_config(model: torch.nn.Module, image_size: int = 0) -> dict:
    """Preprocessing for ``model`` from timm (input_size, mean, std, interpolation, crop_pct).

    ``image_size`` > 0 overrides the input size (the project's ``image_size`` setting).
    """
    import timm.data

    config = dict(timm.data.resolve_model_data_config(model))
    if image_size:
        config["input_size"] = (3, int(image_size), int(image_size))
    return config


def _timm_factory(model_name: str) -> Callable[..., Any]:
    def factory(*, pretrained: bool = True, num_classes: int = 0) -> Any:
        return create_backbone(model_name, num_classes=num_classes, pretrained=pretrained)

    factory.__doc__ = f"timm '{model_name}' through datacentric.model.create_backbone."
    return factory


def register_backbones(register: Callable[..., None]) -> None:
    """Built-in backbones (the plugin hook): the default offline EfficientNet-Lite0 and the tiny test net.

    Any other timm name works too; registered backbones are the ones a project
    may name without timm knowing them, or with their own weight resolution.
    """
    register(_timm_factory("tf_efficientnet_lite0"), name="tf_efficientnet_lite0")
    register(_timm_factory("test_efficientnet"), name="test_efficientnet")
