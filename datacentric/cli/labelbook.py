"""``datacentric labelbook``: canonical and borderline examples per class, and the team's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from datacentric.cli import app
from datacentric.cli.common import JsonOption, ProjectArg, console, print_json
from datacentric.project import Project


@app.command()
def labelbook(
    project: ProjectArg,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Where to write the HTML page (default: PROJECT/labelbook.html).")
    ] = None,
    rule: Annotated[
        Optional[str],
        typer.Option("--rule", help="Keep a rule for two classes: 'pit vs scratch: longer than 2 mm is a scratch'."),
    ] = None,
    run: Annotated[
        Optional[str], typer.Option("--run", help="Train run id (default: the newest complete one).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Write the label book: examples everybody agrees on, the closest calls between classes
    that get confused, and the rule your team wrote for each pair.

    Example:  datacentric labelbook parts/
              datacentric labelbook parts/ --rule "pit vs scratch: 2 mm+ is scratch"
    """
    from datacentric.labelbook import add_rule, build_labelbook, render_labelbook
    from datacentric.paths import write_atomic

    with Project.open(project) as proj:
        target = proj.check_out(out if out is not None else proj.path("labelbook.html"))
        if rule is not None:
            kept = add_rule(proj, rule)
            if not json:
                console.print(f"rule kept for {kept.a} vs {kept.b}", markup=False)
        book = build_labelbook(proj, run)
        write_atomic(target, render_labelbook(book, title=f"Label book of {proj.root.name}"))
    if json:
        print_json({"labelbook": str(target), "book": book})
        return
    pairs = ", ".join(f"{p.a} vs {p.b}" + ("" if p.rule else " (no rule yet)") for p in book.borderline)
    console.print(f"label book: {target}", markup=False, soft_wrap=True)
    console.print(f"confused pairs: {pairs or 'none'}", markup=False)
