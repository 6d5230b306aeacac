"""Commands for the project itself: init, import, status, relabel, history."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from datacentric.cli import app
from datacentric.cli._common import JsonOption, ProjectArg, console, one_line, print_json
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
        console.print(f"created project {proj.root} (backbone {proj.config.backbone})")
        shown = shlex.quote(str(project))
        console.print(f"next: datacentric import {shown} photos/", soft_wrap=True)


@app.command("import")
def import_(
    project: ProjectArg,
    source: Annotated[Path, typer.Argument(help="A folder photos/<label>/*.png|jpg|bmp|tif, or a CSV.")],
    annotator: Annotated[
        Optional[str], typer.Option(help="Who labelled these (CSV rows may name their own).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Import the good files and list the bad ones.")
    ] = False,
    new_classes: Annotated[
        bool, typer.Option("--new-classes", help="Let labels outside the known classes add classes.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Import images and labels. Importing the same images again adds nothing.

    A folder: one sub-folder per class (photos/scratch/001.png). A CSV: columns
    file,label[,annotator][,line,camera,shift,...]; file paths are relative to the
    CSV's folder; several rows per file keep several annotators' labels; other
    columns become metadata used to find weak slices. Once the project has classes, a
    label outside them is refused (with the closest class) unless --new-classes is given.

    Example:  datacentric import parts/ photos/ --annotator mira
              datacentric import parts/ labels_extra.csv
    """
    from datacentric.importers import import_path  # Pillow: only when used

    with Project.open(project) as proj:
        result = import_path(proj, source, annotator=annotator, skip_bad=skip_bad,
                             new_classes=new_classes)
    if json:
        print_json(result)
        return
    console.print(
        f"imported {plural(result.images_added, 'new image')} ({result.images_known} already "
        f"known), {plural(result.annotations_added, 'new label')} from {result.source}"
    )
    if result.new_classes:
        console.print(f"  new classes: {', '.join(result.new_classes)}")
    for where, reason in result.skipped:
        console.print(f"  skipped {where}: {reason}")
    for where, what in result.warnings:
        console.print(f"  warning {where}: {what}")


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
    if info.metadata:
        console.print("  metadata: " + ", ".join(f"{k} ({', '.join(v[:6])})" for k, v in info.metadata.items()))
    origins = ", ".join(f"{k} {v}" for k, v in info.origins.items())
    console.print(f"  origin: {origins or 'none'} · unlabelled {info.unlabelled} · backbone {info.backbone}")
    console.print(f"  disagreements: {plural(info.disagreements, 'image')} where annotators differ")
    if info.runs:
        console.print("  runs: " + ", ".join(f"{k} {v}" for k, v in info.runs.items()))
    if info.stale_runs:
        stale = ", ".join(f"{k} {v}" for k, v in info.stale_runs.items())
        console.print(f"  stale runs (their process ended before they finished; ignored): {stale}")
    for problem in info.problems:
        console.print(Text.assemble("  ", ("problem:", "yellow"), f" {problem}"))


@app.command()
def relabel(
    project: ProjectArg,
    image: Annotated[str, typer.Argument(help="Image id (or unique prefix), path or file name.")],
    label: Annotated[str, typer.Argument(help="The correct label.")],
    by: Annotated[str, typer.Option("--by", help="Who decided (kept in the history).")],
    note: Annotated[Optional[str], typer.Option(help="Why, in a few words.")] = None,
    new_class: Annotated[
        bool, typer.Option("--new-class", help="LABEL is a new class (else unknown labels are refused).")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Fix one image's label. The old labels stay in the history; a reviewer's label wins.

    Example:  datacentric relabel parts/ pit_017.png scratch --by mira --note thin
    """
    with Project.open(project) as proj:
        annotation = proj.relabel(image, label, by=by, note=note, new_class=new_class)
        consensus = proj.labels()[annotation.image_id]
    if json:
        print_json({"annotation": annotation, "consensus": consensus})
        return
    console.print(f"{image}: labelled {label} by {by}; consensus is now {consensus}")


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
        console.print(f"{c.at[:19]}  {who}: {c.label}{was}  [{c.source}]{note}", soft_wrap=True)
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
    console.print(f"class {old.strip()} {verb} {new.strip()}: {plural(added, 'label')} "
                  "added to the history")


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
