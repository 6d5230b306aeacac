"""Inline SVG charts that compare two groups of values (e.g. training vs new images)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datacentric.report.html import Html, escape

__all__ = ["distribution_strips_svg", "histogram_svg"]


def distribution_strips_svg(
    rows: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    names: tuple[str, str] = ("training", "new"),
    highlight: Sequence[bool] | None = None,
    width: int = 560,
) -> Html:
    """Two distributions per row, each drawn from five quantiles (10/25/50/75/90 %): whiskers,
    a box and the median. Each row has its own scale (the statistics differ in units);
    ``highlight`` rows (changed) draw the second distribution in red.
    """
    left, right, band = 150, 84, 22  # the right margin holds the two names
    plot = width - left - right
    height = len(rows) * (2 * band + 14) + 8
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, (label, first, second) in enumerate(rows):
        y0 = 6 + i * (2 * band + 14)
        lo = min(min(first), min(second))
        hi = max(max(first), max(second))
        span = (hi - lo) or 1.0

        def x_of(v: float) -> float:
            return left + plot * (float(v) - lo) / span

        parts.append(
            f'<text x="{left - 8}" y="{y0 + band + 4}" text-anchor="end" font-size="13">{escape(label)}</text>'
        )
        red = highlight is not None and highlight[i]
        for j, (q, name) in enumerate(((first, names[0]), (second, names[1]))):
            y = y0 + j * band
            colour = "#c8372d" if (j == 1 and red) else ("#4a78c2" if j == 0 else "#7d8799")
            q10, q25, q50, q75, q90 = (x_of(v) for v in q)
            parts.append(
                f'<line x1="{q10:.1f}" y1="{y + band / 2:.1f}" x2="{q90:.1f}" y2="{y + band / 2:.1f}" '
                f'stroke="{colour}"/><rect x="{q25:.1f}" y="{y + 4}" width="{max(q75 - q25, 1):.1f}" '
                f'height="{band - 8}" fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>'
                f'<line x1="{q50:.1f}" y1="{y + 2}" x2="{q50:.1f}" y2="{y + band - 2}" stroke="{colour}" '
                f'stroke-width="3"/><text x="{width - right + 8}" y="{y + band / 2 + 4:.1f}" '
                f'font-size="11">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return Html("".join(parts))


# Two series told apart by shape as well as colour (blue filled bars, orange outline): both
# colours are from the Okabe-Ito palette, readable with the common colour-vision deficiencies.
FIRST_COLOUR, SECOND_COLOUR = "#0072b2", "#d55e00"


def histogram_svg(
    first: Sequence[float],
    second: Sequence[float],
    *,
    names: tuple[str, str] = ("training", "new"),
    axis: str = "value",
    marker: float | None = None,
    marker_label: str = "",
    bins: int = 20,
    width: int = 560,
    height: int = 240,
) -> Html:
    """Two histograms on one axis, each as the share of its own images per bin (the two
    groups may differ in size): ``first`` as filled bars, ``second`` as an outline.
    ``marker`` draws a dashed vertical line labelled ``marker_label``.
    """
    values = [float(v) for v in [*first, *second] if v == v]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    span = (hi - lo) or 1.0
    shares = [_shares(series, lo, span, bins) for series in (first, second)]
    top_share = max([max(s) for s in shares] + [1e-9])
    plot = _Plot(left=44, top=30, pw=width - 44 - 16, ph=height - 30 - 40)
    label = f"{names[0]} and {names[1]}: {axis}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
    ]
    parts += _histogram_series(shares, top_share, names[0], plot)
    parts += _histogram_axes(lo, hi, axis, plot, height)
    if marker is not None and lo <= float(marker) <= hi:
        parts.append(_histogram_marker(plot.left + plot.pw * (float(marker) - lo) / span, marker_label, plot))
    left = plot.left
    parts.append(
        f'<rect x="{left}" y="6" width="14" height="10" fill="{FIRST_COLOUR}" fill-opacity="0.45"/>'
        f'<text x="{left + 18}" y="15" font-size="12">{escape(names[0])}</text>'
        f'<line x1="{left + 110}" y1="11" x2="{left + 124}" y2="11" stroke="{SECOND_COLOUR}" '
        f'stroke-width="2.5"/><text x="{left + 128}" y="15" font-size="12">{escape(names[1])}</text>'
    )
    parts.append("</svg>")
    return Html("".join(parts))


@dataclass(frozen=True)
class _Plot:
    """Where the plot area sits in the SVG: its left and top edge, its width and height."""

    left: int
    top: int
    pw: int
    ph: int


def _histogram_series(shares: list[list[float]], top_share: float, first_name: str, plot: _Plot) -> list[str]:
    """The first group's bars and the second group's outline, each bin as a share of its group."""
    left, top, pw, ph = plot.left, plot.top, plot.pw, plot.ph
    bins = len(shares[0])
    step = pw / bins

    def y_of(share: float) -> float:
        return top + ph * (1.0 - share / top_share)

    parts = []
    for j in range(bins):
        x, share = left + j * step, shares[0][j]
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y_of(share):.1f}" width="{step - 2:.1f}" '
            f'height="{top + ph - y_of(share):.1f}" fill="{FIRST_COLOUR}" fill-opacity="0.45">'
            f"<title>{escape(first_name)}: {share:.0%}</title></rect>"
        )
    outline = [f"{left:.1f},{top + ph:.1f}"]
    for j, share in enumerate(shares[1]):
        outline += [f"{left + j * step:.1f},{y_of(share):.1f}", f"{left + (j + 1) * step:.1f},{y_of(share):.1f}"]
    outline.append(f"{left + pw:.1f},{top + ph:.1f}")
    parts.append(f'<polyline points="{" ".join(outline)}" fill="none" stroke="{SECOND_COLOUR}" stroke-width="2.5"/>')
    return parts


def _histogram_axes(lo: float, hi: float, axis: str, plot: _Plot, height: int) -> list[str]:
    """The x axis with three ticks (low, middle, high) and both axis titles."""
    left, top, pw, ph = plot.left, plot.top, plot.pw, plot.ph
    span = (hi - lo) or 1.0
    parts = [f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#5b6475"/>']
    for v in (lo, lo + span / 2, hi):
        x = left + pw * (v - lo) / span
        parts.append(
            f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle" font-size="11">'
            f"{escape(format(v, '.3g'))}</text>"
        )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12">'
        f'{escape(axis)}</text><text x="12" y="{top + ph / 2:.1f}" font-size="12" '
        f'transform="rotate(-90 12 {top + ph / 2:.1f})" text-anchor="middle">share of images</text>'
    )
    return parts


def _histogram_marker(x: float, label: str, plot: _Plot) -> str:
    """A dashed vertical line at ``x``, labelled on the side with room (never off the plot)."""
    right_half = x > plot.left + plot.pw / 2
    anchor, tx = ("end", x - 4) if right_half else ("start", x + 4)
    return (
        f'<line x1="{x:.1f}" y1="{plot.top - 4}" x2="{x:.1f}" y2="{plot.top + plot.ph}" stroke="#1d2330" '
        f'stroke-dasharray="4 3"/><text x="{tx:.1f}" y="{plot.top + 8}" font-size="11" '
        f'text-anchor="{anchor}">{escape(label)}</text>'
    )


def _shares(series: Sequence[float], lo: float, span: float, bins: int) -> list[float]:
    """The share of ``series`` in each of ``bins`` equal bins from ``lo`` over ``span``."""
    counts = [0] * bins
    kept = [float(v) for v in series if v == v]
    for v in kept:
        counts[min(bins - 1, max(0, int((v - lo) / span * bins)))] += 1
    return [c / len(kept) if kept else 0.0 for c in counts]
