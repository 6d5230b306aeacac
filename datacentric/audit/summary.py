"""The audit's words: the summary lines, next steps and the weak-model caution, from an :class:`AuditResult`."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from datacentric.collect import estimate_more
from datacentric.words import plural
from datacentric.audit.result import AuditResult
from datacentric.audit.trust import expected_words, has_forecast

__all__ = ["summarise"]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def summarise(
    result: AuditResult, *, project: str, min_per_class: int, rules: Mapping[frozenset, str] | None = None
) -> None:
    """Fill counts, summary (plain words) and next steps (with commands)."""
    found = _findings(result)
    result.counts = _counts(result, found)
    weak_model = _weak_model_warning(result)
    result.counts["weak_model"] = weak_model is not None
    if weak_model:
        result.summary.append(weak_model)
    result.summary.extend(_summary_lines(result, found, min_per_class))
    result.next_steps.extend(_next_steps(result, found, project, rules))


@dataclass
class _Findings:
    """What the summary and the next steps talk about, picked from an :class:`AuditResult` once."""

    flagged: list
    weak: list  # weakest first
    too_few: list
    weak_slices: list
    pairs: Counter  # (class a, class b) -> flagged images between them
    leaks: list
    conflicting: list
    disagree: list


def _findings(result: AuditResult) -> _Findings:
    weak = [c for c in result.classes if c.weak]
    weak.sort(key=lambda c: min(c.recall, c.precision if c.precision == c.precision else 1.0, c.label_quality))
    return _Findings(
        flagged=result.flagged,
        weak=weak,
        too_few=[c for c in result.classes if c.too_few and c.n > 0],
        weak_slices=[s for s in result.slices if s.weak],
        pairs=Counter(tuple(sorted((i.given, i.suggested))) for i in result.flagged),
        leaks=[d for d in result.near_duplicates if d.leaks_across_folds],
        conflicting=[d for d in result.near_duplicates if not d.same_label],
        disagree=[c for c in result.consensus if len(set(c.votes.values())) > 1],
    )


def _counts(result: AuditResult, found: _Findings) -> dict:
    return {
        "images": len(result.label_issues),
        "label_issues": len(found.flagged),
        "expected_real_errors": _expected(result),
        "weak_classes": len(found.weak),
        "too_few_classes": len(found.too_few),
        "weak_slices": len(found.weak_slices),
        "annotator_disagreements": len(found.disagree),
        "consensus_differs_from_majority": sum(1 for c in result.consensus if c.majority and c.label != c.majority),
        "outliers": len(result.outliers),
        "near_duplicates": len(result.near_duplicates),
        "near_duplicates_across_folds": len(found.leaks),
    }


def _expected(result: AuditResult) -> float | None:
    """The expected number of real errors among the flags, rounded to one decimal (None without one)."""
    trust = result.trust
    if trust is None or trust.expected != trust.expected:
        return None
    return round(trust.expected, 1)


def _summary_lines(result: AuditResult, found: _Findings, min_per_class: int) -> list[str]:
    """The summary in plain words, most important first."""
    s: list[str] = []
    n = len(result.label_issues)
    s.append(
        f"The model, tested on images it did not train on, agrees with the given label on "
        f"{_pct(result.accuracy)} of {n} images."
    )
    s.append(_flagged_line(result, found))
    weak = found.weak
    for c in weak[:3]:
        s.append(f"Weak class: {c.name} ({c.reason}; n={c.n}).")
    if len(weak) > 3:
        s.append(f"{len(weak) - 3} more weak classes: {', '.join(c.name for c in weak[3:])} (see the report).")
    for c in found.too_few:
        s.append(
            f"Class {c.name} has only {c.n} image{'s' if c.n != 1 else ''}: too few to judge "
            f"(needs at least {min_per_class})."
        )
    for sl in found.weak_slices:
        s.append(
            f"Weak slice: {sl.column}={sl.value} (accuracy {sl.accuracy:.2f} vs {sl.rest_accuracy:.2f} "
            f"elsewhere, n={sl.n})."
        )
    if result.most_disagreeing and len(result.annotators) >= 2:
        s.append(_annotator_line(result))
    if found.disagree:
        s.append(f"Annotators gave different labels to {plural(len(found.disagree), 'image')}.")
    if result.outliers:
        one = len(result.outliers) == 1
        s.append(
            f"{len(result.outliers)} image{'' if one else 's'} look{'s' if one else ''} unlike the rest "
            f"(outlier{'' if one else 's'})."
        )
    if result.near_duplicates:
        s.append(_duplicates_line(result, found))
    return s


def _flagged_line(result: AuditResult, found: _Findings) -> str:
    """How many images look mislabelled, how many are expected to be real errors, and between
    which two classes most of them sit.
    """
    flagged, pairs = found.flagged, found.pairs
    if not flagged:
        return "No image looks clearly mislabelled."
    text = f"{plural(len(flagged), 'image looks', 'images look')} mislabelled{_expected_clause(result.trust)}."
    if pairs:
        (a, b), count = pairs.most_common(1)[0]
        if count >= 2:
            text += f" {count} of the {len(flagged)} are {a}↔{b}"
            if len(result.class_names) > 2 and _confused_anyway(result, a, b):
                text += (
                    f". The model mixes up {a} and {b} in general, so these flags may be its "
                    f"weakness, not label errors: decide them by your labelling rule for "
                    f"{a} vs {b}, not by following the suggestion"
                )
            text += "."
    return text


def _expected_clause(trust) -> str:
    """'; expect about E of them to be real errors (90% range L–H), ...' or nothing without an estimate."""
    return f"; {expected_words(trust)}" if has_forecast(trust) else ""


def _annotator_line(result: AuditResult) -> str:
    """The annotator who disagrees most with the consensus, beside the others."""
    worst = next(a for a in result.annotators if a.name == result.most_disagreeing)
    others = [a.agreement for a in result.annotators if a.name != worst.name and a.n > 0]
    rest = f" (others {_pct(1 - max(others))}–{_pct(1 - min(others))})" if others else ""
    if len(others) == 1:
        rest = f" (other {_pct(1 - others[0])})"
    return (
        f"Annotator {worst.name} disagrees with the consensus on {_pct(1 - worst.agreement)} of "
        f"their {worst.n} images{rest}."
    )


def _duplicates_line(result: AuditResult, found: _Findings) -> str:
    """How many near-duplicate pairs, how many leak across folds and how many disagree on the label."""
    one = len(result.near_duplicates) == 1
    text = f"{len(result.near_duplicates)} pair{'' if one else 's'} of near-duplicate images"
    if found.leaks:
        text += f", {len(found.leaks)} split across cross-validation folds (flatters accuracy)"
    if found.conflicting:
        text += f", {len(found.conflicting)} with different labels"
    return text + "."


def _next_steps(
    result: AuditResult, found: _Findings, project: str, rules: Mapping[frozenset, str] | None
) -> list[str]:
    """What to do next, each step with the command that does it."""
    steps = _flagged_steps(found, project, rules)
    weak, weak_slices = found.weak, found.weak_slices
    for c in weak[:2]:
        where = f" from {weak_slices[0].column}={weak_slices[0].value}" if weak_slices else ""
        collect = estimate_more(c.name, have=c.n, recall_now=c.recall).text  # no number here
        steps.append(
            f"{collect[0].upper()}{collect[1:]}{where}; how many (with its range) is "
            f"measured on a learning curve by: datacentric improve {project} "
            f"--class {shlex.quote(c.name)}"
        )
    for c in found.too_few:
        steps.append(f"Collect more {c.name} images: with {c.n} the audit cannot judge the class.")
    if weak_slices and not weak:
        sl = weak_slices[0]
        steps.append(
            f"Collect more images from {sl.column}={sl.value}, or check that station "
            f"(lighting, focus) — the model does worse there."
        )
    if result.most_disagreeing and len(result.annotators) >= 2:
        worst = next(a for a in result.annotators if a.name == result.most_disagreeing)
        if worst.agreement < 0.9:
            about = f", starting with {worst.worst_class}" if worst.worst_class else ""
            steps.append(
                f"Go through {worst.name}'s labels with them{about}; "
                f"agree on the labelling guide before the next batch."
            )
    if found.leaks or found.conflicting:
        steps.append(
            "Remove or merge near-duplicate images (see the table): a twin in another fold makes "
            "cross-validation look better than it is."
        )
    if result.outliers:
        steps.append(
            f"Look at the {len(result.outliers)} unusual image(s): wrong part, bad framing or a new "
            f"kind of defect? Remove them or collect more like them."
        )
    steps.append(f"After fixing labels: datacentric train {project} && datacentric audit {project}")
    return steps


def _flagged_steps(found: _Findings, project: str, rules: Mapping[frozenset, str] | None) -> list[str]:
    """Review the flagged images; check (or write) the rule for the pairs most of them sit between."""
    if not found.flagged:
        return []
    steps = [
        f"Review the {len(found.flagged)} flagged images (worst first): "
        f"datacentric labelstudio push {project} --only-flagged — or fix one at a time: "
        f"datacentric relabel {project} IMAGE LABEL --by NAME --note WHY"
    ]
    for (a, b), count in found.pairs.most_common(2):
        if count >= 2:
            rule = rules.get(frozenset((a, b)))
            if rule:
                steps.append(f"Check the {count} flagged images between {a} and {b} against your rule: {rule}")
            else:
                steps.append(
                    f"Write a tie-breaking rule for {a} vs {b} ({count} flagged images sit "
                    f"between them): datacentric labelbook {project} --rule "
                    f"{shlex.quote(f'{a} vs {b}: ...')}"
                )
    return steps


def _confused_anyway(result: AuditResult, a: str, b: str) -> bool:
    """Whether the class table already sees classes ``a`` and ``b`` mixed up."""
    overlap = any({o.a, o.b} == {a, b} for o in result.overlapping_classes)
    confused = any(c.name in (a, b) and c.weak and c.confused_with in (a, b) for c in result.classes)
    return overlap or confused


WEAK_SKILL = 0.7  # share of the way from "always the commonest class" to perfect


def _weak_model_warning(result: AuditResult) -> str | None:
    """A caution for the top of the summary when the model is too weak to trust its flags."""
    counts = [c.n for c in result.classes]
    n = sum(counts)
    if n == 0 or not result.accuracy == result.accuracy:
        return None
    chance = max(counts) / n
    skill = (result.accuracy - chance) / max(1e-9, 1.0 - chance)
    if skill >= WEAK_SKILL:
        return None
    return (
        f"Caution: the model is weak on these images (right on {_pct(result.accuracy)}, where always "
        f"answering the commonest class would be right on {_pct(chance)}), so many flags will be its "
        f"own mistakes rather than wrong labels. Review them worst first and expect fewer real "
        f"errors than flags; more labelled images or a better backbone make the flags sharper."
    )


# -- the project-level audit -----------------------------------------------------------
