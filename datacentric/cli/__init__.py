"""The ``datacentric`` command line: a thin layer over the Python API.

Each sub-module adds its commands to :data:`app`; add one import below per module.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from datacentric.cli.common import ErrorsAsOneLine, PlainUsage

if TYPE_CHECKING:
    from typer.models import CommandInfo, TyperInfo

app = typer.Typer(
    cls=ErrorsAsOneLine,
    help=(
        "Data-centric AI for small image data sets: import labelled photos, train with "
        "cross-validation, find label errors and weak classes, fix the data, watch for "
        "drift, and export a small model.\n\n"
        "Start with:  datacentric demo   (builds a demo project and runs every step)"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each import registers that module's commands; keep them sorted.
from datacentric.cli import audit as _audit  # noqa: E402,F401
from datacentric.cli import demo as _demo  # noqa: E402,F401
from datacentric.cli import drift as _drift  # noqa: E402,F401
from datacentric.cli import export as _export  # noqa: E402,F401
from datacentric.cli import improve as _improve  # noqa: E402,F401
from datacentric.cli import labelbook as _labelbook  # noqa: E402,F401
from datacentric.cli import labelstudio as _labelstudio  # noqa: E402,F401
from datacentric.cli import model as _model  # noqa: E402,F401
from datacentric.cli import project as _project  # noqa: E402,F401
from datacentric.cli import scale as _scale  # noqa: E402,F401

# --help lists the commands in the order of the loop, one panel per step.
STEPS = {
    "1. Set up": ["demo", "init", "import", "remove-images", "status"],
    "2. Train and audit": [
        "train",
        "predict",
        "audit",
        "labelbook",
        "relabel",
        "history",
        "rename-class",
        "remove-class",
        "labelstudio",
    ],
    "3. Fix the data": ["improve", "synth", "plugins"],
    "4. Ship and watch": ["export", "embed", "drift", "retrain"],
}
_ORDER = [name for names in STEPS.values() for name in names]


def command_name(info: CommandInfo | TyperInfo) -> str:
    """The name a registered command (or sub-app) is typed as."""
    return info.name or info.callback.__name__.replace("_", "-")


def reflow(doc: str) -> str:
    """A docstring as help text: each prose paragraph on one line, so the terminal wraps it
    at its own width (no orphaned words at 80 columns); example lines stay as written.
    """
    import inspect

    paragraphs = []
    for block in inspect.cleandoc(doc).split("\n\n"):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        literal = any(line.lstrip().startswith(("Example", "datacentric ")) for line in lines)
        paragraphs.append("\n".join(lines) if literal else " ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


_PANEL = {name: step for step, names in STEPS.items() for name in names}
for _info in [*app.registered_commands, *app.registered_groups]:
    if command_name(_info) not in _PANEL:
        raise RuntimeError(f"command '{command_name(_info)}' is in no step of datacentric.cli.STEPS; add it there")
    _info.rich_help_panel = _PANEL[command_name(_info)]
for _command in [
    *app.registered_commands,
    *(c for g in app.registered_groups for c in g.typer_instance.registered_commands),
]:
    if _command.cls in (None, TyperCommand):
        _command.cls = PlainUsage
    if _command.help is None and _command.callback is not None and _command.callback.__doc__:
        _command.help = reflow(_command.callback.__doc__)
app.registered_commands.sort(key=lambda info: _ORDER.index(command_name(info)))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        # The process ends here: the interpreter's last garbage-collection pass would walk every
        # object still alive (~10^5 once sklearn, scipy and pandas are loaded: 0.2-0.3 CPU-s) to
        # free memory the OS takes back anyway. Frozen objects are skipped; atexit still runs.
        gc.freeze()
