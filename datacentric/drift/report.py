"""The drift check's HTML report, built with the shared :mod:`datacentric.report` helpers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datacentric.drift.pixel_stats import describe
from datacentric.report import (
    badge,
    bar_chart_svg,
    distribution_strips_svg,
    escape,
    figure,
    histogram_svg,
    page,
    paragraph,
    section,
    table,
    thumbnail,
    write,
)

if TYPE_CHECKING:
    from datacentric.drift.result import DriftResult

__all__ = ["write_report"]


def write_report(result: DriftResult, typical: list[dict], path: Path) -> Path:
    """Write ``report.html`` for one :class:`DriftResult`; ``typical`` are reference images."""
    sections = [_verdict_section(result)]
    if result.groups:
        sections.append(_groups_section(result))
    distances = _distance_section(result)
    if distances:
        sections.append(distances)
    pixel = _pixel_section(result)
    if pixel:
        sections.append(pixel)
    sections += _image_sections(result, typical)
    sections.append(_class_mix_section(result))
    if result.skipped:
        sections.append(section("Unreadable files (left out)", table(result.skipped)))
    return write(path, page(f"Drift check {result.run_id}", sections, subtitle=result.folder))


def _families(result) -> list[str]:
    """The test families in the verdict, in the order their p-values combine."""
    return (
        ["embedding test"]
        + (["pixel statistics"] if result.pixel_stats else [])
        + (["predicted class mix"] if result.class_mix.get("in_verdict") else [])
    )


def _verdict_section(result) -> str:
    """The verdict, the rule that combined the families, and the advice."""
    verdict = badge("DRIFT", "bad") if result.drift else badge("no drift", "good")
    summary = table(_verdict_rows(result, verdict), {"what": "", "value": ""})
    families = _families(result)
    m = len(families)
    rule = (
        f"The verdict combines {m} test families ({', '.join(families)}) with Bonferroni: each is judged at "
        f"alpha/{m} = {result.alpha / m:.3g} and p-value = min(1, {m} × the smallest family p-value), so the "
        f"false-alarm rate stays at most alpha = {result.alpha:g} whatever the dependence between the tests."
        if m > 1
        else f"The embedding test alone decides, at alpha = {result.alpha:g}."
    )
    return section(
        "Verdict",
        [summary, paragraph(rule)] + [paragraph(a) for a in result.advice],
        intro=f"Batch {result.folder} against the training images of run {result.reference_run}.",
    )


def _pixel_section(result) -> str | None:
    """What changed in simple image statistics (None when they were not tested)."""
    m = len(_families(result))
    mix = result.class_mix
    pixel = result.pixel_stats.get("statistics", [])
    if not pixel:
        return None
    rows = [
        {
            "statistic": e["name"].replace("_", "-"),
            "training (median)": e["reference"],
            "new (median)": e["batch"],
            "new median above % of training": e["percentile"],
            "p-value (Holm)": e["p_adjusted"],
            "change": e["word"] or "-",
        }
        for e in pixel
    ]
    strips = distribution_strips_svg(
        [
            (e["name"].replace("_", "-"), e["reference_quantiles"], e["batch_quantiles"])
            for e in pixel
            if "reference_quantiles" in e
        ],
        names=("training", "new batch"),
        highlight=[bool(e["changed"]) for e in pixel],
    )
    return section(
        "What changed: simple image statistics",
        [
            figure([strips]),
            table(
                rows,
                formats={
                    "training (median)": ".3g",
                    "new (median)": ".3g",
                    "new median above % of training": ".0%",
                    "p-value (Holm)": ".3g",
                },
            ),
        ],
        intro=(
            f"{_sentence(_words(pixel)) or 'No statistic changed beyond chance.'} Mann-Whitney tests, batch vs "
            f"training, Holm-corrected and judged at alpha/{m} = {result.pixel_stats['alpha']:.3g}; the "
            f"embedding test (p = {result.embedding['p_value']:.3g})"
            + (f" and the class mix (p = {mix['p_value']:.3g}) take" if mix.get("in_verdict") else " takes")
            + " the rest of alpha. Contrast is std/mean luminance, sharpness the share of fine detail, colour "
            "the mean chromaticity difference. Strips: the middle half of the images (box), 10-90% "
            "(whiskers) and the median (bar), training against the new batch; red: changed."
        ),
    )


def _image_sections(result, typical: list[dict]) -> list[str]:
    """The new images most responsible for the shift, and typical training images beside them."""
    tiles = [
        thumbnail(
            item["image"],
            150,
            kind="bad" if item["percentile"] > 1 - result.alpha else None,
            caption=escape(
                f"{Path(item['image']).name} · shift score {item['score']:.3g} · "
                f"more unusual than {item['percentile']:.0%} of training · predicted {item['predicted']} "
                f"{item['confidence']:.0%}"
            ),
        )
        for item in result.top_images
    ]
    shift = section(
        "New images most responsible for the shift",
        figure(tiles) if tiles else paragraph("none"),
        intro="Ranked by shift score (MMD witness: how much more of the batch than of the training "
        "images lies around each image); red border: individually more unusual "
        "than (1 - alpha) of the training images.",
    )
    typical_tiles = [thumbnail(item["image"], 110, caption=escape(item["label"])) for item in typical]
    typical_section = section(
        "Typical training images",
        figure(typical_tiles),
        intro="The most central training images per predicted class, for comparison.",
    )
    return [shift, typical_section]


def _class_mix_section(result) -> str:
    """The predicted class mix and the mean confidence, training against the batch."""
    m = len(_families(result))
    mix = result.class_mix
    names = list(mix.get("reference", {}))
    labels = [f"{n} (train)" if j == 0 else f"{n} (new)" for n in names for j in (0, 1)]
    values = [mix["reference"][n] if j == 0 else mix["batch"][n] for n in names for j in (0, 1)]
    if mix.get("in_verdict"):
        mix_intro = (
            f"{mix.get('description') or 'The predicted class mix did not change beyond chance.'} "
            f"Chi-square test of the predicted classes, batch vs training, p = {mix.get('p_value', 1.0):.3g} "
            f"from {mix.get('n_resamples', 0)} random tables with the same margins (valid for small "
            f"batches, unlike the asymptotic chi-square), judged at alpha/{m} = {mix.get('alpha', 0):.3g}; "
            "classes named: per-class Fisher tests, Holm-corrected."
        )
    else:
        mix_intro = "Evidence only: the class mix is not part of this verdict."
    class_rows = [
        {
            "class": e["name"],
            "training": e["reference"],
            "new": e["batch"],
            "new images": e["batch_count"],
            "p-value (Holm)": e["p_adjusted"],
            "change": e["word"] or "-",
        }
        for e in mix.get("classes", [])
    ]
    return section(
        "Predicted class mix and confidence",
        [
            bar_chart_svg(labels, values, max_value=1.0, fmt=".0%", highlight=[j == 1 for _ in names for j in (0, 1)]),
            table(
                [
                    {
                        "signal": "class mix (total variation)",
                        "training": 0.0,
                        "new": mix.get("total_variation"),
                        "p-value": mix.get("p_value"),
                    },
                    {
                        "signal": "mean confidence (evidence only)",
                        "training": result.confidence.get("reference"),
                        "new": result.confidence.get("batch"),
                        "p-value": result.confidence.get("p_value"),
                    },
                ],
                formats={"p-value": ".3g"},
                caption="Training: the champion model's out-of-fold predictions; new: its predictions on the batch.",
            ),
        ]
        + (
            [table(class_rows, formats={"training": ".0%", "new": ".0%", "p-value (Holm)": ".3g"})]
            if class_rows
            else []
        ),
        intro=mix_intro,
    )


def _distance_section(result) -> str:
    """Histogram of embedding distances to the nearest training images, training vs batch."""
    training, batch = result.distances.get("training", []), result.distances.get("batch", [])
    if not training or not batch:
        return ""
    ordered = sorted(training)
    cut = ordered[min(len(ordered) - 1, int((1 - result.alpha) * len(ordered)))]
    chart = histogram_svg(
        training,
        batch,
        names=("training", "new batch"),
        axis="distance to the nearest training images (model's embedding space)",
        marker=cut,
        marker_label=f"{1 - result.alpha:.0%} of training closer",
    )
    return section(
        "How far the new images are from the training images",
        figure([chart]),
        intro=(
            f"Each image's mean distance to its nearest training images, as the model sees them "
            f"(a training image: to its nearest other training images). Blue bars: the "
            f"{len(training)} training images; orange outline: the {len(batch)} new images. A batch "
            f"shifted to the right holds images unlike those the model learned from. New images right of "
            f"the dashed line, beyond {1 - result.alpha:.0%} of the training images: {result.unusual} "
            f"of {len(batch)} (about {result.alpha:.0%} would be by chance)."
        ),
        id="distances",
    )


def _verdict_rows(result, verdict) -> list[dict]:
    """The verdict as label/value rows: a narrow table that fits its card at any width."""

    def p(value) -> str:
        return "-" if value is None else format(value, ".3g")

    facts = [
        ("verdict", verdict),
        ("what changed", result.description or "-"),
        ("p-value", p(result.p_value)),
        ("embedding p", p(result.embedding.get("p_value"))),
        ("pixel-stats p", p(result.pixel_stats.get("p_value"))),
        ("class-mix p", p(result.class_mix.get("p_value"))),
        ("statistic", p(result.statistic)),
        ("batch images", result.n),
        ("reference images", result.n_reference),
        ("method", result.method),
        ("alpha", result.alpha),
        ("unusual images", result.unusual),
        ("unreadable", len(result.skipped)),
    ]
    return [{"what": k, "value": v} for k, v in facts]


def _sentence(words: str) -> str:
    """``words`` as a sentence: a capital first letter and a full stop (empty stays empty)."""
    words = words.strip()
    if not words:
        return ""
    return words[0].upper() + words[1:] + ("" if words.endswith(".") else ".")


def _words(pixel: list[dict]) -> str:
    """The changed pixel statistics in words (the description may also hold class-mix words)."""
    changed = sorted((e for e in pixel if e.get("changed")), key=lambda e: (e["p_adjusted"], e["p_value"]))
    return describe(changed)


def _groups_section(result):
    """One row per metadata group / time window: its verdict and Holm-adjusted p-value."""
    rows = [
        {
            "group": g["group"],
            "images": g["n"],
            "verdict": ("DRIFT" if g["drift"] else "no drift") if g["tested"] else "too few to test",
            "p-value (Holm)": g["p_adjusted"],
            "p-value alone": g["p_value"],
            "what changed": g["description"] or "-",
        }
        for g in result.groups
    ]
    split = ", ".join(result.grouping.get("per") or []) or ""
    if result.grouping.get("window"):
        split = f"{split} and {result.grouping['window']} windows" if split else f"{result.grouping['window']} windows"
    return section(
        "Verdict per group",
        table(rows, formats={"p-value (Holm)": ".3g", "p-value alone": ".3g"}),
        intro=f"The new images split by {split}; each group is tested against the training images "
        f"on its own and the p-values are Holm-corrected across the groups, so the chance of "
        f"any false alarm stays at most alpha = {result.alpha:g}. The verdict above is the groups'.",
    )
