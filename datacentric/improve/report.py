"""The improve run's HTML section: before/after per class, generated images beside real ones.

Self-contained (images inlined as base64 PNG thumbnails), works offline.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from datacentric.images import load_image

if TYPE_CHECKING:
    from datacentric.improve.workflow import Candidate, ImproveResult
    from datacentric.project import Project

__all__ = ["render_section", "write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.up{color:#0a7d28}.down{color:#b3261e}.kept{font-weight:bold}
.strip{display:flex;gap:6px;flex-wrap:wrap;align-items:flex-start}.strip figure{margin:0;font-size:11px;text-align:center}
.tag{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;color:#fff}
.real{background:#2e6bd1}.synthetic{background:#9c27b0}.augmented{background:#e67e22}
"""


def _thumb(path: Path, size: int = 112) -> str:
    image = load_image(path)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(path: Path, tag: str, caption: str) -> str:
    return (f'<figure><img src="{_thumb(path)}" alt="{html.escape(caption)}"><br>'
            f'<span class="tag {tag}">{tag}</span> {html.escape(caption)}</figure>')


def render_section(result: "ImproveResult", candidates: dict[str, "Candidate"], proj: "Project",
                   examples: int = 6) -> str:
    """HTML for the improve section (a fragment, no <html> wrapper)."""
    out = ["<section id='improve'><h2>Targeted data: what was tried</h2>",
           f"<p>Targets: <b>{html.escape(', '.join(result.targets))}</b>. Every number is on real "
           "held-out images only; generated images are training-only.</p>"]
    real_paths = {r.id: r.path for r in proj.images("real")}
    for fix in result.fixes:
        status = "kept" if fix.kept else "not kept"
        out.append(f"<h3 class='{'kept' if fix.kept else ''}'>{html.escape(fix.name)} — {status}</h3>")
        out.append(f"<p>{html.escape(fix.reason)} · {fix.n_extra} images · {fix.seeds} seeds × "
                   f"{fix.folds} folds</p>")
        out.append("<table><tr><th>class</th><th>before</th><th>after</th><th>change</th></tr>")
        rows = [(c, fix.before.recall[c], fix.before.recall_std[c], fix.after.recall[c],
                 fix.after.recall_std[c]) for c in fix.before.recall]
        rows.append(("accuracy", fix.before.accuracy, fix.before.accuracy_std, fix.after.accuracy,
                     fix.after.accuracy_std))
        for name, b, bs, a, as_ in rows:
            gain = fix.gain.get(name, 0.0)
            noise = fix.noise.get(name, 0.0)
            cls = "up" if gain > noise and gain > 0 else "down" if gain < -noise and gain < 0 else ""
            label = f"<b>{html.escape(name)}</b>" if name in fix.targets else html.escape(name)
            out.append(f"<tr><td>{label}</td><td>{b:.2f} ± {bs:.2f}</td><td>{a:.2f} ± {as_:.2f}</td>"
                       f"<td class='{cls}'>{gain:+.3f} (noise {noise:.3f})</td></tr>")
        out.append("</table>")
        cand = candidates.get(fix.name)
        if cand is not None and cand.paths:
            origin = "augmented" if cand.kind == "augment" else "synthetic"
            figures = []
            for path, parent in list(zip(cand.paths, cand.parents))[:examples]:
                if parent in real_paths:
                    figures.append(_figure(real_paths[parent], "real", f"parent {parent[:8]}"))
                figures.append(_figure(path, origin, path.stem[-4:]))
            out.append("<div class='strip'>" + "".join(figures) + "</div>")
    out.append("<h3>Real images instead?</h3><table><tr><th>class</th><th>images</th><th>recall</th></tr>")
    for target, curve in result.curves.items():
        for n, r, s in zip(curve.counts, curve.recall, curve.recall_std):
            out.append(f"<tr><td>{html.escape(target)}</td><td>{n}</td><td>{r:.2f} ± {s:.2f}</td></tr>")
    out.append(f"</table><p><b>Advice:</b> {html.escape(result.advice)}</p></section>")
    return "\n".join(out)


def write_report(result: "ImproveResult", candidates: dict[str, "Candidate"], proj: "Project") -> Path:
    """Write ``report.html`` in the improve run folder and return its path."""
    path = result.run_dir / "report.html"
    body = render_section(result, candidates, proj)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>improve {result.run_id}</title>"
                    f"<style>{_CSS}</style></head><body><h1>datacentric improve</h1>{body}</body></html>",
                    encoding="utf-8")
    return path
