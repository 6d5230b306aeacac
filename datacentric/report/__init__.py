"""Self-contained HTML reports: one file per run, no network, no JavaScript.

The helpers are shared by every step that writes a report (audit, drift, improve,
export); import them from here. They live in modules with one job each:
:mod:`~datacentric.report.html` (escaping and the page shell: :func:`page`,
:func:`section`, :func:`badge`, :func:`write`), :mod:`~datacentric.report.tables`
(:func:`table`), :mod:`~datacentric.report.thumbnails` (:func:`thumbnail`, images as
data URIs), :mod:`~datacentric.report.charts` (:func:`confusion_matrix_svg`,
:func:`bar_chart_svg`, :func:`class_bars_svg`, :func:`learning_curve_svg`) and
:mod:`~datacentric.report.distributions` (:func:`histogram_svg`,
:func:`distribution_strips_svg`). Images are embedded as base64 data URIs and plots
are inline SVG, so a report is one file that can be mailed, archived or opened from
a run folder without a network.

Examples
--------
>>> from datacentric import report
>>> doc = report.page("Audit", [report.section("Classes", report.table([{"name": "pit", "n": 3}]))])
>>> doc.startswith("<!DOCTYPE html>") and "<td>pit</td>" in doc
True
"""

from __future__ import annotations

from datacentric.report.charts import bar_chart_svg, class_bars_svg, confusion_matrix_svg, learning_curve_svg
from datacentric.report.distributions import distribution_strips_svg, histogram_svg
from datacentric.report.html import Html, badge, escape, figure, page, paragraph, section, write
from datacentric.report.tables import table
from datacentric.report.thumbnails import image_data_uri, thumbnail

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
