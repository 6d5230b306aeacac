"""The label book: canonical and borderline examples per class, and the team's rules.

Inspection teams keep a "label book": for each class, examples everybody agrees on, and
for each pair of classes that get confused, the borderline cases and a one-line rule
that settles them. Here it is generated from a train run's out-of-sample probabilities
and the annotators' votes; the rules are written by people and kept in the project
(``labelbook.json``, every version kept, the latest per pair in force).

Shapes: N images, K classes; ``probs`` (N, K) out-of-sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.paths import write_atomic
from datacentric.project.core import LABELBOOK_RULES
from datacentric.runs import read_oof

if TYPE_CHECKING:
    from datacentric.project import Project, Run

__all__ = ["Borderline", "Example", "LabelBook", "Rule", "add_rule", "build_labelbook", "load_rules", "rules_in_force"]

CANONICAL, BORDERLINE = 4, 3  # examples per class; borderline images per direction of a pair


@dataclass
class Example:
    """One image in the book."""

    image: str
    label: str  # its training (consensus) label
    probability: float  # the out-of-sample model's probability of that label
    votes: dict[str, str] = field(default_factory=dict)  # annotator -> label


@dataclass
class Rule:
    """A team's rule for telling two classes apart."""

    a: str
    b: str
    text: str
    created_at: str = ""


@dataclass
class Borderline:
    """A pair of classes that get confused, its closest calls and the rule in force."""

    a: str
    b: str
    confused: int  # images of one labelled, predicted as the other (both directions)
    examples: list[Example]  # labelled a or b, the model torn between them; closest call first
    rule: Rule | None = None


@dataclass
class LabelBook:
    """Canonical examples per class and the confused pairs, from one train run."""

    classes: list[str]
    canonical: dict[str, list[Example]]
    borderline: list[Borderline]  # most confused pair first
    train_run: str
    rules: list[Rule] = field(default_factory=list)  # every rule in force


def build_labelbook(project: Project, run: Run | str | None = None) -> LabelBook:
    """The label book of a project from a train run (default: the champion that left no image out, as audit)."""
    train = project.train_run(run, complete=True)
    oof = read_oof(train)
    ids, classes, probs = oof.ids, oof.classes, oof.probs
    records = {r.id: r for r in project.images(None)}
    current, votes = project.labels(), project.current_labels()
    rows = [i for i, image_id in enumerate(ids) if current.get(image_id) in classes and image_id in records]
    examples = [
        Example(
            image=str(records[ids[i]].path),
            label=current[ids[i]],
            probability=float(probs[i, classes.index(current[ids[i]])]),
            votes=dict(votes.get(ids[i], {})),
        )
        for i in rows
    ]
    labels = np.array([classes.index(e.label) for e in examples], dtype=np.int64)
    probs = probs[rows]
    in_force = rules_in_force(project)
    pairs = _confused_pairs(labels, probs, classes)
    borderline = [
        Borderline(
            a=a,
            b=b,
            confused=n,
            rule=in_force.get(frozenset((a, b))),
            examples=_closest_calls(examples, labels, probs, classes, a, b),
        )
        for a, b, n in pairs
    ]
    return LabelBook(
        classes=classes,
        canonical=_canonical(examples, labels, classes),
        borderline=borderline,
        train_run=train.id,
        rules=list(in_force.values()),
    )


def _canonical(examples: list[Example], labels: np.ndarray, classes: list[str]) -> dict[str, list[Example]]:
    """Per class: images every annotator gave that label, the model surest first."""
    out = {}
    for c, name in enumerate(classes):
        agreed = [e for e, y in zip(examples, labels) if y == c and set(e.votes.values()) <= {name}]
        out[name] = sorted(agreed, key=lambda e: -e.probability)[:CANONICAL]
    return out


def _confused_pairs(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> list[tuple[str, str, int]]:
    """Class pairs with images of one predicted as the other, most first."""
    from sklearn.metrics import confusion_matrix

    k = len(classes)
    matrix = confusion_matrix(labels, probs.argmax(axis=1), labels=np.arange(k))
    pairs = [
        (classes[i], classes[j], int(matrix[i, j] + matrix[j, i]))
        for i in range(k)
        for j in range(i + 1, k)
        if matrix[i, j] + matrix[j, i] > 0
    ]
    return sorted(pairs, key=lambda p: -p[2])


def _closest_calls(examples, labels, probs, classes, a: str, b: str) -> list[Example]:
    """Images labelled a or b whose two probabilities are closest (the model torn)."""
    ia, ib = classes.index(a), classes.index(b)
    out = []
    for c in (ia, ib):
        members = np.flatnonzero(labels == c)
        gap = np.abs(probs[members, ia] - probs[members, ib]) - (probs[members, ia] + probs[members, ib])
        out.extend(examples[i] for i in members[np.argsort(gap, kind="stable")][:BORDERLINE])
    return out


def load_rules(project: Project) -> list[Rule]:
    """Every rule ever written, oldest first (``labelbook.json`` in the project)."""
    path = project.path(LABELBOOK_RULES)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Rule(**r) for r in data["rules"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatacentricError(f"unreadable label book rules: {exc}", path) from None


def rules_in_force(project: Project) -> dict[frozenset, Rule]:
    """The latest rule for each class pair (either order), keyed by ``frozenset({a, b})``."""
    return {frozenset((r.a, r.b)): r for r in load_rules(project)}


def add_rule(project: Project, text: str) -> Rule:
    """Keep a rule written as ``"A vs B: what tells them apart"`` (both must be classes)."""
    pair, sep, body = str(text).partition(":")
    a, vs, b = pair.partition(" vs ")
    a, b, body = a.strip(), b.strip(), body.strip()
    if not sep or not vs or not a or not b or not body:
        raise DatacentricError(f"a rule reads 'CLASS vs CLASS: the rule', got {text!r}", "labelbook")
    known = project.classes()
    for name in (a, b):
        if name not in known:
            raise DatacentricError(f"unknown class {name!r} in the rule (classes: {', '.join(known)})", "labelbook")
    if a == b:
        raise DatacentricError("a rule tells two different classes apart", "labelbook")
    rule = Rule(a=a, b=b, text=body, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    rules = [*load_rules(project), rule]
    payload = {"rules": [r.__dict__ for r in rules]}
    write_atomic(project.path(LABELBOOK_RULES), json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return rule
