"""Commands for the Label Studio round trip: push, pull."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from datacentric.cli import app
from datacentric.cli.common import JsonOption, PlainGroup, ProjectArg, console, print_json
from datacentric.errors import DatacentricError
from datacentric.project import Project

ls_app = typer.Typer(
    help="Review images in Label Studio: push tasks (pre-labelled, flagged first), pull labels back.",
    no_args_is_help=True,
    cls=PlainGroup,
)
app.add_typer(ls_app, name="labelstudio")

TokenEnvOption = Annotated[
    str,
    typer.Option(
        "--token-env",
        help="Environment variable holding the Label Studio API token (asked for, hidden, when unset).",
    ),
]
TitleOption = Annotated[
    Optional[str], typer.Option("--project", help="Label Studio project title (default '<folder> review').")
]


def _token(env_name: str) -> str:
    token = os.environ.get(env_name, "").strip()
    if token:
        return token
    if not sys.stdin.isatty():
        raise DatacentricError(f"no Label Studio API token: set {env_name} (Account & Settings > Access Token)")
    token = typer.prompt(f"Label Studio API token ({env_name} is not set)", hide_input=True).strip()
    if not token:
        raise DatacentricError("no Label Studio API token given")
    return token


@ls_app.command()
def push(
    project: ProjectArg,
    url: Annotated[str, typer.Option(envvar="LABEL_STUDIO_URL", help="Label Studio server.")] = "http://localhost:8080",
    token_env: TokenEnvOption = "LABEL_STUDIO_API_KEY",
    title: TitleOption = None,
    only_flagged: Annotated[
        bool, typer.Option("--only-flagged", help="Send only the images the latest audit flagged.")
    ] = False,
    recreate: Annotated[
        bool, typer.Option("--recreate", help="If the Label Studio project was deleted there, start a new one.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Send images (one task each) with pre-labels and audit flags; flagged images come first.

    Pushing again adds only what is new: no duplicate tasks or predictions.

    Example:  datacentric labelstudio push parts/ --only-flagged
    """
    token = _token(token_env)
    from datacentric.labelstudio import push as ls_push  # httpx: only when used

    with Project.open(project) as proj:
        result = ls_push(proj, url, token, title=title, only_flagged=only_flagged, recreate=recreate)
    if json:
        print_json(result)
        return
    total = result.tasks_created + result.tasks_existing
    extras = []
    if result.model_version:
        extras.append(f"pre-labelled by run {result.model_version}")
    if result.flagged:
        extras.append(f"{result.flagged} flagged, worst first")
    if result.rules:
        extras.append(f"{result.rules} label book rule{'s' if result.rules != 1 else ''} in the instructions")
    console.print(
        f'{total} tasks in project "{result.title}" (id {result.project_id}): {result.tasks_created} new, '
        f"{result.tasks_existing} already there, {result.predictions_added} pre-labels added"
        + (f" ({', '.join(extras)})" if extras else ""),
        markup=False,
    )
    console.print(f"open {result.url}/projects/{result.project_id}/data", markup=False)


@ls_app.command()
def pull(
    project: ProjectArg,
    url: Annotated[Optional[str], typer.Option(help="Label Studio server (default: where you pushed).")] = None,
    token_env: TokenEnvOption = "LABEL_STUDIO_API_KEY",
    title: TitleOption = None,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Pull the good labels and list the ones the project refuses."),
    ] = False,
    new_classes: Annotated[
        bool,
        typer.Option("--new-classes", help="Let labels outside the known classes add classes."),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Bring every Label Studio annotation back, with the Label Studio user as annotator.

    Labels are added to the history (nothing is overwritten); pulling again adds nothing.
    A label outside the known classes refuses the pull, naming the task, annotation and
    reviewer (--skip-bad pulls the rest, --new-classes adds it as a class).

    Example:  datacentric labelstudio pull parts/
    """
    token = _token(token_env)
    from datacentric.labelstudio import pull as ls_pull  # httpx: only when used

    with Project.open(project) as proj:
        result = ls_pull(proj, token, url=url, title=title, skip_bad=skip_bad, new_classes=new_classes)
    if json:
        print_json(result)
        return
    console.print(
        f"{result.changed} labels changed, {result.confirmed} confirmed, {result.new} new "
        f"({result.added} added to the history, {result.consensus_changed} training labels changed) "
        f'from "{result.title}" · history kept',
        markup=False,
    )
    if result.annotators:
        console.print("annotators: " + ", ".join(result.annotators), markup=False)
    if result.new_classes:
        names = ", ".join(result.new_classes)
        console.print(f"warning: new classes from Label Studio reviewers: {names}")
    for reason in result.refused:
        console.print(f"  skipped {reason}")
