"""The page shell of a self-contained HTML report: escaping, the document, sections, badges.

Every helper returns an HTML fragment as a ``str``; :func:`page` joins fragments into
one document with inline CSS, and :func:`write` saves it. Tables, thumbnails and charts
live beside this module (:mod:`~datacentric.report.tables`,
:mod:`~datacentric.report.thumbnails`, :mod:`~datacentric.report.charts`,
:mod:`~datacentric.report.distributions`); import them all from :mod:`datacentric.report`.

Values passed as text are escaped; only arguments documented as HTML are inserted
as they are (wrap your own markup with :class:`Html` to pass it into a table).

Examples
--------
>>> from datacentric.report import html
>>> doc = html.page("Audit", [html.section("Classes", html.paragraph("3 pits < 5 dents"))])
>>> doc.startswith("<!DOCTYPE html>") and "<p>3 pits &lt; 5 dents</p>" in doc
True
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datacentric.paths import write_atomic

__all__ = ["Html", "badge", "escape", "figure", "page", "paragraph", "section", "write"]


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


def figure(fragments: Iterable[str]) -> str:
    """Lay out fragments (thumbnails, small tables) side by side, wrapping."""
    return '<div class="row">' + "".join(fragments) + "</div>"


def write(path: str | Path, document: str) -> Path:
    """Write a document as UTF-8 and return its path."""
    return write_atomic(path, document)
