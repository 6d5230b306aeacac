"""Push: send one task per real image to a Label Studio project, flagged images first.

Images reach Label Studio by direct upload (multipart ``POST /api/projects/<id>/import``
with ``commit_to_project=false``), not through a local-storage connection: an upload
works with any server (local, remote, in CI) whatever its document root or file
permissions, and needs no server setting. Tasks are then imported as JSON (see
:mod:`.tasks`), :data:`TASK_BATCH` at a time, and linked in the store batch by batch, so
pushing twice creates no duplicate tasks or predictions and a push cut off half-way
completes on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datacentric.errors import DatacentricError
from datacentric.labelstudio.client import TO_NAME, Connection, connect, label_config
from datacentric.labelstudio.links import save_links, system_name
from datacentric.labelstudio.studio_project import (
    add_classes_and_rules,
    existing_tasks,
    find_or_create,
    import_batch,
    upload,
    upload_name,
    upload_urls,
)
from datacentric.labelstudio.tasks import TaskContent, pre_labels, review_order
from datacentric.progress import track
from datacentric.project import ImageRecord, Project

__all__ = ["PushResult", "push"]

TASK_BATCH = 50


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
    records, flags, audit_run = review_order(proj, only_flagged)
    pid, title, created = find_or_create(conn, proj, title, config, recreate)
    system = system_name(conn.url, pid)
    rules = add_classes_and_rules(conn, proj, pid, classes)
    existing = existing_tasks(conn, pid)  # image hash -> {id, data, versions}
    run, probs = pre_labels(proj, records)
    content = TaskContent(labels=proj.current_labels(), consensus=proj.labels(), flags=flags, run=run, probs=probs)

    # links for tasks that exist on the server but not in our store (a cut-off push)
    save_links(proj, system, {h: t["id"] for h, t in existing.items()}, title)

    missing = [r for r in records if r.id not in existing]
    uploaded = upload(conn, pid, missing)
    created_n, predictions = _create_tasks(conn, proj, pid, title, missing, content)
    updated, more = _update_tasks(conn, proj, existing, {r.id for r in records}, content)
    return PushResult(
        url=conn.url,
        project_id=pid,
        title=title,
        tasks_created=created_n,
        tasks_existing=sum(1 for r in records if r.id in existing),
        tasks_updated=updated,
        uploaded=uploaded,
        predictions_added=predictions + more,
        flagged=sum(1 for r in records if r.id in flags),
        model_version=run.id if run is not None else None,
        audit_run=audit_run,
        project_created=created,
        rules=rules,
    )


def _create_tasks(
    conn: Connection, proj: Project, pid: int, title: str, missing: list[ImageRecord], content: TaskContent
) -> tuple[int, int]:
    """Create a task for each image not on the server yet, linking each batch as it lands.

    Returns the tasks created and the pre-labels sent with them.
    """
    system = system_name(conn.url, pid)
    urls = upload_urls(conn, pid)
    created = predictions = 0
    for start in range(0, len(missing), TASK_BATCH):
        batch = missing[start : start + TASK_BATCH]
        tasks = [_new_task(conn, rec, urls, content) for rec in batch]
        predictions += sum(1 for task in tasks if "predictions" in task)
        task_ids = import_batch(conn, pid, tasks)
        if len(task_ids) != len(batch):
            raise DatacentricError("Label Studio created an unexpected number of tasks; run push again", conn.url)
        save_links(proj, system, {rec.id: tid for rec, tid in zip(batch, task_ids)}, title)
        created += len(batch)
    return created, predictions


def _new_task(conn: Connection, rec: ImageRecord, urls: dict[str, str], content: TaskContent) -> dict[str, Any]:
    """One new task: the uploaded image, its data and meta, and its pre-label when there is one."""
    name = upload_name(rec)
    if name not in urls:
        raise DatacentricError(f"upload of {rec.path.name} is missing on the server; run push again", conn.url)
    task: dict[str, Any] = {"data": {TO_NAME: urls[name], **content.data(rec)}, "meta": content.meta(rec)}
    found = content.prediction(rec)
    if found is not None:
        task["predictions"] = [found]
    return task


def _update_tasks(
    conn: Connection, proj: Project, existing: dict[str, dict], pushed: set[str], content: TaskContent
) -> tuple[int, int]:
    """Bring the pushed images' existing tasks up to date: new data, and a pre-label of a new model.

    Returns the tasks updated and the pre-labels added.
    """
    updated = predictions = 0
    for image_id, task in track(list(existing.items()), "updating tasks"):
        if image_id not in pushed:
            continue
        rec = proj.image(image_id)
        data = {**task["data"], **content.data(rec)}
        with conn.errors():
            if data != task["data"]:
                conn.sdk.tasks.update(id=str(task["id"]), data=data, meta=content.meta(rec))
                updated += 1
            found = content.prediction(rec)
            if found is not None and found["model_version"] not in task["versions"]:
                conn.sdk.predictions.create(
                    task=task["id"], result=found["result"], score=found["score"], model_version=found["model_version"]
                )
                predictions += 1
    return updated, predictions
