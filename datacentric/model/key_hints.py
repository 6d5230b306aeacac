"""Which embedding key a cheap *source id* led to, so cached vectors are found without a model.

Finding an embedding key (see :func:`datacentric.model.embeddings.embedding_key`) needs the
built model. ``<cache_dir>/embeddings/keys.json`` remembers which key a source id (backbone
name, weights file or package id, image size, timm version, runtime) led to, so a later
call can look in that key's folder without importing torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

from datacentric.errors import DatacentricError
from datacentric.model.onnx_features import DEFAULT_RUNTIME, check_runtime

__all__ = ["KEY_SCHEME", "embedding_key_for", "key_meta", "keys_file", "known_keys", "remember_key", "source_id"]

KEY_SCHEME = 1  # bump when the preprocessing derived from a backbone changes


def embedding_key_for(backbone: str, weights: str, config: dict, runtime: str = DEFAULT_RUNTIME) -> str:
    """The embedding key of (backbone, weights' id, data config, runtime), as a probe head stores
    them: no built model needed. Torch's key is the one of versions before the runtime existed,
    so caches made then stay valid for ``runtime="torch"``.
    """
    fields = {"backbone": backbone.split("@", 1)[0], "weights": weights, "data": config}
    if check_runtime(runtime) != "torch":
        fields["runtime"] = runtime
    text = json.dumps(fields, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def source_id(backbone: str, pretrained: bool, image_size: int, runtime: str) -> str | None:
    """A cheap id of what decides the embedding key (no torch, no model), or None when only
    the built model can tell (weights from the hub).
    """
    from datacentric.model.weights import RANDOM, file_digest, package_weights_file

    name, _, weights = str(backbone).strip().partition("@")
    name, weights = name.strip(), weights.strip()
    if not pretrained or weights.lower() == RANDOM:
        source = RANDOM
    elif weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            return None
        source = f"file-{file_digest(path)[:16]}"
    else:
        found = package_weights_file(name) if "." not in name else None  # a tag picks other weights
        if found is None:
            return None
        source = found[1]
    try:
        timm_version = importlib.metadata.version("timm")
    except importlib.metadata.PackageNotFoundError:
        return None
    fields = {
        "backbone": name,
        "weights": source,
        "image_size": int(image_size or 0),
        "timm": timm_version,
        "scheme": KEY_SCHEME,
    }
    if runtime != "torch":
        fields["runtime"] = runtime
    text = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def keys_file(cache: Path) -> Path:
    """The file of remembered keys under ``cache``."""
    return cache / "embeddings" / "keys.json"


def known_keys(cache: Path) -> dict[str, str]:
    """Source id -> embedding key, as remembered under ``cache`` (empty when none or unreadable)."""
    try:
        known = json.loads(keys_file(cache).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def remember_key(cache: Path, source: str, key: str) -> None:
    """Record that ``source`` leads to embedding ``key`` (atomic write, best effort)."""
    from datacentric.paths import write_atomic

    known = known_keys(cache)
    if known.get(source) == key:
        return
    known[source] = key
    try:
        write_atomic(keys_file(cache), json.dumps(known, indent=1, sort_keys=True))
    except (OSError, DatacentricError):
        pass  # without the hint the next call builds the model to find the key: slower, not wrong


def key_meta(cache: Path, key: object) -> dict | None:
    """The ``key.json`` written beside embedding ``key``'s vectors (backbone, ``weights`` id,
    ``data`` config, runtime), or None when there is none or it lacks the weights or data config.
    """
    if not isinstance(key, str):
        return None
    try:
        meta = json.loads((Path(cache) / "embeddings" / key / "key.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("data"), dict) or not isinstance(meta.get("weights"), str):
        return None
    return meta
