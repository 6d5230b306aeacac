"""A fixed class list and the labels that use it change together: no committed label is ever
outside the list, and a failure leaves both as they were."""

from __future__ import annotations

import errno

import pytest

from datacentric.config import ProjectConfig
from datacentric.errors import DatacentricError
from datacentric.project import Project


@pytest.fixture
def fixed(tmp_path, photos):
    from datacentric.data.importers import import_path

    with Project.init(tmp_path / "fixed", classes=["ok", "pit", "scratch"]) as proj:
        import_path(proj, photos, annotator="mira")
        yield proj


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_new_class_the_settings_cannot_save_changes_nothing(fixed, monkeypatch):
    image = fixed.images()[0]
    history = len(fixed.history())
    monkeypatch.setattr(ProjectConfig, "save", _disk_full)
    with pytest.raises(OSError, match="No space"):
        fixed.relabel(image.id, "purple", by="lead", new_class=True)
    monkeypatch.undo()
    assert len(fixed.history()) == history and "purple" not in fixed.labels().values()
    assert fixed.classes() == ["ok", "pit", "scratch"]
    assert Project.open(fixed.root).classes() == ["ok", "pit", "scratch"]


def test_labels_that_fail_to_commit_take_their_new_class_back(fixed, monkeypatch):
    image = fixed.images()[0]

    def broken(*args, **kwargs):
        raise DatacentricError("disk gone", "store")

    monkeypatch.setattr(type(fixed), "_append", staticmethod(broken))
    with pytest.raises(DatacentricError, match="disk gone"):
        fixed.relabel(image.id, "purple", by="lead", new_class=True)
    monkeypatch.undo()
    assert Project.open(fixed.root).classes() == ["ok", "pit", "scratch"]
    fixed.relabel(image.id, "purple", by="lead", new_class=True)  # and it works once the fault is gone
    assert Project.open(fixed.root).classes() == ["ok", "pit", "scratch", "purple"]


def test_a_rename_lists_the_new_name_whenever_a_label_carries_it(fixed, monkeypatch):
    saved: list[list[str]] = []
    real_save = ProjectConfig.save

    def recording(self, path):
        saved.append(list(self.classes))
        real_save(self, path)

    monkeypatch.setattr(ProjectConfig, "save", recording)
    fixed.rename_class("pit", "dent", by="lead")
    assert saved == [["ok", "pit", "scratch", "dent"], ["ok", "dent", "scratch"]]  # both, then the new list
    assert Project.open(fixed.root).classes() == ["ok", "dent", "scratch"]
