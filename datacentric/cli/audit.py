"""``datacentric audit``: likely label errors, weak classes and slices, annotators, a report."""

from __future__ import annotations

import shlex
import webbrowser
from pathlib import Path
from typing import Annotated, Optional

import typer

from datacentric.cli import app
from datacentric.cli.common import JsonOption, ProjectArg, console, print_json, say
from datacentric.project import Project


@app.command()
def audit(
    project: ProjectArg,
    run: Annotated[Optional[str], typer.Option("--run", help="Train run id to audit (default: the latest).")] = None,
    json: JsonOption = False,
    open_: Annotated[bool, typer.Option("--open", help="Open the HTML report in a browser.")] = False,
) -> None:
    """Find likely label errors, weak classes, weak slices and disagreeing annotators.

    Uses the out-of-sample probabilities of a train run; writes an audit run with
    audit.json and a self-contained report.html (works offline).

    Example:  datacentric audit parts/ --open
    """
    from datacentric.audit import find_issues

    with Project.open(project) as proj:
        result = find_issues(proj, run, project_arg=_shown(project))
    if json:
        print_json(result.to_json())
    else:
        for line in result.summary:
            say(line)
        if result.next_steps:
            console.print("  next:")
            for step in result.next_steps:
                say(step, indent=4)
        console.print(f"  report: {result.report}", markup=False, soft_wrap=True)
    if open_ and result.report:
        webbrowser.open(Path(result.report).resolve().as_uri())


def _shown(project: Path) -> str:
    text = str(project)
    return shlex.quote(text if text.endswith("/") else text + "/")
