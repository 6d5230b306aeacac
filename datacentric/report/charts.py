"""Inline SVG charts for reports: a confusion matrix, bars per class, a learning curve."""

from __future__ import annotations

import math
from collections.abc import Sequence

from datacentric.report.html import Html, escape

__all__ = ["bar_chart_svg", "class_bars_svg", "confusion_matrix_svg", "learning_curve_svg"]


def _mix(t: float, low: tuple[int, int, int], high: tuple[int, int, int]) -> str:
    t = min(1.0, max(0.0, t))
    r, g, b = (round(a + (c - a) * t) for a, c in zip(low, high))
    return f"rgb({r},{g},{b})"


def confusion_matrix_svg(
    matrix: Sequence[Sequence[float]],
    classes: Sequence[str],
    *,
    title: str | None = None,
    row_label: str = "given label",
    col_label: str = "predicted",
    cell: int = 52,
) -> Html:
    """A confusion matrix as an inline SVG heat map.

    Rows are the given (true) class, columns the predicted class. Each cell shows the
    count; colour is the share of its row (diagonal in green, off-diagonal in red), so
    small classes are as readable as big ones.
    """
    k = len(classes)
    counts = [[float(v) for v in row] for row in matrix]
    longest = max((len(str(c)) for c in classes), default=1)
    left = 40 + min(160, 8 * longest)
    top = 36 + min(140, 7 * longest)
    width = left + k * cell + 16
    height = top + k * cell + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for i in range(k):
        total = sum(counts[i]) or 1.0
        for j in range(k):
            parts += _matrix_cell(
                counts[i][j],
                counts[i][j] / total,
                i == j,
                classes[i],
                classes[j],
                left + j * cell,
                top + i * cell,
                cell,
            )
    parts += _matrix_axes(classes, left, top, cell, row_label, col_label)
    parts.append("</svg>")
    return Html("".join(parts))


def _matrix_cell(
    value: float, share: float, diagonal: bool, given: str, predicted: str, x: int, y: int, cell: int
) -> list[str]:
    """One cell of the matrix: a square coloured by its share of the row, and its count."""
    if diagonal:
        fill = _mix(share, (245, 247, 250), (46, 140, 80))
    else:
        fill = _mix(min(1.0, share * 2.5), (245, 247, 250), (200, 45, 35))
    dark = (diagonal and share > 0.55) or (not diagonal and share * 2.5 > 0.6)
    color = "#fff" if dark else "#1d2330"
    text = f"{int(value)}" if float(value).is_integer() else f"{value:.2f}"
    return [
        f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}">'
        f"<title>{escape(given)} → {escape(predicted)}: {escape(text)} ({share:.0%} of row)"
        "</title></rect>",
        f'<text x="{x + (cell - 2) / 2}" y="{y + (cell - 2) / 2 + 5}" text-anchor="middle" '
        f'font-size="14" fill="{color}">{escape(text)}</text>',
    ]


def _matrix_axes(classes: Sequence[str], left: int, top: int, cell: int, row_label: str, col_label: str) -> list[str]:
    """The class names along both sides of the matrix and the two axis titles."""
    k = len(classes)
    parts = []
    for i, name in enumerate(classes):
        y = top + i * cell + cell / 2 + 4
        parts.append(f'<text x="{left - 8}" y="{y}" text-anchor="end" font-size="13">{escape(name)}</text>')
        x = left + i * cell + cell / 2
        parts.append(
            f'<text x="{x}" y="{top - 8}" text-anchor="start" font-size="13" '
            f'transform="rotate(-45 {x} {top - 8})">{escape(name)}</text>'
        )
    parts.append(
        f'<text x="{left + k * cell / 2}" y="{top + k * cell + 24}" text-anchor="middle" '
        f'font-size="13" fill="#5b6475">{escape(col_label)} →</text>'
    )
    parts.append(
        f'<text x="14" y="{top + k * cell / 2}" text-anchor="middle" font-size="13" fill="#5b6475" '
        f'transform="rotate(-90 14 {top + k * cell / 2})">{escape(row_label)} →</text>'
    )
    return parts


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    max_value: float | None = None,
    fmt: str = ".2f",
    highlight: Sequence[bool] | None = None,
    reference: float | None = None,
    width: int = 520,
    bar: int = 22,
) -> Html:
    """Horizontal bars, one per label (e.g. recall per class); ``highlight`` bars are red,
    ``reference`` draws a dashed vertical line (e.g. overall accuracy).
    """
    top = max_value if max_value is not None else max([float(v) for v in values] + [1e-9])
    longest = max((len(str(s)) for s in labels), default=1)
    left = 12 + min(220, 8 * longest)
    plot = width - left - 60
    height = len(labels) * (bar + 6) + 12
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, (name, value) in enumerate(zip(labels, values)):
        y = 6 + i * (bar + 6)
        v = 0.0 if value is None or math.isnan(float(value)) else float(value)
        w = max(0.0, plot * v / top) if top else 0.0
        fill = "#c8372d" if highlight is not None and highlight[i] else "#4a78c2"
        parts.append(
            f'<text x="{left - 6}" y="{y + bar / 2 + 5}" text-anchor="end" font-size="13">{escape(name)}</text>'
        )
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" rx="2" fill="{fill}"/>')
        parts.append(
            f'<text x="{left + w + 5:.1f}" y="{y + bar / 2 + 5}" font-size="12">{escape(format(v, fmt))}</text>'
        )
    if reference is not None and top:
        x = left + plot * float(reference) / top
        parts.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 2}" stroke="#1d2330" stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return Html("".join(parts))


def class_bars_svg(
    rows: Sequence[tuple[str, float, float, bool]],
    *,
    reference: float | None = None,
    bar: float | None = None,
) -> Html:
    """Recall and precision per class as bars: ``rows`` are (class, recall, precision, weak);
    ``reference`` (overall accuracy) is a dashed line. A weak class's bars under ``bar`` are red
    (both, when neither is under it: the class is weak for another reason, or no bar is given).
    """
    labels, values, weak = [], [], []
    for name, recall, precision, is_weak in rows:
        recall, precision = (float("nan") if v is None else v for v in (recall, precision))  # None: undefined
        low = [bar is not None and value < bar for value in (recall, precision)]
        for (what, value), is_low in zip((("recall", recall), ("precision", precision)), low):
            labels.append(f"{name} {what}")
            values.append(value)
            weak.append(bool(is_weak) and (is_low or not any(low)))
    return bar_chart_svg(labels, values, max_value=1.0, highlight=weak, reference=reference)


def learning_curve_svg(
    counts: Sequence[float],
    values: Sequence[float],
    spread: Sequence[float],
    *,
    fitted: Sequence[tuple[float, float]] = (),
    label: str = "recall",
    width: int = 420,
    height: int = 240,
) -> Html:
    """Measured points (mean ± spread as whiskers) against a log2 x axis, with an optional
    dashed fitted line through ``fitted`` (x, y) points extending beyond the data.
    """
    xs = [float(x) for x in counts] + [float(x) for x, _ in fitted]
    lo, hi = math.log2(max(1.0, min(xs))), math.log2(max(xs) * 1.05 + 1)
    left, right, top, bottom = 48, 16, 14, 40
    pw, ph = width - left - right, height - top - bottom

    def x_of(n: float) -> float:
        return left + pw * (math.log2(max(n, 1.0)) - lo) / max(hi - lo, 1e-9)

    def y_of(v: float) -> float:
        return top + ph * (1.0 - min(1.0, max(0.0, float(v))))

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" y1="{y_of(v):.1f}" x2="{width - right}" y2="{y_of(v):.1f}" '
            f'stroke="#e3e6ec"/><text x="{left - 6}" y="{y_of(v) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{v:.2f}</text>'
        )
    if len(fitted) >= 2:
        points = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in fitted)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#8a93a6" stroke-dasharray="5 4"/>')
    for n, v, s in zip(counts, values, spread):
        x = x_of(float(n))
        parts.append(
            f'<line x1="{x:.1f}" y1="{y_of(v - s):.1f}" x2="{x:.1f}" y2="{y_of(v + s):.1f}" '
            f'stroke="#4a78c2"/><circle cx="{x:.1f}" cy="{y_of(v):.1f}" r="4" fill="#4a78c2"/>'
            f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'font-size="11">{int(n)}</text>'
        )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12">'
        f"real images of the class (log scale)</text>"
        f'<text x="12" y="{top + ph / 2:.1f}" font-size="12" transform="rotate(-90 12 '
        f'{top + ph / 2:.1f})" text-anchor="middle">{escape(label)}</text></svg>'
    )
    return Html("".join(parts))
