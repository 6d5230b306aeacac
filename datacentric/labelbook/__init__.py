"""The label book: canonical and borderline examples per class, and the team's rules."""

from datacentric.labelbook.book import (
    Borderline,
    Example,
    LabelBook,
    Rule,
    add_rule,
    build_labelbook,
    load_rules,
    rules_in_force,
)
from datacentric.labelbook.render import render_labelbook

__all__ = [
    "Borderline",
    "Example",
    "LabelBook",
    "Rule",
    "add_rule",
    "build_labelbook",
    "load_rules",
    "render_labelbook",
    "rules_in_force",
]
