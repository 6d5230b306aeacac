"""Push images, pre-labels and audit flags to Label Studio; pull the annotations back.

Images reach Label Studio by direct upload (multipart ``POST /api/projects/<id>/import``
with ``commit_to_project=false``), not through a local-storage connection: an upload
works with any server (local, remote, in CI) whatever its document root or file
permissions, and needs no server setting. Each file is uploaded under the name
``<image hash>.<ext>``, so a re-run finds what is already there instead of uploading
it again. Tasks are then imported as JSON carrying our image hash (``image_hash``),
metadata, current labels and flags, with the model's out-of-sample pre-label.

The sync is keyed by the image content hash on both sides: the ``image_hash`` in
each task's data (the truth, read back on every push) and the store's
``sync_links`` table (system ``labelstudio:<url>#<project id>``, external id = task
id, data = which Label Studio annotations were already pulled). So pushing twice
creates no duplicate tasks or predictions, pulling twice adds nothing, and a sync
cut off half-way completes on the next run. Nothing is ever deleted on either side.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


from datacentric.errors import DatacentricError
from datacentric.runs import OOF_FILE, model_file, read_oof
from datacentric.labelstudio.client import (
    FROM_NAME,
    TO_NAME,
    Connection,
    config_classes,
    connect,
    instructions,
    label_config,
    normalize_url,
    rules_section,
)
from datacentric.progress import track
from datacentric.project import ImageRecord, Project, Run

__all__ = ["PullResult", "PushResult", "pull", "push", "system_name"]

SOURCE = "labelstudio"
UPLOAD_BATCH = 20
TASK_BATCH = 50
_OWN_KEYS = ("image", "image_hash", "file", "given", "labels", "flag", "given_label", "suggested", "quality", "review_rank")


@dataclass
class PushResult:
    """What a push did."""

    url: str
    project_id: int
    title: str
    tasks_created: int  # new tasks made by this push
    tasks_existing: int  # images already in the Label Studio project (not duplicated)
    tasks_updated: int  # existing tasks whose data (labels, flags) changed
    uploaded: int  # image files uploaded
    predictions_added: int  # pre-labels added (model version = train run id)
    flagged: int  # images flagged by the audit among those pushed (sent first)
    model_version: str | None = None  # train run used for pre-labels
    audit_run: str | None = None  # audit run used for flags
    project_created: bool = False
    rules: int = 0  # label book rules in the project's instructions


@dataclass
class PullResult:
    """What a pull did."""

    url: str
    project_id: int
    title: str
    annotations_seen: int  # annotations in the Label Studio project
    annotations_new: int  # new or edited there since the last pull
    added: int  # labels added to the store (history rows)
    changed: int  # pulled labels that differ from the image's consensus before the pull
    confirmed: int  # pulled labels equal to the consensus before the pull
    new: int  # pulled labels for images that had no label before
    consensus_changed: int  # images whose consensus (training) label changed
    skipped: int  # skipped or empty annotations, and tasks of images not in this project
    annotators: list[str] = field(default_factory=list)
    # labels the project refuses, left out with --skip-bad (task, annotation, who, why)
    refused: list[str] = field(default_factory=list)
    # labels that became new classes (only in a project without a fixed class list)
    new_classes: list[str] = field(default_factory=list)


def system_name(url: str, project_id: int) -> str:
    """The ``sync_links.system`` value for one Label Studio project."""
    return f"labelstudio:{normalize_url(url)}#{project_id}"


# -- push -------------------------------------------------------------------------------
def push(
    project: Project,
    url: str,
    token: str,
    *,
    title: str | None = None,
    only_flagged: bool = False,
    recreate: bool = False,
    timeout: float = 20.0,
) -> PushResult:
    """Create (or find) the Label Studio project and send one task per real image.

    Parameters
    ----------
    project : the datacentric project.
    url, token : the Label Studio server and an API token (never logged).
    title : Label Studio project title; default ``"<project folder> review"``.
    only_flagged : send only the images the latest audit flagged.
    recreate : when the linked Label Studio project was deleted on the server,
        forget the links and push into a new one (otherwise that is an error).
    """
    conn, _me = connect(url, token, timeout=timeout)
    try:
        return _push(conn, project, title, only_flagged, recreate)
    finally:
        conn.close()


def _push(conn: Connection, proj: Project, title: str | None, only_flagged: bool, recreate: bool) -> PushResult:
    conn.action = "push"
    classes = proj.classes()
    config = label_config(classes)
    records, flags, audit_run = _review_order(proj, only_flagged)
    pid, title, created = _find_or_create(conn, proj, title, config, recreate)
    system = system_name(conn.url, pid)
    with conn.errors():
        info = conn.sdk.projects.get(id=pid)
        known = config_classes(info.label_config or "")
        if any(c not in known for c in classes):
            merged = known + [c for c in classes if c not in known]
            conn.sdk.projects.update(id=pid, label_config=label_config(merged))
        rules = _show_rules(conn, proj, pid, info.expert_instruction)
    existing = _existing_tasks(conn, pid)  # image hash -> {id, data, versions}
    run, probs = _pre_labels(proj, records)
    labels = proj.current_labels()
    consensus = proj.labels()

    # links for tasks that exist on the server but not in our store (a cut-off push)
    _save_links(proj, system, {h: t["id"] for h, t in existing.items()}, title)

    missing = [r for r in records if r.id not in existing]
    uploaded = _upload(conn, pid, missing)
    urls = _upload_urls(conn, pid)
    created_n = predictions = 0
    for start in range(0, len(missing), TASK_BATCH):
        batch = missing[start:start + TASK_BATCH]
        tasks = []
        for rank, rec in enumerate(batch, start=start):
            name = _upload_name(rec)
            if name not in urls:
                raise DatacentricError(f"upload of {rec.path.name} is missing on the server; run push again", conn.url)
            task: dict[str, Any] = {
                "data": {TO_NAME: urls[name], **_task_data(rec, labels, consensus, flags)},
                "meta": {"datacentric": {"image_id": rec.id, "flag": flags.get(rec.id, {})}},
            }
            if run is not None and rec.id in probs:
                task["predictions"] = [_prediction(probs[rec.id], run.id)]
                predictions += 1
            tasks.append(task)
        task_ids = _import_batch(conn, pid, tasks)
        if len(task_ids) != len(batch):
            raise DatacentricError("Label Studio created an unexpected number of tasks; run push again", conn.url)
        _save_links(proj, system, {rec.id: tid for rec, tid in zip(batch, task_ids)}, title)
        created_n += len(batch)

    updated = 0
    pushed = {r.id for r in records}
    for image_id, task in track(list(existing.items()), "updating tasks"):
        if image_id not in pushed:
            continue
        rec = proj.image(image_id)
        data = {**task["data"], **_task_data(rec, labels, consensus, flags)}
        with conn.errors():
            if data != task["data"]:
                conn.sdk.tasks.update(
                    id=str(task["id"]), data=data,
                    meta={"datacentric": {"image_id": rec.id, "flag": flags.get(rec.id, {})}},
                )
                updated += 1
            if run is not None and rec.id in probs and run.id not in task["versions"]:
                p = _prediction(probs[rec.id], run.id)
                conn.sdk.predictions.create(task=task["id"], result=p["result"], score=p["score"], model_version=run.id)
                predictions += 1
    return PushResult(
        url=conn.url, project_id=pid, title=title, tasks_created=created_n,
        tasks_existing=sum(1 for r in records if r.id in existing), tasks_updated=updated,
        uploaded=uploaded, predictions_added=predictions,
        flagged=sum(1 for r in records if r.id in flags),
        model_version=run.id if run is not None else None, audit_run=audit_run, project_created=created,
        rules=rules,
    )


def _show_rules(conn: Connection, proj: Project, pid: int, existing: str | None) -> int:
    """Put the label book's rules in force into the project's instructions; how many there are."""
    from datacentric.labelbook.book import rules_in_force

    rules = [(r.a, r.b, r.text) for r in rules_in_force(proj).values()]
    wanted = instructions(existing, rules_section(rules))
    if wanted != (existing or ""):
        conn.sdk.projects.update(id=pid, expert_instruction=wanted, **({"show_instruction": True} if rules else {}))
    return len(rules)


def _import_batch(conn: Connection, pid: int, tasks: list[dict]) -> list[int]:
    with conn.errors():
        response = conn.sdk.projects.import_tasks(id=pid, request=tasks, return_task_ids=True)
        return [int(t) for t in response.task_ids or []]


def _find_or_create(conn: Connection, proj: Project, title: str | None, config: str, recreate: bool) -> tuple[int, str, bool]:
    wanted = title or f"{proj.root.name} review"
    linked = _linked_projects(proj, conn.url)  # pid -> title, most recent link last
    candidates = [pid for pid, t in linked.items() if title is None or t == wanted]
    missing = []
    with conn.errors():
        for pid in reversed(candidates):
            found = _get_project(conn, pid)
            if found is not None:
                return pid, found.title or wanted, False
            missing.append(pid)
        if missing and not recreate:
            raise DatacentricError(
                f"Label Studio project {missing[0]} ('{linked[missing[0]]}') was deleted on the server; "
                "labels pulled before are kept; push with --recreate to start a new Label Studio project",
                conn.url,
            )
        for pid in missing:
            with proj.transaction() as db:
                db.execute("DELETE FROM sync_links WHERE system = ?", (system_name(conn.url, pid),))
        for p in conn.sdk.projects.list(title=wanted):
            if p.title == wanted:
                return p.id, wanted, False
        created = conn.sdk.projects.create(title=wanted, label_config=config, maximum_annotations=1,
                                           description="Made by datacentric labelstudio push")
    return created.id, wanted, True


def _get_project(conn: Connection, pid: int):
    from label_studio_sdk.core.api_error import ApiError

    try:
        return conn.sdk.projects.get(id=pid)
    except ApiError as exc:
        if exc.status_code == 404:
            return None
        raise


def _linked_projects(proj: Project, url: str) -> dict[int, str]:
    prefix = f"labelstudio:{normalize_url(url)}#"
    rows = proj.query(
        "SELECT system, MAX(rowid) AS last, MAX(data) AS data FROM sync_links WHERE system LIKE ? "
        "GROUP BY system ORDER BY last", (prefix.replace("%", "") + "%",),
    )
    result = {}
    for row in rows:
        if not row["system"].startswith(prefix):
            continue
        result[int(row["system"][len(prefix):])] = json.loads(row["data"] or "{}").get("title", "")
    return result


def _save_links(proj: Project, system: str, links: dict[str, int], title: str) -> None:
    known_ids = {r.id for r in proj.images(None)}
    with proj.transaction() as db:
        for image_id, task_id in links.items():
            if image_id not in known_ids:
                continue
            row = db.execute("SELECT external_id, data FROM sync_links WHERE system = ? AND image_id = ?",
                             (system, image_id)).fetchone()
            if row is None:
                db.execute("INSERT INTO sync_links(system, image_id, external_id, data) VALUES (?, ?, ?, ?)",
                           (system, image_id, str(task_id), json.dumps({"title": title, "pulled": {}})))
            elif row["external_id"] != str(task_id):
                data = json.loads(row["data"] or "{}")
                data["title"] = title
                db.execute("UPDATE sync_links SET external_id = ?, data = ? WHERE system = ? AND image_id = ?",
                           (str(task_id), json.dumps(data), system, image_id))


def _existing_tasks(conn: Connection, pid: int) -> dict[str, dict]:
    result: dict[str, dict] = {}
    with conn.errors():
        for task in conn.sdk.tasks.list(project=pid, fields="all", page_size=100):
            data = dict(task.data or {})
            image_hash = data.get("image_hash")
            if not image_hash or image_hash in result:
                continue
            versions = {getattr(p, "model_version", None) for p in (task.predictions or [])}
            result[image_hash] = {"id": task.id, "data": data, "versions": versions}
    return result


def _upload_name(rec: ImageRecord) -> str:
    return f"{rec.id[:24]}{rec.path.suffix.lower() or '.png'}"


def _upload_urls(conn: Connection, pid: int) -> dict[str, str]:
    """Uploaded file name (without Label Studio's random prefix) -> URL to put in a task."""
    result = {}
    with conn.errors():
        for item in conn.uploads(pid):
            stored = str(item.get("file", ""))
            base = stored.rsplit("/", 1)[-1]
            name = base.split("-", 1)[1] if "-" in base else base
            result.setdefault(name, "/data/" + stored.lstrip("/"))
    return result


def _upload(conn: Connection, pid: int, records: list[ImageRecord]) -> int:
    if not records:
        return 0
    have = _upload_urls(conn, pid)
    todo = [r for r in records if _upload_name(r) not in have]
    batches = [todo[i:i + UPLOAD_BATCH] for i in range(0, len(todo), UPLOAD_BATCH)]
    for batch in track(batches, "uploading images", total=len(batches)):
        for rec in batch:
            if not rec.path.is_file():
                raise DatacentricError("image file is missing; cannot upload it", rec.path)
        with conn.errors():
            conn.upload(pid, [(_upload_name(r), r.path) for r in batch])
    return len(todo)


def _task_data(rec: ImageRecord, labels: dict, consensus: dict, flags: dict) -> dict[str, Any]:
    flag = flags.get(rec.id, {})
    data: dict[str, Any] = {k: v for k, v in rec.metadata.items() if k not in _OWN_KEYS and k != TO_NAME}
    data.update({
        "image_hash": rec.id,
        "file": rec.path.name,
        "given": consensus.get(rec.id, ""),
        "labels": "; ".join(f"{a}: {lab}" for a, lab in sorted(labels.get(rec.id, {}).items())),
        "flag": "label issue" if flag else "",
        "suggested": flag.get("suggested", "") if flag else "",
        "quality": round(float(flag["quality"]), 4) if flag and flag.get("quality") is not None else None,
        "review_rank": flag.get("rank") if flag else None,
    })
    return data


def _prediction(probs: dict[str, float], version: str) -> dict[str, Any]:
    label = max(probs, key=probs.get)
    score = float(probs[label])
    return {
        "model_version": version,
        "score": score,
        "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                    "value": {"choices": [label]}, "score": score}],
    }


def _review_order(proj: Project, only_flagged: bool) -> tuple[list[ImageRecord], dict[str, dict], str | None]:
    """Real images, flagged ones first (worst label quality first); and the flags."""
    records = proj.images("real")
    flags, audit_run = _audit_flags(proj, records)
    if only_flagged:
        if audit_run is None:
            raise DatacentricError("no audit run yet; run `datacentric audit` first, or push without --only-flagged",
                                   proj.root)
        records = [r for r in records if r.id in flags]
    order = {image_id: flag["rank"] for image_id, flag in flags.items()}
    records.sort(key=lambda r: (0, order[r.id]) if r.id in order else (1, 0))
    return records, flags, audit_run


def _audit_flags(proj: Project, records: list[ImageRecord]) -> tuple[dict[str, dict], str | None]:
    run = _latest_done(proj, "audit", "audit.json")
    if run is None:
        return {}, None
    try:
        report = json.loads((run.dir / "audit.json").read_text())
    except (OSError, ValueError) as exc:
        raise DatacentricError(f"cannot read the audit report ({exc})", run.dir / "audit.json") from None
    by_id = {r.id: r.id for r in records}
    by_id.update({str(r.path): r.id for r in records})
    by_id.update({r.path.name: r.id for r in records})
    issues = [i for i in report.get("label_issues", []) if i.get("is_issue")]
    issues.sort(key=lambda i: float(i.get("quality", 1.0) if i.get("quality") is not None else 1.0))
    flags: dict[str, dict] = {}
    for issue in issues:
        ref = str(issue.get("id") or issue.get("image", ""))  # audit writes id (hash) and image (path)
        image_id = by_id.get(ref) or by_id.get(str(issue.get("image", ""))) or next((r.id for r in records if len(ref) >= 6 and r.id.startswith(ref)), None)
        if image_id is None or image_id in flags:
            continue
        flags[image_id] = {"given": issue.get("given"), "suggested": issue.get("suggested"),
                           "quality": issue.get("quality"), "rank": len(flags) + 1}
    return flags, run.id


def _latest_done(proj: Project, kind: str, needs: str) -> Run | None:
    for run in sorted(proj.runs(kind), key=lambda r: r.created_at, reverse=True):
        if run.status == "done" and (run.dir / needs).is_file():
            return run
    return None


def _pre_labels(proj: Project, records: list[ImageRecord]) -> tuple[Run | None, dict[str, dict[str, float]]]:
    """Probabilities per image from the champion train run: out-of-sample (oof.npz) where the
    image was in training, else the run's final model (when it can be loaded)."""
    run = proj.champion()
    if run is None:
        return None, {}
    oof = read_oof(run) if (run.dir / OOF_FILE).is_file() else None
    result = {} if oof is None else {i: {c: float(p) for c, p in zip(oof.classes, row)}
                                     for i, row in zip(oof.ids, oof.probs)}
    rest = [r for r in records if r.id not in result]
    if rest and model_file(run) is not None:
        try:
            from datacentric.model import load_classifier  # the model package may not exist yet
        except ImportError:
            load_classifier = None
        if load_classifier is not None:
            clf = load_classifier(run, cache_dir=proj.cache_dir)
            for rec, row in zip(rest, clf.predict_proba([r.path for r in rest])):
                result[rec.id] = {c: float(p) for c, p in zip(clf.classes, row)}
    return run, result


# -- pull -------------------------------------------------------------------------------
def pull(
    project: Project,
    token: str,
    *,
    url: str | None = None,
    title: str | None = None,
    timeout: float = 20.0,
    skip_bad: bool = False,
    new_classes: bool = False,
) -> PullResult:
    """Add every Label Studio annotation to the store (annotator = the Label Studio user).

    Reads everything first, then writes in one transaction: a failed pull changes nothing.
    Annotations already pulled (same annotation id, same last edit) are not added again.
    A label the project refuses (not on its class list, no valid class name) refuses the
    pull naming the task, annotation and reviewer; ``skip_bad`` pulls the rest and lists it.
    Once the project has classes, a label outside them is refused unless ``new_classes``
    is set; :attr:`PullResult.new_classes` names the classes a pull created.
    """
    url, pid = _pull_target(project, url, title)
    conn, _me = connect(url, token, timeout=timeout)
    try:
        return _pull(conn, project, pid, skip_bad, new_classes)
    finally:
        conn.close()


def _pull_target(proj: Project, url: str | None, title: str | None) -> tuple[str, int]:
    rows = proj.query("SELECT system, MAX(rowid) AS last, MAX(data) AS data FROM sync_links "
                      "WHERE system LIKE 'labelstudio:%' GROUP BY system ORDER BY last")
    targets = []
    for row in rows:
        rest = row["system"][len("labelstudio:"):]
        base, _, pid = rest.rpartition("#")
        t = json.loads(row["data"] or "{}").get("title", "")
        if url is not None and base != normalize_url(url):
            continue
        if title is not None and t != title:
            continue
        targets.append((base, int(pid)))
    if not targets:
        where = f" at {normalize_url(url)}" if url else ""
        raise DatacentricError(f"nothing pushed to Label Studio{where} yet; run `datacentric labelstudio push` first",
                               proj.root)
    if len({base for base, _ in targets}) > 1:
        raise DatacentricError("pushed to several Label Studio servers; choose one with --url", proj.root)
    return targets[-1]  # the most recently linked project


def _pull(conn: Connection, proj: Project, pid: int, skip_bad: bool = False,
          new_classes: bool = False) -> PullResult:
    conn.action = "pull"
    system = system_name(conn.url, pid)
    with conn.errors():
        info = _get_project(conn, pid)
        if info is None:
            raise DatacentricError(
                f"Label Studio project {pid} was deleted on the server; nothing pulled "
                "(labels pulled before are kept)", conn.url,
            )
        exported = conn.sdk.projects.exports.as_json(pid)
        users = {u.id: (u.email or u.username or f"labelstudio-user-{u.id}") for u in conn.sdk.users.list()}
    links = {row["external_id"]: (row["image_id"], json.loads(row["data"] or "{}"))
             for row in proj.query("SELECT image_id, external_id, data FROM sync_links WHERE system = ?", (system,))}
    images = {r.id for r in proj.images(None)}
    todo = []  # (updated_at, ann id, task id, image id, annotator, label)
    seen = skipped = 0
    gate = _LabelGate(proj, skip_bad, conn.url, new_classes)
    with conn.errors():  # a task of the wrong shape is the server's answer, not our bug
        for task in exported:
            tid = str(task.get("id"))
            image_id = links[tid][0] if tid in links else (task.get("data") or {}).get("image_hash")
            pulled = links[tid][1].get("pulled", {}) if tid in links else {}
            for ann in task.get("annotations") or []:
                seen += 1
                label = _choice(ann)
                if ann.get("was_cancelled") or label is None or image_id not in images:
                    skipped += 1
                    continue
                if pulled.get(str(ann["id"])) == str(ann.get("updated_at")):
                    continue
                who = ann.get("completed_by")
                who = who.get("email") or who.get("id") if isinstance(who, dict) else who
                annotator = users.get(who, str(who)) if not isinstance(who, str) else who
                label = gate.admit(label, f"task {tid}, annotation {ann['id']} by {annotator}")
                if label is None:
                    continue
                updated = str(ann.get("updated_at"))
                todo.append((updated, int(ann["id"]), tid, image_id, annotator, label))
    todo.sort()
    before = proj.labels()
    counts = Counter()
    annotators = set()
    with proj.transaction() as db:
        for updated_at, ann_id, tid, image_id, annotator, label in todo:
            old = before.get(image_id)
            counts["new" if old is None else "confirmed" if old == label else "changed"] += 1
            annotators.add(annotator)
            note = f"Label Studio task {tid}, annotation {ann_id}"
            if proj.add_annotation(db, image_id=image_id, annotator=annotator, label=label,
                                  source=SOURCE, note=note, new_class=new_classes):
                counts["added"] += 1
            row = db.execute("SELECT data FROM sync_links WHERE system = ? AND image_id = ?",
                             (system, image_id)).fetchone()
            data = json.loads(row["data"]) if row else {"title": info.title, "pulled": {}}
            data.setdefault("pulled", {})[str(ann_id)] = updated_at
            if row:
                db.execute("UPDATE sync_links SET data = ? WHERE system = ? AND image_id = ?",
                           (json.dumps(data), system, image_id))
            else:
                db.execute("INSERT INTO sync_links(system, image_id, external_id, data) VALUES (?, ?, ?, ?)",
                           (system, image_id, tid, json.dumps(data)))
    if gate.new_classes and proj.config.classes:
        proj.save_config()
    after = proj.labels()
    return PullResult(
        url=conn.url, project_id=pid, title=info.title or "", annotations_seen=seen,
        annotations_new=len(todo), added=counts["added"], changed=counts["changed"],
        confirmed=counts["confirmed"], new=counts["new"],
        consensus_changed=sum(1 for i, lab in after.items() if before.get(i) != lab),
        skipped=skipped, annotators=sorted(annotators), refused=gate.refused,
        new_classes=gate.new_classes,
    )


class _LabelGate:
    """Checks pulled labels as the project checks any label; keeps refusals and new classes."""

    def __init__(self, proj: Project, skip_bad: bool, url: str, new_classes: bool) -> None:
        self.proj, self.skip_bad, self.url = proj, skip_bad, url
        self.allow_new = new_classes
        self.known = proj.classes()
        self.refused: list[str] = []
        self.new_classes: list[str] = []

    def admit(self, label: str, where: str) -> str | None:
        """The cleaned label, or None when refused under --skip-bad (else raises)."""
        try:
            label = self.proj.check_label(label, pending=self.new_classes, where=where,
                                          known=self.known, new_class=self.allow_new)
        except DatacentricError as exc:
            if not self.skip_bad:
                raise DatacentricError(f"pull refused, nothing pulled: {exc} "
                                       "(use --skip-bad to pull the rest)", self.url) from None
            self.refused.append(str(exc))
            return None
        if label not in self.known and label not in self.new_classes:
            self.new_classes.append(label)
        return label


def _choice(annotation: dict) -> str | None:
    for item in annotation.get("result") or []:
        if item.get("type") == "choices" and item.get("from_name", FROM_NAME) == FROM_NAME:
            choices = (item.get("value") or {}).get("choices") or []
            if choices:
                return str(choices[0])
    return None
