"""One rule for "which train run": :func:`datacentric.runs.champion`, and every default caller uses it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from datacentric.runs import OutOfFold, champion, write_oof


def run(run_id, status="done", config=None, metrics=None):
    return SimpleNamespace(id=run_id, status=status, config=config or {}, metrics=metrics or {})


def test_champion_is_the_newest_finished_train_run_no_retrain_rejected():
    first, failed = run("t1"), run("t2", status="failed")
    promoted, rejected = run("t3", config={"excluded": ["g"]}), run("t4", config={"excluded": ["g"]})
    retrains = [
        run("r1", metrics={"promoted": True, "challenger": "t3"}),
        run("r2", metrics={"promoted": False, "challenger": "t4"}),
    ]
    assert champion([], []) is None
    assert champion([first, failed], []) is first
    assert champion([first, failed, promoted, rejected], retrains) is promoted
    # audit and label book read every labelled image's out-of-fold prediction: the newest that left none out
    assert champion([first, failed, promoted, rejected], retrains, complete=True) is first
    assert champion([promoted], retrains[:1], complete=True) is promoted  # none complete: the champion
    unfinished = run("r3", status="running", metrics={"promoted": False, "challenger": "t1"})
    assert champion([first], [unfinished]) is first  # only a finished decision rejects


def _finished_train(project, recall, probs):
    train = project.new_run("train", {"mode": "probe"})
    write_oof(
        train.dir,
        OutOfFold(ids=["a", "b"], labels=np.array([0, 1]), probs=np.array(probs), classes=["ok", "pit"], folds=None),
    )
    per_class = {c: {"recall": r} for c, r in zip(["ok", "pit"], recall)}
    return project.finish_run(train, {"per_class": per_class})


def test_pre_labels_and_improve_follow_the_champion_not_a_rejected_challenger(project):
    from datacentric.improve import find_targets
    from datacentric.labelstudio.tasks import pre_labels

    first = _finished_train(project, [0.2, 0.9], [[0.9, 0.1], [0.2, 0.8]])
    challenger = _finished_train(project, [0.9, 0.1], [[0.1, 0.9], [0.8, 0.2]])
    project.finish_run(project.new_run("retrain"), {"promoted": False, "challenger": challenger.id})

    assert project.train_run().id == first.id  # predict, export, drift, retrain's champion
    used, probs = pre_labels(project, [])
    assert used.id == first.id and probs["a"] == pytest.approx({"ok": 0.9, "pit": 0.1})
    targets, source = find_targets(project)
    assert targets == ["ok"] and first.id in source


def test_probe_head_round_trips_without_torch_and_refuses_a_misshapen_head(tmp_path):
    from datacentric.errors import DatacentricError
    from datacentric.runs import PROBE_FILE, ProbeHead, model_file, read_probe, write_probe

    assert model_file(tmp_path) is None
    head = ProbeHead(
        weight=np.arange(6, dtype=np.float32).reshape(2, 3),
        bias=np.array([0.5, -1.0]),
        classes=["ok", "pit"],
        backbone="tf_efficientnet_lite0",
        data_config={"input_size": (3, 64, 64), "mean": (0.5, 0.5, 0.5), "crop_mode": "center"},
        weights="random",
        pretrained=False,
    )
    path = write_probe(tmp_path, head)
    assert path == tmp_path / PROBE_FILE and model_file(tmp_path) == path
    back = read_probe(tmp_path)
    np.testing.assert_array_equal(back.weight, head.weight)
    assert back.bias.dtype == np.float32 and back.bias.tolist() == [0.5, -1.0]
    assert (back.classes, back.backbone, back.weights, back.pretrained) == (
        ["ok", "pit"],
        head.backbone,
        "random",
        False,
    )
    assert back.data_config == {"input_size": [3, 64, 64], "mean": [0.5, 0.5, 0.5], "crop_mode": "center"}
    with np.load(path, allow_pickle=False) as data:  # plain arrays and JSON text, no pickle
        assert sorted(data.files) == ["bias", "meta", "weight"]
    with pytest.raises(DatacentricError, match="probe head"):
        write_probe(
            tmp_path,
            ProbeHead(
                weight=np.zeros((3, 4)),
                bias=np.zeros(3),
                classes=["a", "b"],
                backbone="x",
                data_config={},
                weights=None,
            ),
        )
    (tmp_path / "model.pt").write_bytes(b"")
    assert model_file(tmp_path) == tmp_path / "model.pt"  # a whole model wins over a head
