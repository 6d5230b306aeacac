"""The label book as one self-contained HTML page (images embedded; opens offline)."""

from __future__ import annotations

from pathlib import Path

from datacentric.labelbook.book import Example, LabelBook
from datacentric import report as H

__all__ = ["render_labelbook"]

SIZE = 240  # px: large enough to judge a defect; a click opens the full image
FULL = 1024


def _card(example: Example, kind: str) -> str:
    votes = ", ".join(f"{who}: {label}" for who, label in sorted(example.votes.items()))
    caption = (
        f"<b>{H.escape(Path(example.image).name)}</b><br>labelled <b>{H.escape(example.label)}</b>; "
        f"model: {example.probability:.0%} {H.escape(example.label)}"
        + (f"<br><span class='muted'>{H.escape(votes)}</span>" if votes else "")
    )
    return H.thumbnail(example.image, SIZE, caption=caption, kind=kind, title=example.image, zoom=FULL)


def render_labelbook(book: LabelBook, *, title: str = "Label book") -> str:
    """Render a :class:`LabelBook`: canonical examples per class, then the confused pairs."""
    sections = []
    for name in book.classes:
        examples = book.canonical.get(name, [])
        body = (
            H.figure(_card(e, "good") for e in examples)
            if examples
            else H.paragraph("No image of this class that every annotator labelled alike and the model recognised.")
        )
        sections.append(
            H.section(
                f"{name}: canonical examples",
                body,
                intro="Images every annotator labelled alike and the model (tested on images it did not "
                "train on) recognised most surely: show these when you teach the class.",
            )
        )
    for pair in book.borderline:
        rule = (
            f"<p><b>Rule:</b> {H.escape(pair.rule.text)} <span class='muted'>(written "
            f"{H.escape(pair.rule.created_at)})</span></p>"
            if pair.rule
            else "<p class='muted'>No rule yet. Write one: datacentric labelbook PROJECT --rule "
            f"{H.escape(repr(f'{pair.a} vs {pair.b}: ...'))}</p>"
        )
        body = rule + H.figure(_card(e, "info") for e in pair.examples)
        sections.append(
            H.section(
                f"{pair.a} vs {pair.b}: borderline",
                body,
                intro=f"{pair.confused} images labelled {pair.a} or {pair.b} were taken for the other one by "
                "the model (tested on images it did not train on). These are the closest calls, with each "
                "annotator's vote: decide them once, write the rule down.",
            )
        )
    return H.page(title, sections, subtitle=f"from train run {book.train_run}")
