"""What every CLI command shares: the console, JSON output, and one-line errors."""

from __future__ import annotations

import errno
import json
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup

from datacentric.errors import DatacentricError
from datacentric.progress import set_enabled
from datacentric.serialize import to_jsonable

__all__ = [
    "AddressOption",
    "EngineOption",
    "JsonOption",
    "PlainGroup",
    "PlainUsage",
    "ProjectArg",
    "console",
    "one_line",
    "print_json",
    "require_at_least",
    "say",
    "to_jsonable",
]

# User text (class names, file names, notes) is never markup: colour goes in through
# rich.text.Text styles, so a name like "[/]" prints as itself and cannot crash a report.
# soft_wrap: rich never breaks a line (a path or a command would be split mid-word and
# could not be copied); the terminal wraps long lines on screen. Tables keep their width.
console = Console(highlight=False, markup=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


def folder(value: str) -> Path:
    """The PROJECT argument as a path (typer shows the name of this parser as its type).

    An empty or blank name is refused in one line: it would mean the current folder.
    """
    if not value.strip():
        raise DatacentricError("the project folder name is empty", "PROJECT")
    return Path(value)


ProjectArg = Annotated[Path, typer.Argument(help="Project folder (made by `datacentric init`).", parser=folder)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]
EngineOption = Annotated[
    str, typer.Option(help='local (this process, the default) or ray (Ray Data; pip install "datacentric\\[ray]").')
]
AddressOption = Annotated[
    Optional[str],
    typer.Option(
        help="Ray cluster to join: auto (the one `ray start` runs here) or HOST:PORT. "
        "Default: a throw-away cluster on this machine."
    ),
]


class PlainGroup(TyperGroup):
    """A command group whose ``--help`` is shown as the switch it is (see :class:`PlainUsage`)."""

    def get_help_option(self, ctx: Any) -> Any:
        """``--help`` without typer's ``<bool>``."""
        return bare_switch(super().get_help_option(ctx))


class ErrorsAsOneLine(PlainGroup):
    """Turn a library error into ``error: <what> (<where>)`` and exit code 1, no traceback."""

    def invoke(self, ctx: Any) -> Any:
        set_enabled(sys.stderr.isatty())
        _tolerant_streams()
        try:
            return super().invoke(ctx)
        except DatacentricError as exc:
            _one_line(str(exc))
        except OSError as exc:
            if exc.errno not in _DISK_ERRORS:
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            _one_line(f"{_DISK_ERRORS[exc.errno]}: {exc.strerror}{where}")
        except sqlite3.DatabaseError as exc:  # OperationalError (locked, read-only) and damaged files
            _one_line(f"cannot use the store: {exc}")


class PlainUsage(TyperCommand):
    """Usage lines as people type them: ``relabel [OPTIONS] PROJECT IMAGE LABEL``.

    Typer >= 0.27 writes required arguments in curly braces, which read as a literal
    to type (braces included), and shows a flag as ``--json <bool>``, as if it took a value.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if getattr(param, "is_flag", False):
                bare_switch(param)

    def get_help_option(self, ctx: Any) -> Any:
        """``--help``, a switch like the others."""
        return bare_switch(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The options placeholder, then each argument in capitals ([NAME] when optional)."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, TyperArgument):
                pieces.extend(param.get_usage_pieces(ctx))
                continue
            name = (param.metavar or param.name or "").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces


def bare_switch(option: Any) -> Any:
    """``option`` without the ``<bool>`` typer shows after an on/off switch in the help."""
    if option is not None and option.metavar is None:
        option.metavar = ""
    return option


# Faults of the machine rather than of datacentric: one line, like a DatacentricError.
_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission to write here",
    errno.EPERM: "no permission to write here",
    errno.ENAMETOOLONG: "a file name would be too long",
}


def require_at_least(value: int | None, least: int, option: str) -> None:
    """Refuse an integer option below ``least`` in one line (``None``: not given)."""
    if value is not None and value < least:
        raise DatacentricError(f"{option} must be at least {least}, got {value}", option)


def _tolerant_streams() -> None:
    """Print any text: a file name that is not valid UTF-8 comes out escaped, never as a crash
    after the store was written (commit, then report, must not fail in the report).
    """
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _one_line(text: str) -> None:
    """Print ``error: <text>`` on stderr (never as markup) and exit 1."""
    err_console.print(f"error: {one_line(text)}", markup=False, soft_wrap=True)
    raise typer.Exit(code=1)


def say(text: str, indent: int = 2) -> None:
    """Print a sentence indented; on a terminal, wrapped at word boundaries to its width.

    Each command it gives (``...: datacentric ...``, up to a dash or the end) goes on a line of
    its own, whole, so it can be copied; piped output keeps one line per sentence, for scripts.
    """
    pad = " " * indent
    if not console.is_terminal:
        console.print(pad + text, markup=False, soft_wrap=True)
        return
    import re
    import textwrap

    width = max(40, console.width)
    lines: list[str] = []
    for i, part in enumerate(re.split(r"(?<=: )(datacentric \S.*?)(?=\s+—\s|$)", text)):
        if i % 2:  # a command
            lines.append(f"{pad}  {part}")
        elif part.strip():
            first = pad if not lines else pad + "  "
            lines += textwrap.wrap(
                part.strip(),
                width,
                initial_indent=first,
                subsequent_indent=pad + "  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)


def one_line(text: object) -> str:
    """``text`` safe for one line of a report: new lines and other control characters escaped."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def print_json(value: Any) -> None:
    """Print a result as JSON on stdout (nothing else goes to stdout with --json)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2) + "\n")
