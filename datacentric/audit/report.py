"""The audit's HTML report, written for someone who has never heard of confident learning."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from datacentric import report as H
from datacentric.audit.trust import expected_words, has_forecast
from datacentric.stats import weak_bar

if TYPE_CHECKING:
    from datacentric.audit.result import AuditResult

__all__ = ["render_report"]

MAX_FLAGGED = 60
BIG = 180
FULL = 1024  # flagged images open at up to this size on click: fine cracks need pixels
SMALL = 120

_HOW = (
    "How this works: the model was trained several times, each time with a part of the images "
    "hidden, and then asked about the hidden images. So every prediction below comes from a model "
    "that never saw that image's label. When such a model is confident an image is something other "
    "than its label — and the images it most resembles are labelled differently — the label is "
    "probably wrong. It is a ranked list of suspects for a person to check, not a verdict."
)


def _name(path: str) -> str:
    return Path(path).name


def _pct(x: float | None) -> str:
    """A share as a percentage; never shows 100% or 0% for a probability that is not exact."""
    if x is None or x != x:
        return "–"
    value = f"{100 * x:.0f}"
    if value == "100":
        return ">99%"
    if value == "0" and x > 0:
        return "<1%"
    return value + "%"


# a command runs to the next clause break, but a shell-quoted argument ('a (b); c') is one piece
_COMMAND = re.compile(r"(datacentric\s(?:'[^']*'|[^'])+?)(?=, or |, and | — |; | \(|\)|$)")


def _p(p: float) -> H.Html:
    return H.Html("&lt;0.001" if p < 0.001 else f"{p:.3f}")


def _steps(steps: list[str]) -> str:
    """Bullets; each ``datacentric ...`` command is set in <code>."""
    items = []
    for step in steps:
        out, last = [], 0
        for match in _COMMAND.finditer(step):
            out.append(H.escape(step[last : match.start()]))
            out.append(f"<code>{H.escape(match.group(1))}</code>")
            last = match.end()
        out.append(H.escape(step[last:]))
        items.append(f"<li>{''.join(out)}</li>")
    return '<ul class="steps">' + "".join(items) + "</ul>"


def _flagged_cards(result) -> str:
    flagged = result.flagged
    votes = {c.image: c.votes for c in result.consensus}
    cards = []
    for rank, issue in enumerate(flagged[:MAX_FLAGGED], start=1):
        who = votes.get(issue.image) or {}
        vote_text = ""
        if len(who) > 1:
            vote_text = (
                "<br><span class='muted'>annotators: "
                + H.escape(", ".join(f"{a}: {label}" for a, label in sorted(who.items())))
                + "</span>"
            )
        caption = (
            f"<b>#{rank} {H.escape(_name(issue.image))}</b><br>"
            f"labelled <b>{H.escape(issue.given)}</b><br>"
            f"looks like <b>{H.escape(issue.suggested)}</b> ({_pct(issue.confidence)} sure)<br>"
            f"<span class='muted'>{_chance(issue)}</span>{vote_text}"
        )
        main = H.thumbnail(issue.image, BIG, caption=caption, kind="bad", title=issue.image, zoom=FULL)
        groups = []
        for label, paths, kind in (
            (issue.given, issue.nearest_given, "info"),
            (issue.suggested, issue.nearest_suggested, "good"),
        ):
            if paths:
                thumbs = "".join(H.thumbnail(p, SMALL, caption=H.escape(_name(p)), kind=kind, title=p) for p in paths)
            else:
                thumbs = f"<p class='muted' style='width:{SMALL}px'>no well-labelled example</p>"
            groups.append(
                f"<div><div class='muted' style='font-size:13px;margin-bottom:3px'>most similar "
                f"<b>{H.escape(label)}</b> images</div>{H.figure([thumbs])}</div>"
            )
        cards.append(
            f"<div class='card'><div class='row' style='flex-wrap:nowrap'>{main}"
            f"<div>{''.join(groups)}</div></div></div>"
        )
    more = ""
    if len(flagged) > MAX_FLAGGED:
        more = H.paragraph(f"{len(flagged) - MAX_FLAGGED} more flagged images are listed in audit.json.")
    return "<div class='cards'>" + "".join(cards) + "</div>" + more


def _chance(issue) -> str:
    """'chance it is a real error 62%' (the label quality score without an estimate)."""
    p = issue.expected_precision
    return f"chance it is a real error {_pct(p)}" if p == p else f"label quality {issue.quality:.2f}"


def _trust_sentence(result) -> str:
    """How many of the flags are expected to be real errors, and what the forecast rests on."""
    trust = result.trust
    if not has_forecast(trust):
        return ""
    words = expected_words(trust)
    if trust.reviews:
        if trust.reviews == 1:
            outcome = "a real error" if trust.reviews_real else "a false alarm"
            rests = f"the model and 1 earlier flag a reviewer settled ({outcome})"
        else:
            rests = (
                f"the model and {trust.reviews} earlier flags reviewers settled "
                f"({trust.reviews_real} of them real errors)"
            )
    else:
        rests = "the model and the labels alone: no review has checked it yet"
    return (
        f" {words[:1].upper()}{words[1:]}. The forecast rests on {rests}. Each card gives its own "
        "chance; on real photos the chances run wider than they should (cards at 80% and above "
        "were real errors about 70% of the time), so read them as an order, and the count as the forecast."
    )


def _class_bars(result) -> str:
    """Recall and precision per class as bars, weak classes in red, overall accuracy dashed."""
    rows = [(c.name, c.recall, c.precision, c.weak) for c in result.classes if not c.too_few]
    return H.figure([H.class_bars_svg(rows, reference=result.accuracy, bar=weak_bar(result.accuracy))]) if rows else ""


def render_report(result: AuditResult, *, title: str = "Label audit", subtitle: str | None = None) -> str:
    """Render an :class:`~datacentric.audit.AuditResult` as one self-contained HTML page."""
    summary = '<ul class="summary">' + "".join(f"<li>{H.escape(s)}</li>" for s in result.summary) + "</ul>"
    sections = [
        H.section("Summary", [summary, H.paragraph(_HOW)], id="summary"),
        H.section("What to do next", _steps(result.next_steps), id="next"),
    ]
    for part in (
        _issues_section,
        _confusion_section,
        _classes_section,
        _slices_section,
        _annotators_section,
        _outliers_section,
        _notes_section,
    ):
        sections += part(result)
    return H.page(title, sections, subtitle=subtitle)


def _issues_section(result) -> list[str]:
    """The flagged images as cards, then the least certain labels that were not flagged."""
    sections: list[str] = []
    flagged = result.flagged
    if flagged:
        intro = (
            f"{len(flagged)} images, most suspicious first. Red frame: the image and its current label. "
            "Beside it: the most similar images that are labelled with confidence as the current label "
            "(blue) and as the suggested label (green). If the red image looks like the green ones, "
            "change its label; if it looks like the blue ones, keep it." + _trust_sentence(result)
        )
        body = _flagged_cards(result)
    else:
        intro = "No image was flagged. The least certain labels are in the table below."
        body = ""
    worst = [i for i in result.label_issues if not i.is_issue][:10]
    body += "<h3>Least certain labels that were not flagged</h3>" + H.table(
        [
            {
                "image": _name(i.image),
                "given": i.given,
                "model's guess": i.suggested,
                "chance it is wrong": i.expected_precision,
                "note": "settled by a reviewer" if i.reviewed else "" if i.judged else "class too small to judge",
            }
            for i in worst
        ],
        formats={"chance it is wrong": ".0%"},
    )
    sections.append(H.section("Images that look mislabelled", body, intro=intro, id="issues"))
    return sections


def _confusion_section(result) -> list[str]:
    """The confusion matrix of given against predicted labels."""
    sections: list[str] = []
    cm = H.confusion_matrix_svg(result.confusion, result.class_names)
    sections.append(
        H.section(
            "Confusion matrix",
            cm,
            id="confusion",
            intro=(
                f"Each row is a label as given, each column what the model predicted for images it had not "
                f"seen. The diagonal (green) is agreement: {_pct(result.accuracy)} overall. Red cells are "
                "mix-ups; a dark red cell is a pair of classes worth a labelling rule or more examples."
            ),
        )
    )
    return sections


def _classes_section(result) -> list[str]:
    """Per-class bars and table, and the classes that overlap."""
    sections: list[str] = []
    rows = []
    for c in result.classes:
        verdict = (
            H.badge("too few to judge", "muted")
            if c.too_few
            else H.badge("weak", "bad")
            if c.weak
            else H.badge("ok", "good")
        )
        rows.append(
            {
                "class": c.name,
                "images": c.n,
                "recall": c.recall,
                "precision": c.precision,
                "label quality": c.label_quality,
                "verdict": verdict,
                "why": c.reason or (f"most often mistaken for {c.confused_with}" if c.confused_with else ""),
            }
        )
    overlap = ""
    if result.overlapping_classes:
        overlap = "<h3>Classes that overlap</h3>" + H.table(
            [
                {"class A": o.a, "class B": o.b, "images in between (est.)": o.n, "share of data": o.joint}
                for o in result.overlapping_classes
            ],
            formats={"share of data": ".1%"},
        )
    sections.append(
        H.section(
            "Classes",
            [
                _class_bars(result),
                H.table(
                    rows,
                    formats={"recall": ".2f", "precision": ".2f", "label quality": ".2f"},
                    flag=[c.weak for c in result.classes],
                ),
                overlap,
            ],
            id="classes",
            intro=(
                "Recall: of the images labelled as the class, the share the model recognised. Precision: of the "
                "images the model called the class, the share labelled so. Label quality: 1 minus the estimated "
                "share of wrong labels in the class. A class is weak when its recall or precision is more than "
                "0.10 below the overall accuracy (or below 0.5 while also 0.05 below it), or its label quality is "
                "below 0.8 and clearly below the other classes'. Classes with fewer than 5 images are not "
                "judged. Bars: recall and precision per class, red for a weak class; the dashed line is the "
                "overall accuracy."
            ),
        )
    )
    return sections


def _slices_section(result) -> list[str]:
    """Accuracy per metadata value, weak slices flagged (none without metadata)."""
    sections: list[str] = []
    if result.slices:
        srows = []
        for s in result.slices:
            verdict = (
                H.badge("weak", "bad")
                if s.weak
                else H.badge("ok", "good")
                if s.tested
                else H.badge("too small to test", "muted")
            )
            srows.append(
                {
                    "column": s.column,
                    "value": s.value,
                    "images": s.n,
                    "accuracy": s.accuracy,
                    "accuracy elsewhere": s.rest_accuracy,
                    "p (corrected)": _p(s.p_adjusted) if s.tested else None,
                    "verdict": verdict,
                }
            )
        sections.append(
            H.section(
                "Slices",
                H.table(
                    srows,
                    formats={"accuracy": ".2f", "accuracy elsewhere": ".2f"},
                    flag=[s.weak for s in result.slices],
                ),
                id="slices",
                intro=(
                    "Accuracy for each value of each metadata column (camera, line, shift, ...). A slice is "
                    "weak when it is significantly worse than all other images: one-sided Fisher exact test, "
                    "Holm-corrected over all slices, p < 0.05. Slices with fewer than 10 images are shown "
                    "but never flagged, so a handful of unlucky images does not raise an alarm."
                ),
            )
        )
    return sections


def _annotators_section(result) -> list[str]:
    """Annotators against the consensus, and the images they disagree on."""
    sections: list[str] = []
    if result.annotators:
        arows = [
            {
                "annotator": a.name,
                "images": a.n,
                "agrees with consensus": a.agreement,
                "quality (CROWDLAB)": a.quality,
                "least reliable on": a.worst_class or "",
                "": H.badge("disagrees most", "warn") if a.name == result.most_disagreeing else "",
            }
            for a in result.annotators
        ]
        differs = result.counts.get("consensus_differs_from_majority", 0)
        disagree = [c for c in result.consensus if len(set(c.votes.values())) > 1]
        thumbs = [
            H.thumbnail(
                c.image,
                SMALL,
                title=c.image,
                caption=(
                    f"{H.escape(_name(c.image))}<br>"
                    + "<br>".join(H.escape(f"{a}: {label}") for a, label in sorted(c.votes.items()))
                    + f"<br><b>consensus: {H.escape(c.label)}</b>"
                ),
            )
            for c in disagree[:24]
        ]
        more = f" (first 24 of {len(disagree)})" if len(disagree) > 24 else ""
        body = [
            H.table(
                arows,
                formats={"agrees with consensus": ".0%", "quality (CROWDLAB)": ".2f"},
                flag=[a.name == result.most_disagreeing for a in result.annotators],
            ),
            H.paragraph(f"The consensus label differs from a plain majority vote on {differs} images."),
            f"<h3>Images where annotators disagree{more}</h3>" + (H.figure(thumbs) if thumbs else H.paragraph("None.")),
        ]
        sections.append(
            H.section(
                "Annotators",
                body,
                id="annotators",
                intro=(
                    "Every annotator's labels are kept. The consensus label weighs each person by how often "
                    "they agree with the others and with the model (CROWDLAB), instead of a plain vote; "
                    "'agrees with consensus' is the share of their labels equal to it."
                ),
            )
        )
    return sections


def _outliers_section(result) -> list[str]:
    """Unusual images and near-duplicate pairs."""
    sections: list[str] = []
    extra = []
    if result.outliers:
        extra.append(
            "<h3>Unusual images</h3>"
            + H.figure(
                H.thumbnail(
                    o.image,
                    SMALL,
                    title=o.image,
                    caption=f"{H.escape(_name(o.image))}<br><span class='muted'>score {o.score:.2f}</span>",
                )
                for o in result.outliers[:24]
            )
        )
    if result.near_duplicates:
        pairs = []
        for d in result.near_duplicates[:12]:
            tag = " · different labels" if not d.same_label else ""
            tag += " · in different folds" if d.leaks_across_folds else ""
            thumbs = "".join(
                H.thumbnail(p, SMALL, title=p, caption=H.escape(f"{_name(p)} ({lab})"))
                for p, lab in zip(d.images, d.labels or ["", ""])
            )
            pairs.append(
                f"<div class='card'>{thumbs}<div class='muted'>distance {d.distance:.4f}{H.escape(tag)}</div></div>"
            )
        extra.append("<h3>Near-duplicates</h3>" + H.figure(pairs))
    if extra:
        sections.append(
            H.section(
                "Outliers and near-duplicates",
                extra,
                id="outliers",
                intro=(
                    "Unusual images are far from all others in the model's feature space (wrong part, bad framing, "
                    "a new kind of defect). Near-duplicates are pairs much closer than images usually are: keep one, "
                    "or keep both in the same cross-validation fold, else accuracy looks better than it is."
                ),
            )
        )
    return sections


def _notes_section(result) -> list[str]:
    """The audit's notes."""
    sections: list[str] = []
    if result.notes:
        sections.append(
            H.section("Notes", "<ul>" + "".join(f"<li>{H.escape(n)}</li>" for n in result.notes) + "</ul>", id="notes")
        )
    return sections
