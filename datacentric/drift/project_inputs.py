"""What :func:`~datacentric.drift.check_drift` compares: a project's reference and a folder's batch.

The reference is the labelled real images of the champion model's train run (the model
promoted by the last ``retrain``, else the latest ``train``) that are still in the project
and on disk, with their out-of-fold predictions, embedded with that run's backbone
(cached); their pixel statistics are cached in the project cache by image hash. The batch
is every image file under the folder, read, embedded and predicted here or on a Ray
cluster; unreadable files are reported and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.drift.pixel_stats import STATISTICS, image_statistics
from datacentric.errors import DatacentricError
from datacentric.paths import UNREADABLE_ARRAYS, write_npz
from datacentric.data.images import inspect_image, list_images
from datacentric.runs import OutOfFold, read_oof

if TYPE_CHECKING:
    from datacentric.project import Project
    from datacentric.project.records import Run

__all__ = [
    "Batch",
    "Reference",
    "champion_reference",
    "load_batch",
    "load_reference",
    "new_images",
    "read_batch",
    "reference_statistics",
]


@dataclass
class Reference:
    """The champion train run's training images still readable: what a batch is compared with."""

    run: Run  # the champion train run (reference and model)
    backbone: str  # the run's backbone, which embeds both sides
    ids: list[str]  # N_ref image ids
    paths: list[Path]
    probs: np.ndarray  # (N_ref, K) out-of-fold probabilities
    classes: list[str]  # K class names
    X: np.ndarray  # (N_ref, D) embeddings

    @property
    def predicted(self) -> np.ndarray:
        """Out-of-fold predicted class indices (N_ref,)."""
        return self.probs.argmax(axis=1)


@dataclass
class Batch:
    """The readable new images and what the tests need of them."""

    images: list[Path]  # M readable image files
    skipped: list[dict]  # [{image, reason}] unreadable files
    X: np.ndarray  # (M, D) embeddings
    probs: np.ndarray  # (M, K) the champion model's predicted probabilities
    statistics: np.ndarray | None  # (M, 6) pixel statistics; None without pixel_stats

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class indices (M,)."""
        return self.probs.argmax(axis=1)


def new_images(folder: Path) -> list[Path]:
    """The batch's image files (resolved), refusing a missing or empty folder."""
    if not folder.is_dir():
        raise DatacentricError("folder not found", folder)
    files = [p.resolve() for p in list_images(folder)]
    if not files:
        raise DatacentricError("no images in this folder (png, jpg, bmp, tif)", folder)
    return files


def champion_reference(project: Project) -> tuple[Run, OutOfFold]:
    """The champion train run and its out-of-fold predictions, refused before any image is read."""
    from datacentric.retrain import champion_run

    reference_run = champion_run(project)
    if reference_run is None:
        raise DatacentricError(f"no trained reference yet: run `datacentric train {project.root}` first", project.root)
    return reference_run, read_oof(reference_run)


def read_batch(
    project: Project,
    folder: Path,
    files: list[Path],
    reference_run: Run,
    backbone: str,
    *,
    engine: str,
    address: str | None,
    pixel_stats: bool,
) -> tuple[list[Path], list[dict], dict | None]:
    """The readable files of ``folder``, ``{"image", "reason"}`` for the others and, from Ray, their features.

    With ``engine="local"`` the files are only opened (features: None); with "ray" they are
    embedded, measured and predicted on the cluster (see :func:`_features_on_ray`). Fewer
    than 2 readable images are refused.
    """
    from datacentric.scale.engine import check_engine

    check_engine(engine)
    if engine == "local":
        good, skipped = _readable_images(files)
        features = None
    else:
        good, skipped, features = _features_on_ray(project, files, reference_run, backbone, address, pixel_stats)
    if len(good) < 2:
        raise DatacentricError(
            f"need at least 2 readable images to test, found {len(good)} ({len(skipped)} unreadable)", folder
        )
    return good, skipped, features


def load_reference(project: Project, reference_run: Run, oof: OutOfFold, backbone: str) -> Reference:
    """The training images still in the project and on disk, embedded with ``backbone``."""
    from datacentric.model import embed

    known = {r.id: r for r in project.images(None)}
    keep = [i for i, image_id in enumerate(oof.ids) if image_id in known and known[image_id].path.is_file()]
    if len(keep) < 5:
        raise DatacentricError(f"the reference has only {len(keep)} readable training images (need 5)", project.root)
    ids = [oof.ids[i] for i in keep]
    paths = [known[i].path for i in ids]
    X = embed(paths, ids=ids, **_embed_settings(project, backbone))
    return Reference(reference_run, backbone, ids, paths, oof.probs[keep], oof.classes, X)


def load_batch(
    project: Project,
    reference: Reference,
    good: list[Path],
    skipped: list[dict],
    features: dict | None,
    pixel_stats: bool,
) -> Batch:
    """Embeddings, predicted probabilities and pixel statistics of the batch (here, or from the Ray job)."""
    from datacentric.model import embed, load_classifier

    settings = _embed_settings(project, reference.backbone)
    if features is None:
        X = embed(good, **settings)
        probs = load_classifier(reference.run, cache_dir=project.cache_dir).predict_proba(good)
        return Batch(good, skipped, X, probs, image_statistics(good) if pixel_stats else None)
    X = embed(good, ids=features["ids"], **settings)  # all stored by the Ray job
    return Batch(good, skipped, X, features["probs"], features["statistics"])


def _embed_settings(project, backbone: str) -> dict:
    """The keyword arguments of :func:`datacentric.model.embed` for both sides of the check."""
    return dict(backbone=backbone, cache_dir=project.cache_dir, image_size=project.config.image_size)


def _readable_images(files: list[Path]) -> tuple[list[Path], list[dict]]:
    """The files that open as images, and ``{"image", "reason"}`` for each that does not."""
    good, skipped = [], []
    for path in files:
        try:
            inspect_image(path)
            good.append(path)
        except DatacentricError as exc:
            skipped.append({"image": str(path), "reason": exc.what})
    return good, skipped


def _features_on_ray(
    project, files: list[Path], reference_run: Run, backbone: str, address: str | None, pixel_stats: bool
) -> tuple[list[Path], list[dict], dict]:
    """Embed, measure and predict the new images on a Ray cluster, in one session.

    Returns the readable files, the skipped ones and, in their order, ``ids``, ``probs`` and
    ``statistics`` (None without ``pixel_stats``).
    """
    from datacentric.scale.embed import embed_images
    from datacentric.scale.engine import ray_session
    from datacentric.scale.predict import predict_probs

    with ray_session(address):
        done = embed_images(
            project,
            files,
            engine="ray",
            address=address,
            backbone=backbone,
            statistics=image_statistics if pixel_stats else None,
        )
        keep = [i for i, image_id in enumerate(done.ids) if image_id]
        good = [Path(done.paths[i]) for i in keep]
        probs, errors = predict_probs(reference_run, good, engine="ray", address=address, cache_dir=project.cache_dir)
    skipped = [{"image": path, "reason": reason} for path, reason in {**done.errors, **errors}.items()]
    statistics = done.statistics[keep] if pixel_stats and done.statistics is not None else None
    features = {"ids": [done.ids[i] for i in keep], "probs": probs, "statistics": statistics}
    return good, skipped, features


_STATS_CACHE = "pixel_stats_v1.npz"  # bump the version when the statistics change


def reference_statistics(project: Project, ids: list[str], paths: list[Path]) -> np.ndarray:
    """Pixel statistics of the reference images, cached in the project cache by image hash."""
    cache = Path(project.cache_dir) / _STATS_CACHE
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        try:
            with np.load(cache) as stored:
                if [str(n) for n in stored["names"]] == list(STATISTICS):
                    known = dict(zip((str(i) for i in stored["ids"]), stored["values"]))
        except UNREADABLE_ARRAYS:
            known = {}  # unreadable cache: recompute
    missing = [i for i, image_id in enumerate(ids) if image_id not in known]
    if missing:
        values = image_statistics([paths[i] for i in missing])
        known.update({ids[i]: row for i, row in zip(missing, values)})
        write_npz(cache, ids=np.array(list(known)), values=np.vstack(list(known.values())), names=np.array(STATISTICS))
    return np.vstack([known[i] for i in ids])
