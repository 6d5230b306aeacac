"""train / load_classifier / predict end to end with the tiny random backbone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datacentric.errors import DatacentricError
from datacentric.data.importers import import_path
from datacentric.model import ProbeClassifier, embed, load_classifier, predict, train
from datacentric.project import Project

TINY = "test_efficientnet@random"


def test_probe_train_writes_the_contracted_run(colour_project):
    result = train(colour_project, mode="probe")
    run = result.run
    assert run.kind == "train" and run.status == "done"
    oof = np.load(run.dir / "oof.npz")
    data = colour_project.dataset()
    assert list(oof["ids"]) == data.ids
    np.testing.assert_array_equal(oof["labels"], data.labels)
    assert oof["probs"].shape == (24, 3) and oof["probs"].dtype == np.float32
    assert list(oof["classes"]) == ["blue", "green", "red"]
    m = run.metrics
    for key in (
        "cv_accuracy",
        "cv_accuracy_std",
        "per_class",
        "seconds",
        "cpu_seconds",
        "backbone",
        "mode",
        "folds",
        "params",
        "model_bytes",
    ):
        assert key in m, key
    assert m["mode"] == "probe" and m["backbone"] == TINY and m["folds"] == 3
    assert m["per_class"]["red"]["n"] == 8 and m["per_class"]["red"]["too_few"] is False
    assert m["cv_accuracy"] > 0.9  # solid colours are easy even for random features
    # the probe keeps its head (3 classes on the 256 features) beside the backbone's name: no model.pt
    assert not (run.dir / "model.pt").exists() and result.model == run.dir / "probe.npz"
    assert m["model_bytes"] == (run.dir / "probe.npz").stat().st_size
    assert m["params"] == 3 * (256 + 1) and m["cpu_seconds"] > 0
    assert colour_project.latest_run("train").id == run.id


def test_model_pt_reproduces_the_probe(colour_project):
    """The probe's head, with standardisation folded in, sits in the timm classifier."""
    result = train(colour_project, mode="probe")
    clf = load_classifier(result.run)
    assert clf.classes == ["blue", "green", "red"] and clf.backbone == TINY
    assert clf.data_config["input_size"] == (3, 32, 32) and not clf.module.training
    data = colour_project.dataset()
    X = embed(data.paths, backbone=TINY, image_size=32)
    probe = ProbeClassifier(C=result.run.config["C"], n_classes=3).fit(X, data.labels)
    np.testing.assert_allclose(clf.predict_proba(data.paths), probe.predict_proba(X), atol=1e-4)
    # the module alone, on the transform's tensors, gives the same
    x = torch.stack([clf.transform(__import__("PIL.Image").Image.open(p).convert("RGB")) for p in data.paths[:3]])
    with torch.no_grad():
        np.testing.assert_allclose(clf.module(x).softmax(-1).numpy(), probe.predict_proba(X[:3]), atol=1e-4)


def test_predict_reports_bad_images_and_names_the_run(colour_project, tmp_path: Path, make_images):
    result = train(colour_project, mode="probe")
    new = tmp_path / "new"
    new.mkdir()
    imgs = make_images(new, {"red": 2, "blue": 1}, seed=5)
    (new / "zz_broken.png").write_bytes(b"garbage")
    preds = predict(colour_project, [new])
    assert [p.path.name for p in preds] == ["blue_000.png", "red_000.png", "red_001.png", "zz_broken.png"]
    assert [p.label for p in preds[:3]] == ["blue", "red", "red"]
    assert all(p.run == result.run.id for p in preds)
    assert abs(sum(preds[0].probs.values()) - 1) < 1e-5 and preds[0].probability == max(preds[0].probs.values())
    assert preds[3].label is None and preds[3].error
    assert imgs


def test_predict_without_a_run_is_a_clear_error(colour_project, tmp_path):
    with pytest.raises(DatacentricError, match="datacentric train"):
        predict(colour_project, [tmp_path])


def test_small_classes_train_and_are_flagged(tmp_path: Path, make_images):
    make_images(tmp_path / "photos", {"red": 6, "green": 2, "blue": 1})
    with Project.init(tmp_path / "p", backbone=TINY) as proj:
        proj.config.image_size = 32
        proj.save_config()
        import_path(proj, tmp_path / "photos", annotator="a")
        result = train(proj)
    pc = result.per_class
    assert pc["blue"]["too_few"] and pc["green"]["too_few"] and not pc["red"]["too_few"]
    assert result.folds == 2 and pc["blue"]["n"] == 1
    assert np.isfinite(result.probs).all()


def test_extra_rows_are_training_only(colour_project, tmp_path: Path, make_images):
    """An augmented copy with its parent's label never gets validated nor counted."""
    extra = make_images(tmp_path / "aug", {"red": 5}, seed=9)["red"]
    data = colour_project.dataset()
    parent = data.ids[list(data.labels).index(2)]
    from datacentric.data.images import content_hash, inspect_image

    with colour_project.transaction():
        for path in extra:
            info = inspect_image(path)
            colour_project.add_image(
                id=info.id,
                path=path,
                width=info.width,
                height=info.height,
                origin="augmented",
                parent=parent,
                generator={"name": "test"},
            )
            colour_project.add_annotation(image_id=info.id, annotator="aug", label="red", source="augment")
    result = train(colour_project)
    oof = np.load(result.run.dir / "oof.npz")
    assert len(oof["ids"]) == 24 and not set(oof["ids"]) & {content_hash(p) for p in extra}
    assert result.run.metrics["n_extra"] == 5 and result.per_class["red"]["n"] == 8


def test_finetune_mode_same_shape_and_repeatable(colour_project):
    a = train(colour_project, mode="finetune", epochs=2, repeats=1, folds=2)
    b = train(colour_project, mode="finetune", epochs=2, repeats=1, folds=2)
    oa, ob = np.load(a.run.dir / "oof.npz"), np.load(b.run.dir / "oof.npz")
    assert oa["probs"].shape == (24, 3)
    np.testing.assert_allclose(oa["probs"], ob["probs"], atol=1e-5)
    assert a.run.metrics["mode"] == "finetune" and a.run.metrics["epochs"] == 2
    assert len(a.run.metrics["fold_losses"]) == 2 and all("val_loss" in f for f in a.run.metrics["fold_losses"])
    clf = load_classifier(a.run.dir / "model.pt")
    assert clf.mode == "finetune" and clf.predict_proba(colour_project.dataset().paths[:2]).shape == (2, 3)


def test_bad_train_input(colour_project, tmp_path: Path):
    with pytest.raises(DatacentricError, match="unknown mode"):
        train(colour_project, mode="magic")
    with Project.init(tmp_path / "empty") as empty:
        with pytest.raises(DatacentricError, match="at least 2"):
            train(empty)
    with pytest.raises(DatacentricError, match="not a datacentric model"):
        bad = tmp_path / "model.pt"
        torch.save({"x": torch.zeros(1)}, bad)
        load_classifier(bad)


@pytest.mark.slow
def test_real_backbone_train_and_predict_offline(tmp_path: Path, make_images, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("DATACENTRIC_ONLINE", raising=False)
    imgs = make_images(tmp_path / "photos", {"red": 6, "green": 6, "blue": 6}, size=64)
    with Project.init(tmp_path / "p") as proj:  # default backbone: tf_efficientnet_lite0, package weights
        import_path(proj, tmp_path / "photos", annotator="a")
        result = train(proj, folds=3)
        assert result.run.metrics["backbone"] == "tf_efficientnet_lite0"
        assert result.cv_accuracy > 0.9 and result.params == 3 * (1280 + 1)  # the probe's head
        assert list((proj.cache_dir / "weights").glob("tf_efficientnet_lite0-*.safetensors"))
        preds = predict(proj, [imgs["green"][0], imgs["blue"][1]])
    assert [p.label for p in preds] == ["green", "blue"]
    clf = load_classifier(result.run)
    assert clf.data_config["mean"] == (0.5, 0.5, 0.5) and clf.data_config["input_size"] == (3, 224, 224)
    assert sum(p.numel() for p in clf.module.parameters()) > 3_000_000  # the whole network, built on use


def test_train_can_leave_images_out(colour_project):
    """A golden set kept for judging models must never be trained on."""
    from datacentric.model import train

    left_out = colour_project.dataset().ids[:3]
    result = train(colour_project)
    assert set(left_out) <= set(result.ids)
    result = train(colour_project, exclude=left_out)
    assert not set(left_out) & set(result.ids) and len(result.ids) == 21
    assert result.run.config["excluded"] == sorted(left_out)


def _with_parts(colour_project, images, tmp_path: Path, *, skip: int = 0) -> None:
    """Attach a part_id to the images (4 parts per class, 2 shots each), leaving out ``skip``."""
    rows = ["file,label,part_id"]
    for label, paths in images.items():
        for i, path in enumerate(paths[skip:]):
            rows.append(f"{path},{label},{label}-{i // 2}")
    (tmp_path / "parts.csv").write_text("\n".join(rows) + "\n")
    import_path(colour_project, tmp_path / "parts.csv", annotator="mira")


def test_group_by_keeps_parts_on_one_side_and_reports_the_leak(colour_project, images, tmp_path: Path):
    _with_parts(colour_project, images, tmp_path)
    result = train(colour_project, mode="probe", group_by="part_id")
    folds = np.load(result.run.dir / "oof.npz")["folds"]
    part = {r.id: r.metadata["part_id"] for r in colour_project.images()}
    ids = list(np.load(result.run.dir / "oof.npz")["ids"])
    for r in range(folds.shape[0]):
        by_part: dict[str, set] = {}
        for i, image_id in enumerate(ids):
            by_part.setdefault(part[image_id], set()).add(int(folds[r, i]))
        assert all(len(f) == 1 for f in by_part.values())
    assert result.run.config["group_by"] == "part_id"
    assert result.run.metrics["groups"] == 12
    assert result.ungrouped_cv_accuracy == result.run.metrics["ungrouped_cv_accuracy"]
    assert 0.0 <= result.ungrouped_cv_accuracy <= 1.0


def test_group_by_refuses_unknown_or_incomplete_columns(colour_project, images, tmp_path: Path):
    with pytest.raises(DatacentricError, match="no image has metadata column 'lot'"):
        train(colour_project, mode="probe", group_by="lot")
    _with_parts(colour_project, images, tmp_path, skip=1)
    with pytest.raises(DatacentricError, match="3 of 24 images have no 'part_id'"):
        train(colour_project, mode="probe", group_by="part_id")
    assert colour_project.latest_run("train") is None  # refused before a run is recorded


def test_audit_names_the_gap_that_grouping_closed(colour_project, images, tmp_path: Path):
    from datacentric.audit import find_issues

    _with_parts(colour_project, images, tmp_path)
    result = train(colour_project, mode="probe", group_by="part_id")
    audit = find_issues(colour_project, report=False)
    line = next(s for s in audit.summary if "kept each part_id" in s)
    assert f"plain folds report {result.ungrouped_cv_accuracy:.2f}" in line
    assert audit.counts["group_by"] == "part_id"


def test_audit_offers_group_by_for_a_column_that_looks_like_a_part_id(colour_project, images, tmp_path: Path):
    from datacentric.audit import find_issues

    _with_parts(colour_project, images, tmp_path)  # 2 shots of each part, 24 images
    train(colour_project, mode="probe")  # the user forgot --group-by
    audit = find_issues(colour_project, report=False)
    step = next(s for s in audit.next_steps if "--group-by" in s)
    assert step.startswith("24 of 24 images share their 'part_id' with another image")
    assert step.endswith("--group-by part_id") and audit.counts["group_by_offered"] == "part_id"
    assert audit.next_steps[-1].startswith("After fixing labels")  # the closing step stays last
    train(colour_project, mode="probe", group_by="part_id")
    again = find_issues(colour_project, report=False)
    assert not any("--group-by" in s for s in again.next_steps) and "group_by_offered" not in again.counts


def test_repeated_columns_are_small_groups_on_every_image():
    from datacentric.model.grouping import repeated_columns

    rows = [
        {"part": f"p{i // 3}", "camera": "AB"[i % 2], "stamp": str(i), "lot": f"l{i // 3}" if i else ""}
        for i in range(30)
    ]
    assert [c.column for c in repeated_columns(rows)] == ["part"]  # camera: 2 values; stamp: none shared
    rows = [{"part": f"p{i}" if i > 1 else "p0"} for i in range(30)]  # one pair among 30: too rare
    assert repeated_columns(rows) == []
    assert repeated_columns([]) == []
    rows = [{"part": f"p{i // 3}", "temp": f"{20 + i % 8}"} for i in range(40)]  # 8 temperatures
    labels = [i // 3 % 2 for i in range(40)]  # a part's shots share their label; a temperature does not
    assert [c.column for c in repeated_columns(rows, labels)] == ["part"]
    assert repeated_columns(rows, labels, min_values=15) == []  # 14 parts cannot fill 15 folds


def _add_twins(colour_project, images, tmp_path: Path, count: int = 1) -> list[tuple[Path, Path]]:
    """Re-import ``count`` images per class as near-identical copies (one pixel changed)."""
    pairs = []
    for label, paths in images.items():
        for path in paths[:count]:
            pixels = np.array(Image.open(path))
            pixels[0, 0] = 255 - pixels[0, 0]
            twin = tmp_path / "twins" / label / f"twin_{path.name}"
            twin.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(twin)
            pairs.append((path, twin))
    import_path(colour_project, tmp_path / "twins", annotator="mira")
    return pairs


def _same_fold(run, colour_project, pairs) -> list[bool]:
    oof = np.load(run.dir / "oof.npz")
    row = {image_id: i for i, image_id in enumerate(oof["ids"])}
    by_path = {str(r.path.name): r.id for r in colour_project.images()}
    folds = oof["folds"]
    return [bool(np.all(folds[:, row[by_path[a.name]]] == folds[:, row[by_path[b.name]]])) for a, b in pairs]


def test_near_duplicate_twins_share_a_fold_and_are_counted(colour_project, images, tmp_path: Path):
    pairs = _add_twins(colour_project, images, tmp_path)
    result = train(colour_project, mode="probe", repeats=3)
    assert all(_same_fold(result.run, colour_project, pairs))
    assert result.twin_pairs == result.run.metrics["twin_pairs"] >= len(pairs)
    groups = list(np.load(result.run.dir / "oof.npz")["groups"])
    assert len(set(groups)) == len(groups) - result.twin_pairs  # each pair is one group, the rest alone
    plain = train(colour_project, mode="probe", repeats=3, twins=False)
    assert plain.run.metrics["twin_pairs"] == 0 and "groups" not in np.load(plain.run.dir / "oof.npz")
    assert not all(_same_fold(plain.run, colour_project, pairs))  # plain folds split twins (the leak)


def test_twins_join_the_group_by_groups(colour_project, images, tmp_path: Path):
    _with_parts(colour_project, images, tmp_path)
    pairs = _add_twins(colour_project, images, tmp_path)
    rows = ["file,label,part_id"] + [f"{b},{b.parent.name},twin-{i}" for i, (_, b) in enumerate(pairs)]
    (tmp_path / "twin_parts.csv").write_text("\n".join(rows) + "\n")
    import_path(colour_project, tmp_path / "twin_parts.csv", annotator="mira")
    result = train(colour_project, mode="probe", group_by="part_id")
    assert all(_same_fold(result.run, colour_project, pairs))
    assert result.run.metrics["groups"] == 12  # each twin joined its original's part


def test_audit_counts_twins_kept_together(colour_project, images, tmp_path: Path):
    from datacentric.audit import find_issues

    _add_twins(colour_project, images, tmp_path)
    result = train(colour_project, mode="probe")
    audit = find_issues(colour_project, report=False)
    assert audit.counts["twin_pairs_kept_together"] == result.twin_pairs >= 3
    line = next(s for s in audit.summary if "near-duplicate pair" in s)
    assert "kept 3 near-duplicate pairs on one side" in line
    assert not any(d.leaks_across_folds for d in audit.near_duplicates)
