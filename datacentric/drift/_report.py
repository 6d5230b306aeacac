"""The drift check's HTML report, built with the shared :mod:`datacentric.report` helpers."""

from __future__ import annotations

from pathlib import Path

from datacentric.report import badge, bar_chart_svg, escape, figure, page, paragraph, section, table, thumbnail, write

__all__ = ["write_report"]


def write_report(result, typical: list[dict], path: Path) -> Path:
    """Write ``report.html`` for one :class:`DriftResult`; ``typical`` are reference images."""
    verdict = badge("DRIFT", "bad") if result.drift else badge("no drift", "good")
    summary = table(
        [{
            "verdict": verdict, "what changed": result.description or "-", "p-value": result.p_value,
            "embedding p": result.embedding.get("p_value"), "pixel-stats p": result.pixel_stats.get("p_value"),
            "statistic": result.statistic,
            "batch images": result.n, "reference images": result.n_reference, "method": result.method,
            "alpha": result.alpha, "unusual images": result.unusual, "unreadable": len(result.skipped),
        }],
        formats={"p-value": ".3g", "embedding p": ".3g", "pixel-stats p": ".3g", "statistic": ".4g"},
    )
    sections = [section("Verdict", [summary] + [paragraph(a) for a in result.advice],
                        intro=f"Batch {result.folder} against the training images of run {result.reference_run}.")]
    pixel = result.pixel_stats.get("statistics", [])
    if pixel:
        rows = [{"statistic": e["name"].replace("_", "-"), "training (median)": e["reference"],
                 "new (median)": e["batch"], "new median above % of training": e["percentile"],
                 "p-value (Holm)": e["p_adjusted"], "change": e["word"] or "-"} for e in pixel]
        sections.append(section(
            "What changed: simple image statistics",
            table(rows, formats={"training (median)": ".3g", "new (median)": ".3g",
                                 "new median above % of training": ".0%", "p-value (Holm)": ".3g"}),
            intro=(f"{result.description or 'No statistic changed beyond chance.'} Mann-Whitney tests, batch vs "
                   f"training, Holm-corrected and judged at alpha/2 = {result.pixel_stats['alpha']:.3g}; the "
                   f"embedding test (p = {result.embedding['p_value']:.3g}) takes the other alpha/2. Contrast is "
                   "std/mean luminance, sharpness the share of fine detail, colour the mean chromaticity difference."),
        ))
    tiles = [
        thumbnail(item["image"], 150, kind="bad" if item["percentile"] > 1 - result.alpha else None,
                  caption=escape(f"{Path(item['image']).name} · shift score {item['score']:.3g} · "
                                 f"more unusual than {item['percentile']:.0%} of training · predicted {item['predicted']} "
                                 f"{item['confidence']:.0%}"))
        for item in result.top_images
    ]
    sections.append(section("New images most responsible for the shift", figure(tiles) if tiles else paragraph("none"),
                            intro="Ranked by shift score (MMD witness: how much more of the batch than of the training "
                                  "images lies around each image); red border: individually more unusual "
                                  "than (1 - alpha) of the training images."))
    typical_tiles = [thumbnail(item["image"], 110, caption=escape(item["label"])) for item in typical]
    sections.append(section("Typical training images", figure(typical_tiles),
                            intro="The most central training images per predicted class, for comparison."))
    mix = result.class_mix
    names = list(mix.get("reference", {}))
    labels = [f"{n} (train)" if j == 0 else f"{n} (new)" for n in names for j in (0, 1)]
    values = [mix["reference"][n] if j == 0 else mix["batch"][n] for n in names for j in (0, 1)]
    sections.append(section(
        "Predicted class mix and confidence",
        [bar_chart_svg(labels, values, max_value=1.0, fmt=".0%", highlight=[j == 1 for _ in names for j in (0, 1)]),
         table([{"signal": "class mix (total variation)", "training": 0.0, "new": mix.get("total_variation"),
                 "p-value": mix.get("p_value")},
                {"signal": "mean confidence", "training": result.confidence.get("reference"),
                 "new": result.confidence.get("batch"), "p-value": result.confidence.get("p_value")}],
               formats={"p-value": ".3g"},
               caption="Training: the champion model's out-of-fold predictions; new: its predictions on the batch.")],
    ))
    if result.skipped:
        sections.append(section("Unreadable files (left out)", table(result.skipped)))
    return write(path, page(f"Drift check {result.run_id}", sections, subtitle=result.folder))
