"""The demo data set: labelled part photos from three annotators, and production batches."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from datacentric.demo.annotators import ANNOTATORS, Annotations, annotate
from datacentric.demo.render import CAMERAS, Camera, render
from datacentric.demo.scene import CLASSES, UNSEEN, Scene, draw_scene
from datacentric.errors import DatacentricError

__all__ = ["SHIFTS", "DemoData", "generate_batch", "generate_demo"]

SHIFTS = ("none", "lighting", "blur", "new_camera", "defect_rate", "unseen_defect")

_P_CAMERA_B = 0.4  # camera B is the harder slice
_P_NIGHT = 0.4
_NIGHT = {"exposure": 0.88, "warm": -1.0}  # the night shift's lamps: a little dimmer and cooler
_SHIFTED_CAMERA = Camera(exposure=1.05, contrast=1.15, cast=(1.10, 1.0, 0.84), noise=0.028, softness=2, gamma=0.85)
_DEFECT_RATE_MIX = {"ok": 0.04, "scratch": 0.4, "dent": 0.08, "pit": 0.4, "discoloration": 0.08}
_SHOTS_PER_PART = {1: 0.8, 2: 0.12, 3: 0.08}  # how many photos one physical part gets


@dataclass
class DemoData:
    """What :func:`generate_demo` wrote.

    ``files`` are all images (absolute paths, name order); ``counts`` is per true
    class, ``folder_counts`` per folder (mira's labels); ``wrong_files`` are the
    images whose label every annotator got wrong the same way (``wrong_label=1``
    in the ground truth); ``errors`` counts each annotator's wrong labels (the
    shared wrong ones included).
    """

    root: Path
    photos_dir: Path
    labels_csv: Path
    ground_truth_csv: Path
    classes: list[str]
    files: list[Path]
    counts: dict[str, int]
    folder_counts: dict[str, int]
    wrong_files: list[Path]
    errors: dict[str, int] = field(default_factory=dict)
    labelled: dict[str, int] = field(default_factory=dict)  # images each annotator labelled

    @property
    def n_images(self) -> int:
        """How many images were written."""
        return len(self.files)


@dataclass
class _Item:
    index: int
    label: str
    line: str
    camera: str
    shift: str
    scene: Scene
    part: str = ""  # the physical part photographed (part_id)
    shot: int = 0  # 0 = the part's first photo; 1, 2 = photographed again


def _draw_items(rng: np.random.Generator, labels: list[str]) -> list[_Item]:
    items = []
    for index, label in enumerate(labels):
        line = "L1" if rng.random() < 0.5 else "L2"
        camera = "B" if rng.random() < _P_CAMERA_B else "A"
        shift = "night" if rng.random() < _P_NIGHT else "day"
        items.append(_Item(index, label, line, camera, shift, draw_scene(rng, label, line)))
    return items


def _assign_parts(rng: np.random.Generator, items: list[_Item]) -> None:
    """Make some photos repeated shots of one part: same true label, same line, same surface.

    Within each (label, line), photos are shuffled and dealt into parts of 1-3 photos; a
    part's later photos take its first photo's scene (and are rendered with a new light,
    see :func:`render`). Camera and shift stay each photo's own: a part is photographed
    again at another station or time. ``part`` is named after the part's first photo.
    """
    sizes, odds = list(_SHOTS_PER_PART), np.array(list(_SHOTS_PER_PART.values()))
    buckets: dict[tuple[str, str], list[_Item]] = {}
    for it in items:
        buckets.setdefault((it.label, it.line), []).append(it)
    for key in sorted(buckets):
        pool = [buckets[key][int(i)] for i in rng.permutation(len(buckets[key]))]
        while pool:
            shots = sorted(pool[: int(rng.choice(sizes, p=odds / odds.sum()))], key=lambda it: it.index)
            pool = pool[len(shots) :]
            for shot, it in enumerate(shots):
                it.part, it.shot = f"P{shots[0].index:04d}", shot
                if shot:
                    it.scene = shots[0].scene


def _picture(item: _Item, size: int, camera: Camera | None = None, exposure: float = 1.0) -> Image.Image:
    night = item.shift == "night"
    pixels = render(
        item.scene,
        size,
        camera or CAMERAS[item.camera],
        exposure=exposure * (_NIGHT["exposure"] if night else 1.0),
        warm=_NIGHT["warm"] if night else 0.0,
        shot=item.shot,
    )
    return Image.fromarray(pixels, mode="RGB")


def _check_rate(name: str, value: float, top: float = 1.0) -> float:
    value = float(value)
    if not 0.0 <= value < top:
        raise DatacentricError(f"{name} must be in [0, {top}), got {value}", "generate_demo")
    return value


def generate_demo(
    out_dir: Path | str,
    *,
    per_class: int = 50,
    seed: int = 0,
    annotator_error: tuple[float, float, float] = (0.03, 0.08, 0.25),
    wrong_labels: float = 0.06,
    image_size: int = 128,
    overwrite: bool = False,
) -> DemoData:
    """Write the demo data set: part photos labelled by three annotators, with ground truth.

    Parameters
    ----------
    out_dir : folder to write into; gets ``photos/<label>/part_NNNN.png`` (labelled by
        annotator "mira", one folder per class), ``labels_extra.csv`` (``file,label,
        annotator,line,camera,shift,part_id``: every label of mira, tom and ana; ana labelled
        about half of the images; ``part_id`` names the physical part, photographed 1-3
        times) and ``ground_truth.csv`` (``file,true_label,line,camera,shift,part_id,
        wrong_label,mira,tom,ana``). Paths in both CSVs are relative to ``out_dir``.
    per_class : images per true class (classes: ok, scratch, dent, pit, discoloration).
    seed : the same seed gives byte-identical files.
    annotator_error : error rates of mira, tom and ana on the images outside the shared
        wrong ones; errors fall on hard images and on plausible confusions (pit/scratch,
        dent/ok, discoloration/ok) more than others.
    wrong_labels : share of images all annotators label with the same wrong class
        (systematic errors that voting cannot fix); flagged ``wrong_label=1``.
    image_size : side of the square images in pixels.
    overwrite : replace an earlier demo in ``out_dir`` (only the files it writes are removed).
    """
    rates, share_wrong = _check_demo_args(per_class, image_size, annotator_error, wrong_labels)
    root = Path(out_dir)
    photos = root / "photos"
    _prepare(root, photos, overwrite)

    items, difficulty = _draw_photos(seed, per_class)
    # annotations: their own random stream
    truth = np.array([it.label for it in items])
    notes = annotate(np.random.default_rng([seed, 1]), truth, difficulty, rates, share_wrong)

    files = _write_photos(items, notes.given["mira"], photos, image_size)
    rel = [path.relative_to(root).as_posix() for path in files]
    labels_csv = _write_labels_csv(root / "labels_extra.csv", items, rel, notes)
    truth_csv = _write_truth_csv(root / "ground_truth.csv", items, rel, notes)
    given, labelled = notes.given, notes.labelled
    return DemoData(
        root=root,
        photos_dir=photos,
        labels_csv=labels_csv,
        ground_truth_csv=truth_csv,
        classes=list(CLASSES),
        files=files,
        counts={c: int((truth == c).sum()) for c in CLASSES},
        folder_counts={c: int((given["mira"] == c).sum()) for c in CLASSES},
        wrong_files=[files[i] for i in np.flatnonzero(notes.wrong)],
        errors={a: int(((given[a] != truth) & labelled[a]).sum()) for a in ANNOTATORS},
        labelled={a: int(labelled[a].sum()) for a in ANNOTATORS},
    )


def _draw_photos(seed: int, per_class: int) -> tuple[list[_Item], np.ndarray]:
    """The photos to render, shuffled, and how hard each is to label (mean ~1).

    They depend only on ``seed`` and ``per_class`` (and the image size, when rendered).
    """
    scene_rng = np.random.default_rng([seed, 0])
    labels = [c for c in CLASSES for _ in range(per_class)]
    labels = [labels[i] for i in scene_rng.permutation(len(labels))]
    items = _draw_items(scene_rng, labels)
    # mean ~1: errors fall on hard images
    difficulty = 0.5 + np.array([it.scene.subtlety for it in items])
    # parts after difficulty: how hard a photo is to label stays its own draw, so making some
    # photos repeated shots of a part moves no label of the others
    _assign_parts(np.random.default_rng([seed, 5]), items)
    return items, difficulty


def _check_demo_args(
    per_class: int, image_size: int, annotator_error: tuple[float, ...], wrong_labels: float
) -> tuple[list[float], float]:
    """Refuse impossible settings; the annotators' error rates and the share of shared wrong labels."""
    if per_class < 1:
        raise DatacentricError(f"per_class must be at least 1, got {per_class}", "generate_demo")
    if image_size < 16:
        raise DatacentricError(f"image_size must be at least 16, got {image_size}", "generate_demo")
    if len(annotator_error) != len(ANNOTATORS):
        raise DatacentricError(f"annotator_error needs {len(ANNOTATORS)} rates (mira, tom, ana)", "generate_demo")
    rates = [_check_rate(f"annotator_error[{i}]", r) for i, r in enumerate(annotator_error)]
    return rates, _check_rate("wrong_labels", wrong_labels, 0.5)


def _write_photos(items: list[_Item], folders: np.ndarray, photos: Path, image_size: int) -> list[Path]:
    """Render every item into ``photos/<folder label>/part_NNNN.png``; the paths in item order."""
    files: list[Path] = []
    for it in items:
        folder = photos / folders[it.index]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part_{it.index:04d}.png"
        _picture(it, image_size).save(path, format="PNG", optimize=False)
        files.append(path)
    return files


def _write_labels_csv(path: Path, items: list[_Item], rel: list[str], notes: Annotations) -> Path:
    """``labels_extra.csv``: one row per label an annotator gave, with the photo's metadata."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "label", "annotator", "line", "camera", "shift", "part_id"])
        for it in items:
            for a in ANNOTATORS:
                if notes.labelled[a][it.index]:
                    label = notes.given[a][it.index]
                    writer.writerow([rel[it.index], label, a, it.line, it.camera, it.shift, it.part])
    return path


def _write_truth_csv(path: Path, items: list[_Item], rel: list[str], notes: Annotations) -> Path:
    """``ground_truth.csv``: each photo's true label, metadata, shared-wrong flag and every annotator's label."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        header = ["file", "true_label", "line", "camera", "shift", "part_id", "wrong_label"]
        writer.writerow([*header, *ANNOTATORS])
        for it in items:
            i = it.index
            marks = [notes.given[a][i] if notes.labelled[a][i] else "" for a in ANNOTATORS]
            row = [rel[i], notes.truth[i], it.line, it.camera, it.shift, it.part, int(notes.wrong[i])]
            writer.writerow([*row, *marks])
    return path


def _prepare(root: Path, photos: Path, overwrite: bool) -> None:
    present = [p for p in photos.rglob("*") if p.is_file()] if photos.is_dir() else []
    earlier = sorted(photos.glob("*/part_*.png")) if photos.is_dir() else []
    if set(present) - set(earlier):
        raise DatacentricError("photos/ holds files the demo did not write; choose an empty folder", photos)
    if earlier and not overwrite:
        raise DatacentricError("a demo data set is already here (pass overwrite to replace it)", root)
    for path in earlier:
        path.unlink()
    for folder in sorted(photos.glob("*")) if photos.is_dir() else []:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    root.mkdir(parents=True, exist_ok=True)


def generate_batch(
    out_dir: Path | str,
    n: int,
    *,
    seed: int = 0,
    shift: str = "none",
    image_size: int = 128,
) -> list[Path]:
    """Write ``n`` unlabelled "production" images, as-is or shifted, and return their paths.

    Parameters
    ----------
    out_dir : folder for ``img_NNNN.png`` (created; same-named files are replaced).
    n : number of images.
    seed : the same seed gives byte-identical files. With one seed, the shifts
        ``none``, ``lighting``, ``blur`` and ``new_camera`` show the same parts, so
        a shifted batch can be compared image by image with its unshifted twin.
    shift : ``none`` (the demo's own distribution), ``lighting`` (scene light at about
        half), ``blur`` (focus lost), ``new_camera`` (warm colour cast, different
        gamma and noise, half the resolution upscaled), ``defect_rate`` (ok parts
        fall from 20% to 4%, scratches and pits rise to 80%), ``unseen_defect``
        (half the parts show a crack or rust, a defect type not among the classes).
    image_size : side of the square images in pixels.
    """
    if shift not in SHIFTS:
        raise DatacentricError(f"unknown shift '{shift}' (choose from {', '.join(SHIFTS)})", "generate_batch")
    if n < 1:
        raise DatacentricError(f"n must be at least 1, got {n}", "generate_batch")
    if image_size < 16:
        raise DatacentricError(f"image_size must be at least 16, got {image_size}", "generate_batch")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, label in enumerate(_batch_labels(np.random.default_rng([seed, 2]), n, shift)):
        item = _draw_items(np.random.default_rng([seed, 3, i]), [label])[0]
        camera, exposure = None, 1.0
        if shift == "lighting":
            exposure = 0.5
        elif shift == "blur":
            focus = float(np.random.default_rng([seed, 4, i]).uniform(1.4, 2.4))
            base = CAMERAS[item.camera]
            camera = replace(base, blur=float(np.hypot(base.blur, focus)))
        elif shift == "new_camera":
            camera = _SHIFTED_CAMERA
        path = root / f"img_{i:04d}.png"
        _picture(item, image_size, camera, exposure).save(path, format="PNG", optimize=False)
        paths.append(path)
    return paths


def _batch_labels(mix_rng: np.random.Generator, n: int, shift: str) -> list[str]:
    """The true class of each of ``n`` production parts: the demo's mix, or the shifted one."""
    if shift == "defect_rate":
        odds = np.array([_DEFECT_RATE_MIX[c] for c in CLASSES])
        picks = mix_rng.choice(len(CLASSES), size=n, p=odds / odds.sum())
        labels = [CLASSES[int(k)] for k in picks]
    else:
        labels = [CLASSES[int(k)] for k in mix_rng.integers(len(CLASSES), size=n)]
    if shift == "unseen_defect":
        novel = mix_rng.random(n) < 0.5
        kinds = mix_rng.integers(len(UNSEEN), size=n)
        labels = [UNSEEN[int(k)] if new else lab for lab, new, k in zip(labels, novel, kinds)]
    return labels
