"""The audit of a project: read the champion train run, run :func:`audit_arrays`, note reviews and
grouping, and write an "audit" run with ``audit.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import math

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datacentric.audit.annotators import (
    label_matrix,
)
from datacentric.errors import DatacentricError
from datacentric.paths import write_atomic
from datacentric.runs import OOF_FILE, OutOfFold, read_audit, read_oof, write_audit
from datacentric.audit.core import audit_arrays
from datacentric.audit.result import AuditResult

if TYPE_CHECKING:
    from datacentric.project import Project, Run


__all__ = ["find_issues", "load_audit"]


def _resolve_train_run(project, run):
    """The train run to audit: a train run, the train run behind an audit run, or by default
    the champion that left no image out (:func:`datacentric.runs.champion` with ``complete``).

    A challenger from ``retrain`` is trained without the golden set, so it has no
    out-of-sample predictions for those images: auditing it would silently skip them.
    """
    if run is not None and not isinstance(run, str):
        return run
    if run is not None:
        found = project.run(run)
        if found.kind == "audit" and found.config.get("train_run"):
            return project.run(found.config["train_run"])
    return project.train_run(run, complete=True)


def find_issues(
    project: Project,
    run: Run | str | None = None,
    *,
    embeddings: np.ndarray | None = None,
    min_per_class: int = 5,
    min_slice: int = 10,
    alpha: float = 0.05,
    report: bool = True,
    project_arg: str | None = None,
) -> AuditResult:
    """Audit a project on the out-of-sample probabilities of a train run; write an "audit" run.

    Parameters
    ----------
    project : Project
    run : str or Run, optional
        The train run (id or object) to audit; default the latest finished one.
    embeddings : (N, D) array, optional
        Embeddings in the train run's image order; default
        :func:`datacentric.model.embed_project` (cached).
    min_per_class, min_slice, alpha : see :func:`audit_arrays`
    report : bool, default True
        Also write ``report.html`` in the run folder.
    project_arg : str, optional
        The project folder as the user typed it (for commands in the next steps).

    Returns
    -------
    AuditResult with ``run_id`` and ``report`` set. The run folder holds ``audit.json``
    (``AuditResult.to_json()``) and ``report.html``.
    """
    train = _resolve_train_run(project, run)
    oof = read_oof(train)
    folds = oof.folds if oof.folds is not None else _train_folds(project, train, oof.labels)
    recs = _train_records(project, train, oof.ids)
    changed = _current_labels(project, oof.ids, oof.classes, oof.labels)
    notes: list[str] = []
    if embeddings is None:
        embeddings = _project_embeddings(project, recs, notes)
    settings = {"min_per_class": min_per_class, "min_slice": min_slice, "alpha": alpha}
    shown = project_arg or _display(project.root)
    verdicts, outcomes = _settled_flags(project)
    result = _audit_oof(
        project,
        train,
        oof,
        recs,
        folds=folds,
        embeddings=embeddings,
        shown=shown,
        settings=settings,
        settled=verdicts,
        reviews=outcomes,
    )
    result.notes = notes + result.notes
    _note_grouping(result, train.metrics)
    _offer_grouping(result, recs, oof.labels, train, shown)
    _note_reviews(result, verdicts)
    if changed:
        result.notes.append(f"{changed} labels changed since the train run; audited against the current labels")
    if folds is None and result.near_duplicates:
        result.notes.append("fold assignment not stored in the train run: leaks across folds unknown")
    _save_audit_run(project, result, train, config={"train_run": train.id, **settings}, report=report)
    return result


def _train_records(project, train, ids: list[str]) -> list:
    """The project's image records in the train run's order; an error when one was removed since."""
    records = {r.id: r for r in project.images(None)}
    missing = [i for i in ids if i not in records]
    if missing:
        raise DatacentricError(
            f"{len(missing)} images of the train run are no longer in the project (removed since): train again first",
            Path(train.dir) / OOF_FILE,
        )
    return [records[i] for i in ids]


def _project_embeddings(project, recs: list, notes: list[str]) -> np.ndarray | None:
    """:func:`datacentric.model.embed_project` of the records (cached); None with a note when it fails."""
    try:
        from datacentric.model import embed_project

        return embed_project(project, recs)
    except Exception as exc:  # noqa: BLE001  (the other checks still stand without embeddings)
        notes.append(f"embeddings unavailable ({exc}): outliers and near-duplicates skipped")
        return None


def _audit_oof(
    project,
    train,
    oof: OutOfFold,
    recs: list,
    *,
    folds,
    embeddings,
    shown: str,
    settings: dict,
    settled: dict,
    reviews: list[tuple[float, bool]],
) -> AuditResult:
    """:func:`audit_arrays` on the train run's out-of-sample predictions, with the project's
    metadata, annotators' votes, reviews, grouping and label book rules.
    """
    from datacentric.model.grouping import run_groups

    ids = oof.ids
    votes, reviewed_ids = _votes_and_reviews(project)
    matrix, names = label_matrix(votes, ids, oof.classes)
    metadata = [dict(r.metadata) for r in recs]
    return audit_arrays(
        oof.labels,
        oof.probs,
        oof.classes,
        images=[str(r.path) for r in recs],
        ids=ids,
        embeddings=embeddings,
        metadata=metadata,
        annotator_labels=matrix,
        annotators=names,
        folds=folds,
        groups=run_groups(oof.group_of(), ids, metadata, train.config.get("group_by")),
        reviewed=[i in reviewed_ids for i in ids],
        settled=[i in settled for i in ids],
        reviews=reviews,
        project=shown,
        rules=_rules_in_force(project),
        **settings,
    )


def _save_audit_run(project, result: AuditResult, train, *, config: dict, report: bool) -> None:
    """Write the "audit" run: ``report.html`` (when asked) and ``audit.json``; set the result's run ids."""
    audit_run = project.new_run("audit", config)
    result.run_id, result.train_run = audit_run.id, train.id
    if report:
        result.report = _write_report(result, project, audit_run, train)
    write_audit(audit_run.dir, result.to_json())
    project.finish_run(
        audit_run, {**result.counts, "accuracy": result.accuracy, "most_disagreeing": result.most_disagreeing}
    )


def _current_labels(project, ids: list[str], classes: list[str], labels: np.ndarray) -> int:
    """Put labels fixed since training in place of the trained ones (in ``labels``); how many changed."""
    current = project.labels()
    index = {c: j for j, c in enumerate(classes)}
    changed = 0
    for row, image_id in enumerate(ids):
        label = current.get(image_id)
        if label in index and index[label] != labels[row]:
            labels[row] = index[label]
            changed += 1
    return changed


def _votes_and_reviews(project) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Each annotator's latest label per image, and the images a reviewer settled (reviews are not votes)."""
    from datacentric.project import REVIEW_SOURCES

    votes: dict[str, dict[str, str]] = {}
    reviewed_ids = set()
    for ann in project.annotations():
        if ann.source in REVIEW_SOURCES:
            reviewed_ids.add(ann.image_id)
        else:
            votes.setdefault(ann.image_id, {})[ann.annotator] = ann.label
    return votes, reviewed_ids


def _write_report(result: AuditResult, project, audit_run, train) -> str:
    """``report.html`` in the audit run's folder; its path."""
    from datacentric.audit.report import render_report

    path = Path(audit_run.dir) / "report.html"
    html = render_report(
        result,
        title=f"Audit of {project.root.name}",
        subtitle=f"{project.root} · run {audit_run.id} · from train run {train.id}",
    )
    return str(write_atomic(path, html))


def _rules_in_force(project) -> dict[frozenset, str]:
    """The label book's latest rule per class pair."""
    from datacentric.labelbook import rules_in_force

    return {pair: rule.text for pair, rule in rules_in_force(project).items()}


def _settled_flags(project) -> tuple[dict[str, bool], list[tuple[float, bool]]]:
    """The earlier audits' flags a reviewer has settled since: {image id: was it a real error},
    and (chance its audit gave the flag, was it) for those whose audit recorded a chance.
    """
    from datacentric.audit.reviews import settled_flags
    from datacentric.project import REVIEW_SOURCES

    reviews = [(a.image_id, a.label, a.created_at) for a in project.annotations() if a.source in REVIEW_SOURCES]
    last_review = max((when for _, _, when in reviews), default="")
    earlier, chances = [], {}
    for run in project.runs("audit"):  # only audits a later review can have settled are read
        if run.status != "done" or run.created_at >= last_review:
            continue
        try:
            stored = read_audit(run)
        except DatacentricError:  # an unreadable audit.json settles nothing
            continue
        flagged = [i for i in stored.get("label_issues", []) if i.get("is_issue") and i.get("id")]
        earlier += [(i["id"], i.get("given", ""), run.created_at) for i in flagged]
        chances.update(zip((i["id"] for i in flagged), _uncorrected(stored, flagged)))  # runs: oldest first
    verdicts = settled_flags(earlier, reviews)  # each image's latest flag, whose chance ``chances`` holds
    outcomes = [(chances[i], real) for i, real in verdicts.items() if chances[i] == chances[i]]
    return verdicts, outcomes


def _uncorrected(stored: dict, flagged: list[dict]) -> list[float]:
    """The chances a stored audit gave its flags before its own reviews corrected them (its
    ``review_shift`` undone), so a shift is fitted once to every review, not again to its own
    output; NaN where a value is missing or not a probability (older audits, hand-edited files).
    """
    from datacentric.audit.trust import shifted

    trust = stored.get("trust") if isinstance(stored.get("trust"), dict) else {}
    shift = _stored_number(trust.get("review_shift"), low=-math.inf, high=math.inf)
    chances = np.array([_stored_number(i.get("expected_precision")) for i in flagged], dtype=np.float64)
    if shift == shift and shift and len(chances):
        known = chances == chances
        chances[known] = shifted(chances[known], -shift)
    return chances.tolist()


def _stored_number(value, *, low: float = 0.0, high: float = 1.0) -> float:
    """A number read from a stored file, if in [low, high] (a probability by default), else NaN:
    a bool, a string, inf or a value out of range is no such number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        return float("nan")
    return float(value) if math.isfinite(value) else float("nan")


def _note_reviews(result: AuditResult, verdicts: dict[str, bool]) -> None:
    """Say how many of the earlier flags a reviewer settled were real errors, and whether today's
    forecast rests on them (or on the model alone).
    """
    flagged = result.flagged
    reviewed, real = len(verdicts), sum(verdicts.values())
    result.counts["flags_reviewed"], result.counts["flags_reviewed_real"] = reviewed, real
    at = next((k + 1 for k, line in enumerate(result.summary) if "mislabelled" in line), len(result.summary))
    if not reviewed and not flagged:
        return
    from datacentric.audit.trust import has_forecast

    forecast = has_forecast(result.trust)
    used = result.trust.reviews if forecast else 0
    if not reviewed:
        if not forecast:
            return
        line = (
            "That forecast is the model's alone, not yet checked against any review: review "
            "some flags (relabel or Label Studio) and the next audit corrects it by them."
        )
    else:
        line = f"{real} of the {reviewed} earlier flags a reviewer settled were real errors"
        if used:
            line += (
                f"; today's forecast is corrected by {'them' if used == reviewed else f'{used} of them'}, "
                "each against the chance it was given (the worst flags were the likeliest errors, "
                "and the ones left are less often real)"
            )
        line += "."
    result.summary.insert(at, line)


def _note_grouping(result: AuditResult, metrics: dict) -> None:
    """Say how much accuracy grouped folds cost against plain ones (the leak they closed)."""
    plain = metrics.get("ungrouped_cv_accuracy")
    column = metrics.get("group_by")
    twins = int(metrics.get("twin_pairs") or 0)
    result.counts["twin_pairs_kept_together"] = twins
    if plain is None or not (column or twins):
        return
    grouped = float(metrics.get("cv_accuracy", float("nan")))
    kept = " and ".join(
        ([f"each {column}"] if column else [])
        + ([f"{twins} near-duplicate pair{'s' if twins != 1 else ''}"] if twins else [])
    )
    what = f"one {column}" if column else "near-duplicates"
    if column:
        result.counts["group_by"] = column
    result.counts["ungrouped_cv_accuracy"] = float(plain)
    if not (math.isfinite(plain) and math.isfinite(grouped)):
        return
    gap = round(plain, 2) - round(grouped, 2)  # as printed, so the words match the numbers
    leak = f"{gap:+.2f} from photos of {what} validating each other" if gap > 0.001 else "no leak measured"
    result.summary.insert(
        1,
        f"Cross-validation kept {kept} on one side: accuracy {grouped:.2f}, "
        f"where plain folds report {plain:.2f} ({leak}).",
    )


def _offer_grouping(result: AuditResult, recs: list, labels: np.ndarray, train, shown: str) -> None:
    """When train kept no metadata groups but a column looks like a part id, offer ``--group-by``:
    photos of one part in different folds validate each other (``bench_real.py`` (g), real cells
    shot three times: 0.96 without ``--group-by``, 0.75 with it).
    """
    import shlex

    from datacentric.model.grouping import repeated_columns

    if train.config.get("group_by") or train.metrics.get("group_by"):
        return
    folds = int(train.metrics.get("folds") or train.config.get("folds") or 2)
    found = repeated_columns([r.metadata for r in recs], labels.tolist(), min_values=folds)
    if not found:
        return
    first = found[0]
    result.counts["group_by_offered"] = first.column
    step = (
        f"{first.shared} of {len(recs)} images share their {first.column!r} with another image: if those "
        f"are photos of one part (or lot, or session), cross-validation may score each against its "
        f"twins and look better than it is. Keep them together: datacentric train {shown} "
        f"--group-by {shlex.quote(first.column)}"
    )
    result.next_steps.insert(max(0, len(result.next_steps) - 1), step)


def _train_folds(project, train, labels: np.ndarray) -> np.ndarray | None:
    """Rebuild the train run's fold assignment (R, N) when oof.npz does not store it."""
    try:
        from datacentric.model import plan_folds

        folds = int(train.metrics.get("folds") or train.config.get("folds") or project.config.folds)
        seed = train.config.get("seed", train.metrics.get("seed", project.config.seed))
        repeats = int(train.metrics.get("repeats") or train.config.get("repeats") or 1)
        return plan_folds(labels, folds=folds, seed=int(seed), repeats=repeats).assignments
    except Exception:  # noqa: BLE001  (without folds the leak check says "unknown")
        return None


def load_audit(project: Project, run: str | None = None) -> dict:
    """The stored ``audit.json`` of an audit run (default: the latest) as a dict."""
    found = project.run(run) if run else project.latest_audit()
    if found is None:
        raise DatacentricError("no audit run yet; run: datacentric audit PROJECT", project.root)
    return read_audit(found)


def _display(root: Path) -> str:
    try:
        rel = Path(root).resolve().relative_to(Path.cwd().resolve())
        return f"{rel}/" if str(rel) != "." else "./"
    except ValueError:
        return f"{root}/"
