"""The CSV files a user hands in (``import`` labels and metadata, ``relabel --from``,
``drift --metadata``, ``retrain --golden``): one reader.

What spreadsheets write is read as it is: UTF-8 with or without a byte-order mark, any line
ending, fields separated by commas, or by semicolons or tabs when only that split of the header
names the ``file`` column (or the reader's other key columns: a golden set's ``image``, ``path``
or ``id``; Excel under a European locale, a TSV), and ``file`` cells written with Windows
backslashes. A quote left open is an error, not one long cell.

Only the standard library is used here: ``relabel --from`` starts as fast as ``history``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from datacentric.errors import DatacentricError

__all__ = ["TABLE_SUFFIXES", "check_table", "file_cell_path", "is_file", "is_table", "key_column", "read_table"]

TABLE_SUFFIXES = (".csv", ".tsv")  # what a spreadsheet saves a table as; either separator is read

Rows = list[tuple[int, list[str]]]  # (line the row starts on, its fields), empty rows left out


def read_table(path: Path, key: Sequence[str] = ("file",)) -> tuple[list[str], Rows]:
    """The stripped header and the numbered non-empty rows of the CSV at ``path``.

    The separator is the one whose split of the header names one of the ``key`` columns.

    Raises :class:`DatacentricError` in one line when the file is missing or unreadable, or its
    header names a column twice.
    """
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            separator = _separator(handle.readline(1 << 20), key)  # the header; a file with no line break: its start
            handle.seek(0)
            reader = csv.reader(handle, delimiter=separator, strict=True)
            columns = [c.strip() for c in next(reader, [])]
            rows, start = [], reader.line_num + 1
            for row in reader:
                if any(v.strip() for v in row):
                    rows.append((start, row))
                start = reader.line_num + 1
    except FileNotFoundError:
        raise DatacentricError("CSV file not found", path) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 1
        raise DatacentricError(f"cannot read CSV at line {line}: {exc} (a quote left open?)", path) from None
    except UnicodeDecodeError as exc:
        raise DatacentricError(f"cannot read CSV: {exc}", path) from None
    except OSError as exc:
        raise DatacentricError(f"cannot read CSV: {exc.strerror or exc}", path) from None
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DatacentricError(f"CSV header names column(s) {', '.join(map(repr, twice))} twice", path)
    return columns, rows


def check_table(columns: list[str], rows: Rows, needed: Sequence[str], path: Path) -> None:
    """Refuse a table without the ``needed`` columns, or without rows, in one line."""
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DatacentricError(
            f"CSV is missing column(s) {', '.join(missing)} (has: {', '.join(columns) or 'none'})", path
        )
    if not rows:
        raise DatacentricError("CSV has no rows", path)


def key_column(columns: list[str], key: Sequence[str], path: Path) -> str:
    """The first of the ``key`` columns the header names; refuse a header naming none in one line."""
    found = next((c for c in key if c in columns), None)
    if found is None:
        names = f"{', '.join(key[:-1])} or {key[-1]}" if len(key) > 1 else key[0]
        raise DatacentricError(f"CSV needs a {names} column (has: {', '.join(columns) or 'none'})", path)
    return found


def file_cell_path(folder: Path, text: str) -> Path:
    """The file a ``file`` cell names, relative to the CSV's ``folder`` unless absolute.

    A cell written on Windows (``photos\\ok\\a.png``) names the same file with ``/`` when only
    that one exists here.
    """
    path = Path(text) if Path(text).is_absolute() else folder / text
    if "\\" in text and not is_file(path):
        slashed = Path(text.replace("\\", "/"))
        slashed = slashed if slashed.is_absolute() else folder / slashed
        if is_file(slashed):
            return slashed
    return path


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file; a name the system cannot look up (too long, a NUL byte) is not."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_table(path: Path | str) -> bool:
    """Whether ``path`` names a table file by its suffix (``.csv`` or ``.tsv``, any case)."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def _separator(first_line: str, key: Sequence[str] = ("file",)) -> str:
    """The field separator whose split of the header line names a ``key`` column (default: comma)."""
    for separator in (",", ";", "\t"):
        names = next(csv.reader([first_line], delimiter=separator), [])
        if any(name.strip() in key for name in names):
            return separator
    return ","
