"""The improve run's HTML report: before/after per class, generated images beside real ones.

Built with the shared :mod:`datacentric.report` helpers, so it looks like the audit and
drift reports and is just as self-contained (images inlined, works offline).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.report import (
    Html,
    badge,
    escape,
    figure,
    learning_curve_svg,
    page,
    paragraph,
    section,
    table,
    thumbnail,
    write,
)

if TYPE_CHECKING:
    from datacentric.improve.lift import LiftResult
    from datacentric.improve.results import Candidate, ImproveResult
    from datacentric.project import Project

__all__ = ["write_report"]


def _change(gain: float, noise: float) -> Html:
    """The paired change with its noise, coloured when it is beyond noise."""
    text = f"{gain:+.3f} (noise {noise:.3f})"
    if gain > noise and gain > 0:
        return badge(text, "good")
    if gain < -noise and gain < 0:
        return badge(text, "bad")
    return Html(escape(text))


def _fix_section(
    fix: LiftResult, verdict: str, cand: Candidate | None, real_paths: dict[str, Path], examples: int
) -> str:
    rows = [
        (c, fix.before.recall[c], fix.before.recall_std[c], fix.after.recall[c], fix.after.recall_std[c])
        for c in fix.before.recall
    ]
    rows.append(("accuracy", fix.before.accuracy, fix.before.accuracy_std, fix.after.accuracy, fix.after.accuracy_std))
    scores = table(
        [
            {
                "class": Html(f"<b>{escape(name)}</b>") if name in fix.targets else name,
                "before": f"{b:.2f} ± {bs:.2f}",
                "after": f"{a:.2f} ± {as_:.2f}",
                "change": _change(fix.gain.get(name, 0.0), fix.noise.get(name, 0.0)),
            }
            for name, b, bs, a, as_ in rows
        ],
        caption="Recall per class (bold: the target) and accuracy, mean ± spread over seeds.",
    )
    body = [scores]
    if cand is not None and cand.paths:
        origin = "augmented" if cand.kind == "augment" else "synthetic"
        tiles = []
        for path, parent in list(zip(cand.paths, cand.parents))[:examples]:
            if parent in real_paths:
                tiles.append(
                    thumbnail(
                        real_paths[parent], 110, kind="info", caption=escape(f"real · {Path(real_paths[parent]).name}")
                    )
                )
            tiles.append(
                thumbnail(
                    path,
                    110,
                    kind="good" if verdict == "kept" else None,
                    caption=escape(f"{origin} · {path.stem[-4:]}"),
                )
            )
        body.append(figure(tiles))
    intro = f"{fix.reason} · {fix.n_extra} images · {fix.seeds} seeds × {fix.folds} folds"
    mark = badge(verdict, "good" if verdict == "kept" else "muted")
    return section(fix.name, [paragraph(mark), *body], intro=intro)


def _curves(result: ImproveResult) -> str:
    """One learning-curve chart per target: measured recall and the fitted log2 line."""
    charts = []
    for target, curve in result.curves.items():
        top = curve.counts[-1] * 4
        fitted = [(n, curve.predict(n)) for n in (curve.counts[0], curve.counts[-1], top / 2, top)]
        svg = learning_curve_svg(curve.counts, curve.recall, curve.recall_std, fitted=fitted, label=f"{target} recall")
        charts.append(
            f"<figure class='thumb'>{svg}"
            f"<figcaption>{escape(target)}: measured (dots, ± spread) and the fitted curve "
            f"(dashed) up to 4× today's images</figcaption></figure>"
        )
    return figure(charts)


def write_report(result: ImproveResult, candidates: dict[str, Candidate], proj: Project, examples: int = 6) -> Path:
    """Write ``report.html`` in the improve run folder and return its path."""
    real_paths = {r.id: r.path for r in proj.images("real")}
    sections = [
        section(
            "What was tried",
            [paragraph(result.advice)],
            intro=(
                f"Targets: {', '.join(result.targets)}. Every number is measured on real held-out images "
                "only; augmented and synthetic images are used for training, never for scoring. A fix is "
                "kept only if its target gains beyond noise and no class loses beyond noise."
            ),
            id="summary",
        )
    ]
    sections += [
        _fix_section(fix, result.verdict(fix), candidates.get(fix.name), real_paths, examples) for fix in result.fixes
    ]
    curve_rows = [
        {"class": target, "real images": n, "recall": f"{r:.2f} ± {s:.2f}"}
        for target, curve in result.curves.items()
        for n, r, s in zip(curve.counts, curve.recall, curve.recall_std)
    ]
    if curve_rows:
        sections.append(
            section(
                "Real images instead?",
                [_curves(result), table(curve_rows)],
                intro="Learning curve: the target's recall when trained on fewer of its real images, "
                "which is what the advice on how many to collect is read from.",
                id="learning-curve",
            )
        )
    return write(
        result.run_dir / "report.html", page(f"Improve {result.run_id}", sections, subtitle=", ".join(result.targets))
    )
