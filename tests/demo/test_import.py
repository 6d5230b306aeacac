"""The demo imports into a project cleanly, and importing it twice changes nothing."""

from __future__ import annotations

from datacentric.demo import ANNOTATORS, CLASSES
from datacentric.data.images import content_hash
from datacentric.data.importers import import_path
from datacentric.project import Project

from tests.support.files import read_rows


def _state(proj: Project):
    images = sorted((r.id, r.path, tuple(sorted(r.metadata.items()))) for r in proj.images(None))
    return images, len(proj.annotations()), proj.current_labels()


def test_import_twice_changes_nothing(demo, tmp_path):
    with Project.init(tmp_path / "proj", classes=CLASSES) as proj:
        first = import_path(proj, demo.photos_dir, annotator="mira")
        assert first.images_added == 40 and first.annotations_added == 40
        extra = import_path(proj, demo.labels_csv)
        assert extra.images_added == 0 and extra.images_known == 40
        assert extra.annotations_added == 40 + 20  # tom and ana; mira's rows repeat her folders
        state = _state(proj)

        import_path(proj, demo.photos_dir, annotator="mira")
        again = import_path(proj, demo.labels_csv)
        assert again.images_added == 0 and again.annotations_added == 0
        assert _state(proj) == state

        assert proj.annotators() == sorted(ANNOTATORS)
        truth = {content_hash(demo.root / r["file"]): r for r in read_rows(demo.ground_truth_csv)}
        for record in proj.images():
            row = truth[record.id]
            assert record.metadata == {
                "line": row["line"],
                "camera": row["camera"],
                "shift": row["shift"],
                "part_id": row["part_id"],
            }
        for image_id, labels in proj.current_labels().items():
            assert labels == {a: truth[image_id][a] for a in ANNOTATORS if truth[image_id][a]}
