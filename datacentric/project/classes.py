"""Renaming, merging and removing classes, keeping every earlier label in the history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.errors import DatacentricError
from datacentric.names import case_twin, clean_class_name, known_spelling
from datacentric.project.annotations import unknown_label
from datacentric.project.records import Annotation
from datacentric.words import plural

if TYPE_CHECKING:
    from datacentric.config import ProjectConfig


class ClassChanges:
    """:class:`~datacentric.project.Project`'s methods that change the class list."""

    root: Path
    config: ProjectConfig

    def rename_class(self, old: str, new: str, *, by: str, note: str | None = None) -> int:
        """Rename class ``old`` to ``new``, or merge it into ``new`` when that class exists.

        Every annotator whose current label (or latest review) is ``old`` gets a new
        annotation with ``new`` (same annotator and source, a note saying why), so the
        history keeps both; later votes on the same image are restated after it, so a
        tie in the consensus is broken as before. Returns the number of labels renamed.
        """
        if not by.strip():
            raise DatacentricError("a class change needs your name (--by)", self.root)
        known = self.classes()
        old = clean_class_name(old, self.root)
        old = known_spelling(old, known)
        if old not in known:
            raise DatacentricError(unknown_label(old, known, kind="class", hint=""), self.root)
        new = clean_class_name(new, self.root, new=new not in known)
        new = known_spelling(new, [k for k in known if k != old])  # onto another class's twin: a merge
        if new == old:
            raise DatacentricError(f"class '{old}' already has that name", self.root)
        twin = case_twin(new, [k for k in known if k != old])
        if twin is not None:
            raise DatacentricError(f"'{new}' differs only by case from the class '{twin}'", self.root)
        verb = "merged into" if new in known else "renamed to"
        why = f"class '{old}' {verb} '{new}' by {by}" + (f": {note}" if note else "")
        added = 0
        renamed_list = [new if c == old else c for c in self.config.classes]
        with self.class_list_change(renamed_list), self.transaction() as conn:
            for ann in _restated(self._counting(), old):
                renamed = ann.label == old
                label, text = (new, why) if renamed else (ann.label, f"restated after: {why}")
                self._append(conn, ann.image_id, ann.annotator, label, ann.source, text)
                added += renamed
        return added

    def remove_class(self, name: str) -> None:
        """Remove a class that no image's current label uses any more (history keeps old ones)."""
        known = self.classes()
        name = clean_class_name(name, self.root)
        name = known_spelling(name, known)
        if name not in known:
            raise DatacentricError(unknown_label(name, known, kind="class", hint=""), self.root)
        left = len({a.image_id for a in self._current_of(name)})
        if left:
            raise DatacentricError(
                f"class '{name}' still labels {plural(left, 'image')}; relabel them or merge "
                f"the class first (datacentric rename-class)",
                self.root,
            )
        if self.config.classes:
            self.config.classes = [c for c in self.config.classes if c != name]
            self.save_config()


def _restated(counting: list[Annotation], old: str) -> list[Annotation]:
    """The annotations a rename of ``old`` appends again, oldest first.

    Per image: each one labelled ``old``, and every later one that counts, so the votes
    keep their order and a tie in the consensus is broken as before the rename.
    """
    first: dict[str, int] = {}
    for ann in counting:
        if ann.label == old:
            first[ann.image_id] = min(first.get(ann.image_id, ann.id), ann.id)
    return [a for a in counting if a.image_id in first and a.id >= first[a.image_id]]
