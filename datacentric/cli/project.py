"""Commands for the project itself: init, import, status, relabel, history."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from datacentric.cli import app
from datacentric.cli.common import JsonOption, ProjectArg, console, one_line, print_json
from datacentric.csv_files import is_file, is_table
from datacentric.errors import DatacentricError
from datacentric.project import Project
from datacentric.words import plural


@app.command()
def init(
    project: ProjectArg,
    classes: Annotated[
        Optional[str], typer.Option(help="Fixed class list, comma-separated; labels outside it are refused.")
    ] = None,
    backbone: Annotated[Optional[str], typer.Option(help="timm backbone name.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice.")] = 0,
) -> None:
    """Create a new project folder.

    Example:  datacentric init parts/ --classes ok,scratch,dent,pit,discoloration
    """
    names = [c.strip() for c in classes.split(",") if c.strip()] if classes else []
    with Project.init(project, classes=names, backbone=backbone, seed=seed) as proj:
        console.print(f"created project {proj.root} (backbone {proj.config.backbone})", markup=False)
        shown = shlex.quote(str(project))
        console.print(f"next: datacentric import {shown} photos/", soft_wrap=True)


@app.command("import")
def import_(
    project: ProjectArg,
    source: Annotated[Path, typer.Argument(help="A folder photos/<label>/*.png|jpg|bmp|tif, or a CSV (.csv or .tsv).")],
    annotator: Annotated[Optional[str], typer.Option(help="Who labelled these (CSV rows may name their own).")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Import the good files and list the bad ones.")] = False,
    new_classes: Annotated[
        bool, typer.Option("--new-classes", help="Let labels outside the known classes add classes.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Import images and labels. Importing the same images again adds nothing.

    A folder: one sub-folder per class (photos/scratch/001.png). A CSV: columns
    file,label[,annotator][,line,camera,shift,...], separated by commas (or semicolons
    or tabs, as spreadsheets save them); file paths are relative to the
    CSV's folder; several rows per file keep several annotators' labels; other
    columns become metadata used to find weak slices. Once the project has classes, a
    label outside them is refused (with the closest class) unless --new-classes is given.

    Example:  datacentric import parts/ photos/ --annotator mira
              datacentric import parts/ labels_extra.csv
    """
    from datacentric.data.importers import import_path  # Pillow: only when used

    with Project.open(project) as proj:
        result = import_path(proj, source, annotator=annotator, skip_bad=skip_bad, new_classes=new_classes)
    if json:
        print_json(result)
        return
    restored = f", {result.restored} put back after a removal" if result.restored else ""
    metadata = ""
    if result.metadata_columns:
        columns = ", ".join(map(one_line, result.metadata_columns))
        metadata = f", metadata ({columns}) changed on {plural(result.metadata_updated, 'image')}"
    console.print(
        f"imported {plural(result.images_added, 'new image')} ({result.images_known} already "
        f"known{restored}), {plural(result.annotations_added, 'new label')}{metadata} from {result.source}"
    )
    if result.new_classes:
        console.print(f"  new classes: {', '.join(result.new_classes)}")
    for where, reason in result.skipped:
        console.print(f"  skipped {where}: {reason}")
    if result.passed_over:
        console.print(
            f"  passed over {plural(result.passed_over, 'hidden or system item')} (.DS_Store, Thumbs.db, ...)"
        )
    for where, what in result.warnings:
        console.print(f"  warning {where}: {what}")
    if result.unlabelled:
        _say_unlabelled(project, source, result)


def _say_unlabelled(project: Path, source: Path, result) -> None:
    """Images that came in without a label: how many, why, how to label them, how to undo."""
    shown, where = shlex.quote(str(project)), shlex.quote(str(source))
    console.print(
        f"  note: {plural(result.unlabelled, 'image has', 'images have')} no label: "
        f"{result.unlabelled_why}. Train, audit and drift use labelled images only."
    )
    console.print(
        f"  label them: a CSV file,label (one row per image), then "
        f"datacentric import {shown} labels.csv; or datacentric labelstudio push {shown}"
    )
    console.print(f"  undo: datacentric remove-images {shown} {where} --unlabelled --by NAME")


@app.command()
def status(project: ProjectArg, json: JsonOption = False) -> None:
    """Show classes, counts per class/annotator/origin, metadata and problems.

    Example:  datacentric status parts/
    """
    from datacentric.status import project_status

    with Project.open(project) as proj:
        info = project_status(proj)
    if json:
        print_json(info)
        return
    annotators = ", ".join(f"{k} {v}" for k, v in info.annotators.items()) or "none"
    console.print(
        f"{plural(info.images, 'image')} · {plural(len(info.classes), 'class', 'classes')} · "
        f"{plural(len(info.annotators), 'annotator')} ({annotators})"
    )
    console.print("  " + " · ".join(f"{k} {v}" for k, v in info.classes.items()))
    for i, (column, values) in enumerate(info.metadata.items()):  # a column a line: reads at 80 columns
        more = f", ... {len(values)} values" if len(values) > 6 else ""
        console.print(f"  {'metadata:' if i == 0 else '':9} {column} ({', '.join(values[:6])}{more})")
    origins = ", ".join(f"{k} {v}" for k, v in info.origins.items())
    removed = f" · removed {info.removed}" if info.removed else ""
    console.print(f"  origin: {origins or 'none'} · unlabelled {info.unlabelled}{removed} · backbone {info.backbone}")
    console.print(f"  disagreements: {plural(info.disagreements, 'image')} where annotators differ")
    if info.runs:
        console.print("  runs: " + ", ".join(f"{k} {v}" for k, v in info.runs.items()))
    for what, counts in (
        ("stale runs (their process ended before they finished; ignored)", info.stale_runs),
        ("failed runs (they stopped with an error; ignored)", info.failed_runs),
    ):
        if counts:
            console.print(f"  {what}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for problem in info.problems:
        console.print(Text.assemble("  ", ("problem:", "yellow"), f" {problem}"))


@app.command()
def relabel(
    project: ProjectArg,
    image: Annotated[Optional[str], typer.Argument(help="Image id (or unique prefix), path or file name.")] = None,
    label: Annotated[Optional[str], typer.Argument(help="The correct label.")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="Who decided (kept in the history).")] = None,
    note: Annotated[Optional[str], typer.Option(help="Why, in a few words.")] = None,
    decisions: Annotated[
        Optional[Path], typer.Option("--from", help="A CSV of decisions: file,label[,annotator][,note].")
    ] = None,
    new_class: Annotated[
        bool, typer.Option("--new-class", help="LABEL is a new class (else unknown labels are refused).")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Fix labels. The old labels stay in the history; a reviewer's label wins.

    One image: IMAGE LABEL --by NAME. Many: --from decisions.csv, one row per image
    (file,label[,annotator][,note]; files relative to the CSV's folder; rows with an
    empty label are left alone; --by names the reviewer of rows without an annotator).
    Every row is checked first, then all are applied at once, or none.

    Example:  datacentric relabel parts/ pit_017.png scratch --by mira --note thin
              datacentric relabel parts/ --from decisions.csv --by mira
    """
    if decisions is not None:
        if image is not None or label is not None:
            raise DatacentricError("give IMAGE LABEL or --from decisions.csv, not both", decisions)
        _relabel_from(project, decisions, by=by, new_class=new_class, json=json)
        return
    if image is None or label is None:
        raise DatacentricError("relabel needs IMAGE and LABEL (or --from decisions.csv)", project)
    with Project.open(project) as proj:
        annotation = proj.relabel(image, label, by=by or "", note=note, new_class=new_class)
        consensus = proj.labels()[annotation.image_id]
    if json:
        print_json({"annotation": annotation, "consensus": consensus})
        return
    console.print(f"{image}: labelled {label} by {by}; consensus is now {consensus}")


def _relabel_from(project: Path, decisions: Path, *, by: str | None, new_class: bool, json: bool) -> None:
    """``relabel --from``: apply a CSV of decisions and say what moved."""
    from datacentric.decisions import apply_decisions

    with Project.open(project) as proj:
        result = apply_decisions(proj, decisions, by=by, new_class=new_class)
    if json:
        print_json(result)
        return
    console.print(
        f"applied {plural(len(result.annotations), 'decision')} from {result.source} "
        f"(each kept in the history); {plural(len(result.changed), 'consensus label')} changed"
    )
    for item in result.changed:
        console.print(f"  {one_line(Path(item['image']).name)}: {item['before'] or 'unlabelled'} → {item['after']}")
    if result.left_alone:
        console.print(
            f"  left alone: {plural(len(result.left_alone), 'row')} with no label (first: {result.left_alone[0]})"
        )
    if result.ignored_columns:
        console.print(f"  ignored columns: {', '.join(map(one_line, result.ignored_columns))}")
    for item in result.conflicts:
        console.print(
            f"  warning: {one_line(Path(item['image']).name)} is decided {' then '.join(item['labels'])} "
            f"({', '.join(item['rows'])}): the last row wins"
        )


@app.command()
def history(
    project: ProjectArg,
    image: Annotated[Optional[str], typer.Argument(help="Only this image (id, path or file name).")] = None,
    json: JsonOption = False,
) -> None:
    """List every label ever given, oldest first: who, when, from where, replacing what.

    Example:  datacentric history parts/ pit_017.png
    """
    with Project.open(project) as proj:
        changes = proj.history(image)
    if json:
        print_json(changes)
        return
    for c in changes:
        was = f" (was {c.previous})" if c.previous else ""
        note = f" — {one_line(c.note)}" if c.note else ""
        who = f"{one_line(c.path.name)}  {one_line(c.annotator)}"
        what = f"{c.label}{was}  [{c.source}]" if c.event == "label" else f"{c.event} from the project"
        if c.event == "restored":
            what = "put back in the project"
        console.print(f"{c.at[:19]}  {who}: {what}{note}", soft_wrap=True)
    if not changes:
        console.print("no labels yet")


@app.command("rename-class")
def rename_class(
    project: ProjectArg,
    old: Annotated[str, typer.Argument(help="The class to rename.")],
    new: Annotated[str, typer.Argument(help="Its new name; an existing class merges the two.")],
    by: Annotated[str, typer.Option("--by", help="Who decided (kept in the history).")],
    note: Annotated[Optional[str], typer.Option(help="Why, in a few words.")] = None,
) -> None:
    """Rename a class, or merge it into another; every changed label is kept in the history.

    Example:  datacentric rename-class parts/ defekt defect --by mira
    """
    with Project.open(project) as proj:
        merge = new.strip() in proj.classes()
        added = proj.rename_class(old, new, by=by, note=note)
    verb = "merged into" if merge else "renamed to"
    console.print(f"class {old.strip()} {verb} {new.strip()}: {plural(added, 'label')} added to the history")


@app.command("remove-class")
def remove_class(
    project: ProjectArg,
    name: Annotated[str, typer.Argument(help="A class no image is labelled with any more.")],
) -> None:
    """Remove a class that has no labels left (old labels stay in the history).

    Example:  datacentric remove-class parts/ defekt
    """
    with Project.open(project) as proj:
        proj.remove_class(name)
        left = ", ".join(proj.classes()) or "none"
    console.print(f"class {name.strip()} removed; classes: {left}")


@app.command("remove-images")
def remove_images(
    project: ProjectArg,
    images: Annotated[
        list[str], typer.Argument(help="Images (id, path or file name), folders they came from, or CSVs (file column).")
    ],
    by: Annotated[str, typer.Option("--by", help="Who decided (kept in the history).")],
    note: Annotated[Optional[str], typer.Option(help="Why, in a few words.")] = None,
    unlabelled: Annotated[bool, typer.Option("--unlabelled", help="Only the images that have no label.")] = False,
    json: JsonOption = False,
) -> None:
    """Take images out of the project (kept in the history; importing them again brings them back).

    A folder removes every image imported from under it; a CSV, the images of its file
    column. Their labels stay in the history; train, audit and drift no longer use them.

    Example:  datacentric remove-images parts/ photos/ --unlabelled --by mira
              datacentric remove-images parts/ blurry_012.png --by mira
    """
    with Project.open(project) as proj:
        refs = _expand_csv(proj, images)
        removed = proj.remove_images(refs, by=by, note=note, unlabelled_only=unlabelled)
        left = len(proj.images(None))
    if json:
        print_json({"removed": removed, "images_left": left})
        return
    names = ", ".join(one_line(r.path.name) for r in removed[:5]) + (" ..." if len(removed) > 5 else "")
    console.print(f"removed {plural(len(removed), 'image')} ({names}); {plural(left, 'image')} left")
    console.print(
        "  kept in the history (datacentric history); importing their folder or CSV again brings the "
        "photos back (images generated from them stay out)"
    )


def _expand_csv(proj: Project, refs: list[str]) -> list[str]:
    """Each ``.csv`` / ``.tsv`` file among ``refs`` replaced by the images its file column names."""
    out: list[str] = []
    for ref in refs:
        if is_table(ref) and is_file(Path(ref)):
            from datacentric.decisions import images_in_csv

            out.extend(images_in_csv(proj, Path(ref)))
        else:
            out.append(ref)
    return out
