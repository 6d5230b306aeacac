"""Self-contained HTML reports: one file per run, no network, no JavaScript.

The helpers in :mod:`datacentric.report.html` are shared by every step that writes a
report (audit, drift, improve, export): :func:`page`, :func:`section`, :func:`table`,
:func:`thumbnail`, :func:`confusion_matrix_svg`, :func:`bar_chart_svg`, :func:`class_bars_svg`,
:func:`learning_curve_svg`, :func:`histogram_svg`, :func:`badge`.
"""

from __future__ import annotations

from datacentric.report.html import (
    Html,
    badge,
    bar_chart_svg,
    class_bars_svg,
    confusion_matrix_svg,
    distribution_strips_svg,
    escape,
    figure,
    histogram_svg,
    image_data_uri,
    learning_curve_svg,
    page,
    paragraph,
    section,
    table,
    thumbnail,
    write,
)

__all__ = [
    "Html",
    "badge",
    "bar_chart_svg",
    "class_bars_svg",
    "confusion_matrix_svg",
    "distribution_strips_svg",
    "escape",
    "figure",
    "histogram_svg",
    "image_data_uri",
    "learning_curve_svg",
    "page",
    "paragraph",
    "section",
    "table",
    "thumbnail",
    "write",
]
