"""Building blocks for self-contained HTML reports (no CDN, no JavaScript, works offline).

Every helper returns an HTML fragment as a ``str``; :func:`page` joins fragments into
one document with inline CSS, and :func:`write` saves it. Images are embedded as
base64 data URIs and plots are inline SVG, so a report is one file that can be
mailed, archived or opened from a run folder without a network.

Values passed as text are escaped; only arguments documented as HTML are inserted
as they are (wrap your own markup with :class:`Html` to pass it into :func:`table`).

Examples
--------
>>> from datacentric.report import html
>>> doc = html.page("Audit", [html.section("Classes", html.table([{"name": "pit", "n": 3}]))])
>>> doc.startswith("<!DOCTYPE html>") and "<td>pit</td>" in doc
True
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html as _html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Html",
    "badge",
    "bar_chart_svg",
    "class_bars_svg",
    "learning_curve_svg",
    "confusion_matrix_svg",
    "distribution_strips_svg",
    "escape",
    "figure",
    "histogram_svg",
    "image_data_uri",
    "page",
    "paragraph",
    "section",
    "table",
    "thumbnail",
    "write",
]


class Html(str):
    """A string that is already HTML: :func:`table` and friends insert it unescaped."""


def escape(value: Any) -> str:
    """Escape text for HTML (``Html`` values pass through unchanged)."""
    if isinstance(value, Html):
        return str(value)
    return _html.escape("" if value is None else str(value), quote=True)


_CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#f6f7f9; --card:#fff;
        --bad:#b42318; --bad-bg:#fde8e7; --warn:#9a5b00; --warn-bg:#fff3d6;
        --good:#1a7f37; --good-bg:#e3f4e8; --info:#1f5fbf; --info-bg:#e6eefb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#1d2330; color:#fff; padding:20px 32px; }
header h1 { margin:0; font-size:24px; font-weight:600; }
header .sub { color:#c5cbd6; margin-top:4px; font-size:14px; }
main { max-width:1280px; margin:0 auto; padding:16px 32px 48px; }
nav.toc { margin:8px 0 0; font-size:14px; }
nav.toc a { color:#c5cbd6; margin-right:14px; text-decoration:none; }
nav.toc a:hover { color:#fff; text-decoration:underline; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px;
          padding:18px 22px; margin:18px 0; }
section > h2 { margin:0 0 6px; font-size:19px; }
section .intro { color:var(--muted); margin:0 0 12px; max-width:900px; }
p { max-width:900px; }
table { border-collapse:collapse; margin:8px 0 4px; font-size:14px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:#eef1f5; font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.flag td { background:var(--bad-bg); }
caption { caption-side:bottom; color:var(--muted); font-size:13px; text-align:left; padding-top:4px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
         white-space:nowrap; }
.badge.bad { background:var(--bad-bg); color:var(--bad); }
.badge.warn { background:var(--warn-bg); color:var(--warn); }
.badge.good { background:var(--good-bg); color:var(--good); }
.badge.info { background:var(--info-bg); color:var(--info); }
.badge.muted { background:#eceef2; color:var(--muted); }
figure.thumb { display:inline-block; margin:0 10px 10px 0; vertical-align:top; }
figure.thumb img { display:block; border-radius:4px; border:3px solid var(--line);
                   image-rendering:auto; background:#ddd; }
figure.thumb.bad img { border-color:var(--bad); }
figure.thumb.good img { border-color:var(--good); }
figure.thumb.info img { border-color:var(--info); }
figure.thumb figcaption { font-size:13px; color:var(--ink); margin-top:3px; line-height:1.35; }
figure.thumb figcaption .muted, .muted { color:var(--muted); }
a.zoom-in { cursor:zoom-in; }
.zoom { display:none; position:fixed; inset:0; z-index:10; background:rgba(0,0,0,.94);
  align-items:center; justify-content:center; flex-direction:column; }
.zoom:target { display:flex; }
.zoom img { height:88vh; max-width:96vw; object-fit:contain; }  /* small images enlarge to fit */
.zoom a { color:#fff; margin-top:8px; font-size:15px; }
.missing { display:flex; align-items:center; justify-content:center; color:var(--muted);
           background:#eceef2; border-radius:4px; font-size:12px; }
.row { display:flex; flex-wrap:wrap; gap:8px; align-items:flex-start; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px; margin:12px 0; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(470px, 1fr)); gap:0 14px; }
.card h3 { margin:0 0 8px; font-size:16px; }
ul.steps li, ul.summary li { margin:4px 0; }
code { background:#eef1f5; padding:1px 5px; border-radius:4px; font-size:13px; }
svg text { font-family: inherit; }
"""


def page(title: str, sections: Iterable[str], *, subtitle: str | None = None, toc: bool = True) -> str:
    """Return a complete HTML document: a header, an optional table of contents, the sections.

    Parameters
    ----------
    title : str
        Document and header title (text).
    sections : iterable of str
        HTML fragments, usually made by :func:`section`; a section's ``id`` and title
        feed the table of contents.
    subtitle : str, optional
        One line under the title (text), e.g. project and run.
    toc : bool, default True
        Link to every section from the header.
    """
    sections = list(sections)
    links = ""
    if toc:
        entries = [_toc_entry(s) for s in sections]
        links = "".join(f'<a href="#{escape(i)}">{escape(t)}</a>' for i, t in entries if i)
        links = f'<nav class="toc">{links}</nav>' if links else ""
    sub = f'<div class="sub">{escape(subtitle)}</div>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1>{sub}{links}</header>\n<main>\n"
        + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )


def _toc_entry(fragment: str) -> tuple[str | None, str | None]:
    if not fragment.startswith('<section id="'):
        return None, None
    ident = fragment[len('<section id="') :].split('"', 1)[0]
    start = fragment.find("<h2>")
    end = fragment.find("</h2>")
    title = _html.unescape(fragment[start + 4 : end]) if start >= 0 and end > start else ident
    return ident, title


def section(title: str, body: str | Iterable[str], *, intro: str | None = None, id: str | None = None) -> str:
    """A titled block of the report. ``body`` is HTML (or several fragments); ``intro`` is text."""
    if not isinstance(body, str):
        body = "\n".join(body)
    ident = id or "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    intro_html = f'<p class="intro">{escape(intro)}</p>' if intro else ""
    return f'<section id="{escape(ident)}"><h2>{escape(title)}</h2>{intro_html}\n{body}\n</section>'


def paragraph(text: str) -> str:
    """A paragraph of text."""
    return f"<p>{escape(text)}</p>"


def badge(text: str, kind: str = "muted") -> Html:
    """A small coloured label; ``kind`` is one of bad, warn, good, info, muted."""
    return Html(f'<span class="badge {escape(kind)}">{escape(text)}</span>')


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
        Which keys to show, in order (default: the first row's keys).
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
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def image_data_uri(path: str | Path, size: int = 180, *, fmt: str = "JPEG", quality: int = 85) -> str:
    """Load an image (any format :func:`datacentric.images.load_image` reads), fit it in a
    ``size`` x ``size`` box (small images are enlarged, so a 64 px image is still visible)
    and return it as a ``data:`` URI.
    """
    return _data_uri(str(path), int(size), fmt.upper(), int(quality))


@functools.lru_cache(maxsize=2048)
def _data_uri(path: str, size: int, fmt: str, quality: int) -> str:
    from PIL import Image

    from datacentric.images import load_image

    image = load_image(path)
    scale = size / max(image.width, image.height)
    new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    image = image.resize(new_size, resample)
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
        mime = "image/jpeg"
    else:
        image.save(buffer, format="PNG")
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def thumbnail(
    path: str | Path,
    size: int = 180,
    *,
    caption: str | None = None,
    kind: str | None = None,
    title: str | None = None,
    zoom: int = 0,
) -> Html:
    """An embedded image with an optional caption.

    ``caption`` is HTML (use :func:`escape` for plain text); ``kind`` colours the
    border (bad, good, info); ``title`` is the hover text (defaults to the file name).
    ``zoom`` > 0 also embeds the image at up to that many pixels, shown over
    the page when the thumbnail is clicked (no script: a CSS ``:target`` overlay).
    A file that cannot be read becomes a grey box saying so, never an exception.
    """
    hover = escape(title if title is not None else Path(path).name)
    try:
        uri = image_data_uri(path, size)
        img = (
            f'<img src="{uri}" width="{size}" height="{size}" style="object-fit:contain" alt="{hover}" title="{hover}">'
        )
        if zoom:
            img = _zoomable(img, image_data_uri(path, _native_side(path, zoom), quality=92), hover)
    except Exception:  # noqa: BLE001  (a report must not fail on one unreadable image)
        img = f'<div class="missing" style="width:{size}px;height:{size}px">image not readable</div>'
    cls = f"thumb {escape(kind)}" if kind else "thumb"
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return Html(f'<figure class="{cls}" style="width:{size + 6}px">{img}{cap}</figure>')


def _native_side(path: str | Path, limit: int) -> int:
    """The image's longer side in pixels, at most ``limit`` (a zoom never enlarges)."""
    from PIL import Image

    with Image.open(path) as image:
        return max(1, min(int(limit), max(image.size)))


def _zoomable(img: str, full_uri: str, hover: str) -> str:
    """Wrap a thumbnail in a link that opens the full-size copy over the page."""
    anchor = "zoom-" + hashlib.sha256(full_uri.encode("ascii")).hexdigest()[:12]
    return (
        f'<a class="zoom-in" href="#{anchor}" title="click for full size">{img}</a>'
        f'<div class="zoom" id="{anchor}"><img src="{full_uri}" alt="{hover}">'
        f'<a href="#_">close</a></div>'
    )


def figure(fragments: Iterable[str]) -> str:
    """Lay out fragments (thumbnails, small tables) side by side, wrapping."""
    return '<div class="row">' + "".join(fragments) + "</div>"


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
            share = counts[i][j] / total
            if i == j:
                fill = _mix(share, (245, 247, 250), (46, 140, 80))
            else:
                fill = _mix(min(1.0, share * 2.5), (245, 247, 250), (200, 45, 35))
            x, y = left + j * cell, top + i * cell
            dark = (i == j and share > 0.55) or (i != j and share * 2.5 > 0.6)
            color = "#fff" if dark else "#1d2330"
            value = counts[i][j]
            text = f"{int(value)}" if float(value).is_integer() else f"{value:.2f}"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}">'
                f"<title>{escape(classes[i])} → {escape(classes[j])}: {escape(text)} ({share:.0%} of row)"
                "</title></rect>"
            )
            parts.append(
                f'<text x="{x + (cell - 2) / 2}" y="{y + (cell - 2) / 2 + 5}" text-anchor="middle" '
                f'font-size="14" fill="{color}">{escape(text)}</text>'
            )
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
    parts.append("</svg>")
    return Html("".join(parts))


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
) -> Html:
    """Recall and precision per class as bars: ``rows`` are (class, recall, precision, weak);
    a weak class's bars are red, ``reference`` (overall accuracy) a dashed line.
    """
    labels, values, weak = [], [], []
    for name, recall, precision, is_weak in rows:
        for what, value in (("recall", recall), ("precision", precision)):
            labels.append(f"{name} {what}")
            values.append(value)
            weak.append(bool(is_weak))
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
    left, right, top, bottom = 44, 16, 30, 40
    pw, ph = width - left - right, height - top - bottom
    step = pw / bins

    def y_of(share: float) -> float:
        return top + ph * (1.0 - share / top_share)

    label = f"{names[0]} and {names[1]}: {axis}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
    ]
    for j in range(bins):
        x, share = left + j * step, shares[0][j]
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y_of(share):.1f}" width="{step - 2:.1f}" '
            f'height="{top + ph - y_of(share):.1f}" fill="{FIRST_COLOUR}" fill-opacity="0.45">'
            f"<title>{escape(names[0])}: {share:.0%}</title></rect>"
        )
    outline = [f"{left:.1f},{top + ph:.1f}"]
    for j, share in enumerate(shares[1]):
        outline += [f"{left + j * step:.1f},{y_of(share):.1f}", f"{left + (j + 1) * step:.1f},{y_of(share):.1f}"]
    outline.append(f"{left + pw:.1f},{top + ph:.1f}")
    parts.append(f'<polyline points="{" ".join(outline)}" fill="none" stroke="{SECOND_COLOUR}" stroke-width="2.5"/>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#5b6475"/>')
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
    if marker is not None and lo <= float(marker) <= hi:
        x = left + pw * (float(marker) - lo) / span
        right_half = x > left + pw / 2  # the label goes on the side with room, never off the plot
        anchor, tx = ("end", x - 4) if right_half else ("start", x + 4)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + ph}" stroke="#1d2330" '
            f'stroke-dasharray="4 3"/><text x="{tx:.1f}" y="{top + 8}" font-size="11" '
            f'text-anchor="{anchor}">{escape(marker_label)}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="6" width="14" height="10" fill="{FIRST_COLOUR}" fill-opacity="0.45"/>'
        f'<text x="{left + 18}" y="15" font-size="12">{escape(names[0])}</text>'
        f'<line x1="{left + 110}" y1="11" x2="{left + 124}" y2="11" stroke="{SECOND_COLOUR}" '
        f'stroke-width="2.5"/><text x="{left + 128}" y="15" font-size="12">{escape(names[1])}</text>'
    )
    parts.append("</svg>")
    return Html("".join(parts))


def _shares(series: Sequence[float], lo: float, span: float, bins: int) -> list[float]:
    """The share of ``series`` in each of ``bins`` equal bins from ``lo`` over ``span``."""
    counts = [0] * bins
    kept = [float(v) for v in series if v == v]
    for v in kept:
        counts[min(bins - 1, max(0, int((v - lo) / span * bins)))] += 1
    return [c / len(kept) if kept else 0.0 for c in counts]


def write(path: str | Path, document: str) -> Path:
    """Write a document as UTF-8 and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
