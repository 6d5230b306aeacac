"""A probe's predictions from the embeddings it was trained on: no torch when they are cached.

A probe run's model is its frozen backbone's features followed by the head in ``probe.npz``.
Its probabilities are ``softmax(features @ weight.T + bias)`` of the very embeddings the probe
learned from (ONNX Runtime, cached by image hash under the embedding key the head names), so
``predict``, ``drift``, ``retrain`` and the Label Studio pre-labels need neither torch nor the
built model for images already embedded, and run the backbone once, through :func:`embed`,
for new ones. They match the torch model built from the same head to float rounding (the two
runtimes' features differ by ~1e-5).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.data.images import content_hash, load_image
from datacentric.edge import softmax
from datacentric.model.key_hints import embedding_key_for
from datacentric.runs import ProbeHead

__all__ = ["probe_probabilities"]


def probe_probabilities(
    head: ProbeHead, paths: Sequence[Path], cache_dir: Path | str, *, batch_size: int = 32
) -> tuple[np.ndarray, dict[int, DatacentricError]]:
    """Probabilities (N, K) of the probe ``head`` plus ``{index: error}`` for unreadable files (rows NaN).

    Refuses (as building the torch model would) when the backbone's weights are no longer the
    ones the head was trained on: new images then embed under another key.
    """
    from datacentric.model.embeddings import cached_embeddings

    errors: dict[int, DatacentricError] = {}
    hashes = _hashes(paths, errors)
    key = embedding_key_for(head.backbone, str(head.weights), head.data_config)
    rows = _rows(cached_embeddings(cache_dir, key, list(hashes.values())), list(hashes))
    missing = [i for i in hashes if i not in rows]
    if missing:
        _embed_missing(head, paths, hashes, missing, cache_dir, batch_size, errors)
        # read back under the head's own key: a vector missing there was embedded with other weights
        rows.update(_rows(cached_embeddings(cache_dir, key, [hashes[i] for i in missing]), missing))
        if any(i not in rows and i not in errors for i in missing):
            raise DatacentricError(
                "the backbone's weights are not the ones this probe was trained on: train again", cache_dir
            )
    probs = np.full((len(paths), len(head.classes)), np.nan, dtype=np.float32)
    done = [i for i in hashes if i not in errors]
    if done:
        probs[done] = softmax(np.stack([rows[i] for i in done]) @ head.weight.T + head.bias)
    return probs, errors


def _hashes(paths: Sequence[Path], errors: dict[int, DatacentricError]) -> dict[int, str]:
    """Each readable file's content hash by index; a file that cannot be opened goes to ``errors``."""
    hashes = {}
    for i, path in enumerate(paths):
        try:
            hashes[i] = content_hash(path)
        except OSError:
            errors[i] = _read_error(path)
    return hashes


def _read_error(path: Path) -> DatacentricError:
    """The error :func:`load_image` gives for ``path`` (the same words as every other reader)."""
    try:
        load_image(path)
    except DatacentricError as exc:
        return exc
    return DatacentricError("cannot read image", path)  # pragma: no cover - it opened after all


def _rows(found: dict[int, np.ndarray], indices: list[int]) -> dict[int, np.ndarray]:
    """Cached rows keyed by the index into ``paths`` instead of the position among the hashes."""
    return {indices[j]: row for j, row in found.items()}


def _embed_missing(head: ProbeHead, paths, hashes, missing, cache_dir, batch_size, errors) -> None:
    """Embed (and so cache) the images not cached yet, with the backbone and size the head was trained on."""
    from datacentric.model.embeddings import embed

    embed(
        [paths[i] for i in missing],
        ids=[hashes[i] for i in missing],
        backbone=head.backbone,
        cache_dir=cache_dir,
        pretrained=head.pretrained,
        image_size=_image_size(head.data_config),
        batch_size=batch_size,
        on_error=lambda j, error: errors.__setitem__(missing[j], error),
    )


def _image_size(config: dict) -> int:
    """The ``image_size`` setting that gives ``config``'s input size (square sizes only come from one)."""
    height, width = (int(v) for v in config["input_size"][-2:])
    return width if height == width else 0
