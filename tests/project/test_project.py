from __future__ import annotations

import sqlite3

import pytest

from datacentric.config import ProjectConfig
from datacentric.errors import DatacentricError
from datacentric.data.importers import import_folder
from datacentric.project import Project, SyncLink
from datacentric.status import project_status
from datacentric.project.store import SCHEMA_VERSION
from tests.support.files import store_rows


def test_init_then_open_round_trips_settings(tmp_path):
    Project.init(tmp_path / "p", classes=["ok", "pit"], seed=3).close()
    with Project.open(tmp_path / "p") as proj:
        assert proj.config.classes == ["ok", "pit"] and proj.config.seed == 3
        assert store_rows(proj.root, "SELECT value FROM meta WHERE key='schema_version'")[0][0] == str(SCHEMA_VERSION)


def test_init_twice_and_open_missing_are_errors(tmp_path):
    Project.init(tmp_path / "p").close()
    with pytest.raises(DatacentricError, match="already a datacentric project"):
        Project.init(tmp_path / "p")
    with pytest.raises(DatacentricError, match="not a datacentric project"):
        Project.open(tmp_path)


def test_unknown_setting_is_refused(tmp_path):
    Project.init(tmp_path / "p").close()
    with open(tmp_path / "p" / "datacentric.toml", "a") as handle:
        handle.write('backbon = "resnet18"\n')
    with pytest.raises(DatacentricError, match="unknown setting"):
        ProjectConfig.load(tmp_path / "p" / "datacentric.toml")


def test_failed_transaction_rolls_back(project, photos):
    import_folder(project, photos)
    count = len(project.images())
    with pytest.raises(sqlite3.IntegrityError):
        with project.transaction() as conn:
            conn.execute("DELETE FROM annotations")
            conn.execute("INSERT INTO images(id) VALUES (NULL)")
    assert len(project.images()) == count and len(project.annotations()) == 12


def test_a_write_inside_a_transaction_lands_with_it_or_not_at_all(project, photos):
    import_folder(project, photos)
    image = project.images()[0].id
    with pytest.raises(RuntimeError):
        with project.transaction():
            project.save_sync_links([SyncLink("ls:a#1", image, "7")])
            raise RuntimeError("stop")
    assert project.sync_links("ls:a#1") == []
    with project.transaction():
        project.save_sync_links([SyncLink("ls:a#1", image, "7")])
    assert project.sync_links("ls:a#1") == [SyncLink("ls:a#1", image, "7", {})]


def test_sync_links_are_added_replaced_listed_by_system_and_forgotten(project, photos):
    import_folder(project, photos)
    a, b = [r.id for r in project.images()][:2]
    project.save_sync_links(
        [
            SyncLink("ls:a#1", a, "10", {"title": "one"}),
            SyncLink("ls:a#2", b, "20", {"title": "two"}),
            SyncLink("ls:b#3", a, "30"),
            SyncLink("LS:A#4", a, "40"),
        ]
    )
    project.save_sync_links([SyncLink("ls:a#1", a, "11", {"title": "uno"})])
    assert project.sync_links("ls:a#1") == [SyncLink("ls:a#1", a, "11", {"title": "uno"})]
    # a replaced link keeps its place: the system linked last is still ls:a#2
    assert project.sync_systems("ls:a#") == {"ls:a#1": {"title": "uno"}, "ls:a#2": {"title": "two"}}
    project.forget_sync_system("ls:a#1")
    assert project.sync_links("ls:a#1") == [] and list(project.sync_systems("ls:")) == ["ls:a#2", "ls:b#3"]


def test_has_image_counts_removed_ones(project, photos):
    import_folder(project, photos)
    first = project.images()[0]
    assert project.has_image(first.id) and not project.has_image("0" * 64)
    project.remove_images([first.id], by="rev")
    assert project.has_image(first.id) and first.id not in {r.id for r in project.images()}


def test_dataset_arrays_follow_consensus(project, photos):
    import_folder(project, photos)
    data = project.dataset()
    assert len(data) == 12 and data.classes == ["ok", "pit", "scratch"]
    assert sorted(data.labels.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    assert all(p.exists() for p in data.paths)


def test_runs_are_recorded(project):
    run = project.new_run("train", {"mode": "probe"})
    assert run.dir.is_dir() and project.latest_run("train") is None
    project.finish_run(run, {"cv_accuracy": 0.9})
    latest = project.latest_run("train")
    assert latest.id == run.id and latest.metrics == {"cv_accuracy": 0.9}


def test_status_counts_and_problems(project, photos):
    import_folder(project, photos, annotator="mira")
    info = project_status(project)
    assert info.images == 12 and info.classes == {"ok": 4, "pit": 4, "scratch": 4}
    assert info.annotators == {"mira": 12}
    assert any("fewer than 5 folds" in p for p in info.problems)


def test_image_lookup_by_prefix_path_and_name(project, photos):
    import_folder(project, photos)
    record = project.images()[0]
    assert project.image(record.id[:8]).id == record.id
    assert project.image(record.path).id == record.id
    with pytest.raises(DatacentricError, match="no image"):
        project.image("missing.png")


def test_champion_is_newest_train_run_not_rejected_by_a_retrain(project):
    def finished(kind, metrics=None):
        return project.finish_run(project.new_run(kind), metrics or {})

    assert project.champion() is None
    first = finished("train")
    challenger = finished("train")
    assert project.champion().id == challenger.id
    finished("retrain", {"promoted": False, "challenger": challenger.id})
    assert project.champion().id == first.id  # a rejected challenger never takes over
    assert project.train_run().id == first.id
    later = finished("train")
    assert project.champion().id == later.id  # an explicit train does
    with pytest.raises(DatacentricError, match="not a train run"):
        project.train_run(project.runs("retrain")[0].id)
