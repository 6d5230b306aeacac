"""HTML tables from lists of dicts: numbers right-aligned, text escaped, rows flagged."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from datacentric.report.html import Html, escape

__all__ = ["table"]


def _format(value: Any, fmt: str | None) -> tuple[str, bool]:
    """Format one cell; returns (html, is_number)."""
    if isinstance(value, Html):
        return str(value), False
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="muted">–</span>', True
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        if fmt:
            return escape(format(value, fmt)), True
        if isinstance(value, int) or "int" in str(getattr(value, "dtype", "")):
            return escape(str(value)), True
        return escape(f"{float(value):.2f}"), True
    return escape(value), False


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    *,
    formats: Mapping[str, str] | None = None,
    flag: Sequence[bool] | None = None,
    caption: str | None = None,
    max_rows: int | None = None,
) -> str:
    """An HTML table from a list of dicts.

    Parameters
    ----------
    rows : sequence of mapping
        One dict per row. Values are text (escaped), numbers (right-aligned; floats
        with 2 decimals unless ``formats`` says otherwise), booleans (yes/no), None/NaN
        (a dash) or :class:`Html` (inserted as is, e.g. a :func:`badge` or :func:`thumbnail`).
    columns : sequence of str or mapping key -> header, optional
        Which keys to show, in order (default: the first row's keys); all headers empty:
        a table without a header row.
    formats : mapping key -> format spec, optional
        e.g. ``{"accuracy": ".1%", "p": ".3g"}``.
    flag : sequence of bool, optional
        Rows to highlight (a light red background), same length as ``rows``.
    caption : str, optional
        Text under the table.
    max_rows : int, optional
        Show only the first rows and say how many were left out.
    """
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    headers = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    formats = dict(formats or {})
    shown = list(rows)[:max_rows] if max_rows else list(rows)
    numeric = {key: False for key in headers}
    body = []
    for i, row in enumerate(shown):
        cells = []
        for key in headers:
            text, is_num = _format(row.get(key), formats.get(key))
            numeric[key] = numeric[key] or (is_num and row.get(key) is not None)
            cells.append(f'<td class="num">{text}</td>' if is_num else f"<td>{text}</td>")
        cls = ' class="flag"' if flag is not None and i < len(flag) and flag[i] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if numeric[k] else f"<th>{escape(h)}</th>" for k, h in headers.items()
    )
    note = caption or ""
    if max_rows and len(rows) > max_rows:
        note = (note + " " if note else "") + f"({len(rows) - max_rows} more rows not shown)"
    cap = f"<caption>{escape(note)}</caption>" if note else ""
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers.values()) else ""  # no empty grey row
    return f"<table>{cap}{thead}<tbody>{''.join(body)}</tbody></table>"
