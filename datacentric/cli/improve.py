"""Commands for fixing the data of weak classes: improve, synth, plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.text import Text

from datacentric.cli import app
from datacentric.cli.common import JsonOption, ProjectArg, console, print_json
from datacentric.project import Project

if TYPE_CHECKING:
    from datacentric.improve import ImproveResult


@app.command()
def improve(
    project: ProjectArg,
    class_: Annotated[
        Optional[list[str]],
        typer.Option("--class", help="Class to improve (repeatable); default: the audit's weak classes."),
    ] = None,
    budget: Annotated[int, typer.Option(help="Images generated per fix and class.")] = 100,
    seeds: Annotated[int, typer.Option(help="Repeated fold splits for the lift measurement.")] = 5,
    generator: Annotated[
        Optional[list[str]], typer.Option(help="Generator to try (repeatable); default: every installed one.")
    ] = None,
    defect_type: Annotated[
        Optional[list[str]],
        typer.Option(
            "--defect-type",
            help="CLASS=TYPE: what a generator draws for a class named unlike its defect (crack=scratch); repeatable.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Measure only; add no images to the project.")] = False,
    json: JsonOption = False,
) -> None:
    """Try targeted augmentation and synthetic images for weak classes; keep only what measurably helps.

    Each fix is measured on real held-out images only (per-class recall and accuracy,
    mean ± spread over seeds); a fix is kept when the target class gains beyond noise
    and nothing else loses beyond noise. Kept images are added tagged augmented/synthetic.

    Example:  datacentric improve parts/ --class pit --budget 100
    """
    from datacentric.improve import improve_project

    with Project.open(project) as proj:
        result = improve_project(
            proj,
            classes=class_ or None,
            budget=budget,
            seeds=seeds,
            generators=generator or None,
            materialise=not dry_run,
            defect_types=_pairs(defect_type or []),
        )
    if json:
        print_json(result.to_json())
    else:
        _print_improve(result)


def _print_improve(result: ImproveResult) -> None:
    """Each fix's before → after on its target with the verdict and why, then what was kept and the advice."""
    console.print(f"targets: {', '.join(result.targets)}")
    for fix in result.fixes:
        for target in fix.targets:
            b, a = fix.before.recall[target], fix.after.recall[target]
            verdict = result.verdict(fix)
            mark = Text(verdict, style="green" if verdict == "kept" else "")
            spread = fix.after.recall_std[target]
            line = (
                f"  {fix.name:<34} {target} recall {b:.2f} → {a:.2f} ± {spread:.2f}  "
                f"accuracy {fix.before.accuracy:.2f} → {fix.after.accuracy:.2f}  "
            )
            console.print(Text(line) + mark)
            console.print(f"      {fix.reason}", markup=False)
    if result.materialised:
        console.print(f"  added {result.materialised} images to the project (tagged, training-only)")
    for path in result.recipes:
        console.print(f"  recipe saved: {path}")
    for note in result.notes:
        console.print(f"  note: {note}", markup=False, soft_wrap=True)
    console.print(f"advice: {result.advice}", markup=False)
    console.print(f"report: {result.report}")


def _pairs(items: list[str]) -> dict[str, str]:
    """``["crack=scratch", ...]`` as ``{"crack": "scratch"}``; anything else is one clear error."""
    from datacentric.errors import DatacentricError

    out = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name.strip() or not kind.strip():
            raise DatacentricError(f"--defect-type wants CLASS=TYPE, got {item!r}", "--defect-type")
        out[name.strip()] = kind.strip()
    return out


@app.command()
def synth(
    project: ProjectArg,
    class_: Annotated[str, typer.Option("--class", help="Class to make images of.")],
    n: Annotated[int, typer.Option("--n", help="How many images.")] = 40,
    generator: Annotated[str, typer.Option(help="Registered generator (see `datacentric plugins`).")] = "copy_paste",
    defect_type: Annotated[
        Optional[str],
        typer.Option(
            "--defect-type",
            help="What the generator draws for this class (default: the class name), e.g. scratch for a class 'crack'.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Make synthetic images of one class and add them, tagged synthetic with their parent.

    They are training-only; `datacentric improve` measures whether they help.

    Example:  datacentric synth parts/ --class pit --n 40 --generator procedural
    """
    from datacentric.improve import synthesize

    with Project.open(project) as proj:
        result = synthesize(proj, class_, n, generator=generator, defect_type=defect_type)
    if json:
        print_json(result)
        return
    where = result.paths[0].parent if result.paths else "-"
    console.print(f"added {len(result.ids)} synthetic {result.target} images ({result.generator}) in {where}")


@app.command()
def plugins(json: JsonOption = False) -> None:
    """List installed generators, backbones and drift detectors, where they come from, and broken plugins.

    DATACENTRIC_PLUGINS=name1,name2 limits which outside plugins load (empty: built-ins only).

    Example:  datacentric plugins
    """
    from datacentric import plugins as registry

    entries = [e for e in registry.entries() if (e.kind, e.name) not in registry.INTERNAL]
    broken = registry.broken_plugins()
    if json:
        print_json(
            {
                "plugins": [{"kind": e.kind, "name": e.name, "plugin": e.plugin, "source": e.source} for e in entries],
                "broken": broken,
            }
        )
        return
    for kind in registry.GROUPS:
        rows = [e for e in entries if e.kind == kind]
        console.print(f"{kind.replace('_', ' ')}s ({len(rows)})")
        for e in rows:
            console.print(f"  {e.name:<24} {e.source}  [{e.plugin}]", markup=False)
    for b in broken:
        what = f" {b.kind} plugin '{b.plugin}' ({b.source}): {b.error}"
        console.print(Text.assemble(("broken", "yellow"), what), soft_wrap=True)
