"""Bring images and labels into a project: folder-per-class trees and CSV manifests.

An import is all-or-nothing: every file is validated first, and any problem
(corrupt image, missing file, unknown label, missing column, empty folder)
refuses the whole batch with one line naming it, unless ``skip_bad`` is set,
in which case the good rows are imported and the bad ones listed. Importing the
same images again adds nothing; new labels for known images are appended.

Labels (folder names and CSV labels alike) pass the class-name rule of
:mod:`datacentric.names` (stripped; no path, ``..`` or control characters; no case
variant of a known class). One annotator giving one image two different labels in
one batch is kept in the history in row order and reported in
:attr:`ImportResult.warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datacentric.csv_files import check_table, file_cell_path, is_table, read_table
from datacentric.errors import DatacentricError
from datacentric.names import clean_metadata, clean_text
from datacentric.data.images import ImageInfo, content_hash, inspect_image
from datacentric.progress import track
from datacentric.words import plural
from datacentric.project import Project

__all__ = ["ImportResult", "import_csv", "import_folder", "import_path"]

DEFAULT_ANNOTATOR = "default"


@dataclass
class ImportResult:
    """What an import did."""

    source: str
    images_added: int = 0
    images_known: int = 0
    annotations_added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    # (where, what): one annotator gave one image two labels in this batch; both are kept
    # in the history, in row order, and the later one is the annotator's current label
    warnings: list[tuple[str, str]] = field(default_factory=list)
    new_classes: list[str] = field(default_factory=list)  # classes this import created
    unlabelled: int = 0  # images of this import that still have no label
    unlabelled_why: str = ""  # why they came in unlabelled, in words
    restored: int = 0  # removed images this import brought back (not counted as added)
    metadata_columns: list[str] = field(default_factory=list)  # metadata the source carries
    metadata_updated: int = 0  # known images whose metadata this import changed
    passed_over: int = 0  # hidden files and folders, file browsers' Thumbs.db and desktop.ini


@dataclass
class _Row:
    path: Path
    label: str | None
    annotator: str
    metadata: dict[str, str]
    where: str  # file:line for messages
    problem: str | None = None  # a fault found while reading the row


def import_path(
    project: Project,
    source: Path | str,
    *,
    annotator: str | None = None,
    skip_bad: bool = False,
    new_classes: bool = False,
) -> ImportResult:
    """Import a folder-per-class tree or a ``.csv`` / ``.tsv`` manifest, whichever ``source`` is."""
    source = Path(source)
    options = {"annotator": annotator, "skip_bad": skip_bad, "new_classes": new_classes}
    if source.is_dir():
        return import_folder(project, source, **options)
    if is_table(source):
        return import_csv(project, source, **options)
    if not source.exists():
        raise DatacentricError("nothing to import: path not found", source)
    raise DatacentricError("cannot import this: expected a folder or a .csv (or .tsv) file", source)


def import_folder(
    project: Project,
    folder: Path | str,
    *,
    annotator: str | None = None,
    skip_bad: bool = False,
    new_classes: bool = False,
) -> ImportResult:
    """Import ``folder/<label>/*.png|jpg|bmp|tif``; files at the top level come in unlabelled."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatacentricError("folder not found", folder)
    entries, hidden_folders = _entries(folder)
    files = [p for p in entries if not _system_file(p.name)]
    passed_over = hidden_folders + len(entries) - len(files)
    if not files:
        only = f" (only {plural(passed_over, 'hidden or system item')})" if passed_over else ""
        raise DatacentricError(f"empty folder: no images to import{only}", folder)
    rows = []
    for path in files:
        parts = path.relative_to(folder).parts
        label = parts[0] if len(parts) > 1 else None
        rows.append(_Row(path, label, annotator or DEFAULT_ANNOTATOR, {}, str(path)))
    result = _import_rows(project, rows, str(folder), skip_bad, new_classes)
    result.passed_over = passed_over
    if result.unlabelled:
        flat = all(row.label is None for row in rows)
        result.unlabelled_why = (
            "the folder has no class sub-folders (photos/<class>/x.png)"
            if flat
            else "they lie at the top of the folder, in no class sub-folder"
        )
    return result


# What file browsers leave beside photos: thumbnail caches and folder settings (Windows).
_SYSTEM_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini"})


def _system_file(name: str) -> bool:
    """A file no one put there on purpose: hidden (``.DS_Store``, macOS's ``._photo.png``) or a
    file browser's own (hidden folders are not read at all, see :func:`_entries`).
    """
    return name.startswith(".") or name.lower() in _SYSTEM_NAMES


def _entries(folder: Path) -> tuple[list[Path], int]:
    """Everything under ``folder`` that is not a folder, sorted: files, links that point nowhere
    and special files (each must come in or refuse the batch, never vanish from it).

    A linked folder whose target lies outside ``folder`` is followed (its photos take the
    link's name as their class); one pointing inside is skipped, so a photo comes in under
    its real folder's name and a link loop ends. Each real folder is read once; a hidden one
    (``.git``, a USB stick's unreadable ``.Trashes``) is not read at all, only counted.
    """
    top = folder.resolve()
    found: list[Path] = []
    hidden = 0
    seen: set[Path] = set()
    todo = [folder]
    while todo:
        current = todo.pop(0)
        real = current.resolve()
        if real in seen or (current != folder and current.is_symlink() and real.is_relative_to(top)):
            continue
        seen.add(real)
        for entry in sorted(current.iterdir()):
            if not entry.is_dir():
                found.append(entry)
            elif entry.name.startswith("."):
                hidden += 1
            else:
                todo.append(entry)
    return sorted(found), hidden


def import_csv(
    project: Project,
    manifest: Path | str,
    *,
    annotator: str | None = None,
    skip_bad: bool = False,
    new_classes: bool = False,
) -> ImportResult:
    """Import ``file,label[,annotator][,metadata...]`` rows; paths relative to the CSV's folder.

    Several rows for one file with different annotators are kept as several labels;
    extra columns (line, camera, shift, ...) become image metadata. Once the project has
    classes, a label outside them is refused unless ``new_classes`` is set.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise DatacentricError("CSV file not found", manifest)
    columns, records = _read_csv(manifest)
    extra = [c for c in columns if c not in ("file", "label", "annotator")]
    if "label" not in columns:
        return _attach_csv(project, manifest, columns, records, extra, skip_bad)
    rows = []
    for number, values in records:
        where = f"{manifest}:{number}"
        if len(values) > len(columns):
            rows.append(_Row(manifest, None, "", {}, where, f"row has {len(values)} fields, the header {len(columns)}"))
            continue
        record = dict(zip(columns, (v.strip() for v in values)))
        path = file_cell_path(manifest.parent, record.get("file", ""))
        rows.append(
            _Row(
                path=path,
                label=record.get("label") or None,
                annotator=record.get("annotator") or annotator or DEFAULT_ANNOTATOR,
                metadata={c: record[c] for c in extra if record.get(c)},
                where=where,
                problem=None if record.get("file") else "no file name",
            )
        )
    result = _import_rows(project, rows, str(manifest), skip_bad, new_classes)
    result.metadata_columns = extra
    if result.unlabelled:
        result.unlabelled_why = "their label cell is empty"
    return result


def _attach_csv(
    project: Project,
    manifest: Path,
    columns: list[str],
    records: list[tuple[int, list[str]]],
    extra: list[str],
    skip_bad: bool,
) -> ImportResult:
    """A CSV with metadata but no label column: attach the metadata to images already imported.

    A row's file is matched by content when it exists (relative to the CSV's folder), else
    looked up as an image id, path or unique file name; a row naming no known image is a fault.
    """
    found: list[tuple[str, dict[str, str]]] = []
    problems: list[tuple[str, str]] = []
    for number, values in records:
        where = f"{manifest}:{number}"
        record = dict(zip(columns, (v.strip() for v in values)))
        try:
            if len(values) > len(columns):
                raise DatacentricError(f"row has {len(values)} fields, the header {len(columns)}")
            found.append(
                (
                    _known_image(project, manifest.parent, record.get("file", "")),
                    clean_metadata({c: record[c] for c in extra if record.get(c)}),
                )
            )
        except DatacentricError as exc:
            problems.append((where, exc.what))
    if problems and not skip_bad:
        where, reason = problems[0]
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise DatacentricError(
            f"metadata refused, nothing changed: {reason}{more} (use --skip-bad to attach the rest)", where
        )
    if not found:
        where, reason = problems[0] if problems else (str(manifest), "the file has no rows")
        raise DatacentricError(f"metadata refused, nothing changed: no row names an imported image ({reason})", where)
    result = ImportResult(source=str(manifest), skipped=problems, metadata_columns=extra)
    changed: set[str] = set()
    with project.transaction():
        for image_id, metadata in found:
            if project.attach_metadata(image_id, metadata):
                changed.add(image_id)
    result.images_known = len({image_id for image_id, _ in found})
    result.metadata_updated = len(changed)
    return result


def _known_image(project: Project, folder: Path, text: str) -> str:
    """The id of the project image a CSV ``file`` cell names (by content if the file exists)."""
    if not text:
        raise DatacentricError("no file name")
    candidate = file_cell_path(folder, text)
    if candidate.is_file():
        image_id = content_hash(candidate)
        if project.has_image(image_id) and image_id not in project.removed_ids():
            return image_id
        raise DatacentricError(
            f"'{text}' is not in the project: a CSV without a label column only "
            "adds metadata to imported images (import it first)"
        )
    return project.image(text).id


def _read_csv(manifest: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (checked: file and label present, no column twice) and the numbered rows
    (:func:`datacentric.csv_files.read_table`); a table with metadata columns needs no label.
    """
    columns, records = read_table(manifest)
    metadata_only = "file" in columns and any(c not in ("file", "annotator") for c in columns)
    check_table(columns, records, ("file",) if metadata_only else ("file", "label"), manifest)
    return columns, records


def _import_rows(project: Project, rows: list[_Row], source: str, skip_bad: bool, new_classes: bool) -> ImportResult:
    infos: dict[Path, ImageInfo] = {}
    known = project.classes()
    problems: list[tuple[str, str]] = []
    good: list[_Row] = []
    new_labels: list[str] = []
    for row in track(rows, "checking images", total=len(rows)):
        try:
            _check_row(project, row, new_labels, infos, known, new_classes)
        except DatacentricError as exc:
            named = "" if row.problem or row.where == str(row.path) else f": {row.path}"
            problems.append((row.where, f"{exc.what}{named}"))
            continue
        good.append(row)
    if problems and not skip_bad:
        where, reason = problems[0]
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise DatacentricError(
            f"import refused, nothing imported: {reason}{more} (use --skip-bad to import the rest)", where
        )
    if not good:
        raise DatacentricError("no valid images to import", source)
    result = ImportResult(source=source, skipped=problems, warnings=_conflicts(good, infos))
    seen: set[str] = set()
    removed = project.removed_ids()
    updated: set[str] = set()
    with project.class_list_change([*project.config.classes, *new_labels]), project.transaction():
        for row in good:
            info = infos[row.path]
            if row.metadata and project.has_image(info.id) and project.attach_metadata(info.id, row.metadata):
                updated.add(info.id)
            added = project.add_image(
                id=info.id,
                path=info.path,
                width=info.width,
                height=info.height,
                metadata=row.metadata,
                by=row.annotator,
            )
            if info.id not in seen:
                seen.add(info.id)
                if added and info.id in removed:
                    result.restored += 1
                elif added:
                    result.images_added += 1
                else:
                    result.images_known += 1
            if row.label is not None and project.add_annotation(
                image_id=info.id,
                annotator=row.annotator,
                label=row.label,
                source="import",
                new_class=new_classes,
            ):
                result.annotations_added += 1
    result.new_classes = [n for n in new_labels if known]
    result.metadata_updated = len(updated)
    result.unlabelled = len(seen - set(project.labels()))
    return result


def _check_row(
    project: Project,
    row: _Row,
    new_labels: list[str],
    infos: dict[Path, ImageInfo],
    known: list[str],
    new_classes: bool,
) -> None:
    """Validate one row in place (label cleaned, image inspected once); raise on a fault."""
    if row.problem:
        raise DatacentricError(row.problem)
    clean_text(row.annotator, "annotator name")
    row.metadata = clean_metadata(row.metadata)
    if row.label is not None:
        row.label = project.check_label(row.label, pending=new_labels, known=known, new_class=new_classes)
        if row.label not in known and row.label not in new_labels:
            new_labels.append(row.label)
    if row.path not in infos:
        infos[row.path] = inspect_image(row.path)


def _conflicts(rows: list[_Row], infos: dict[Path, ImageInfo]) -> list[tuple[str, str]]:
    """One annotator's different labels for one image in one batch (same bytes twice, two rows)."""
    last: dict[tuple[str, str], _Row] = {}
    found = []
    for row in rows:
        if row.label is None:
            continue
        key = (infos[row.path].id, row.annotator)
        before = last.get(key)
        if before is not None and before.label != row.label:
            found.append(
                (
                    row.where,
                    (
                        f"{row.annotator} labels this image '{row.label}' here after "
                        f"'{before.label}' at {before.where}; both kept, "
                        f"'{row.label}' counts"
                    ),
                )
            )
        last[key] = row
    return found
