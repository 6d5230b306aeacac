"""The Label Studio project on the server: finding or creating it, its labels and instructions,
its tasks and the uploaded image files.

Each file is uploaded under the name ``<image hash>.<ext>``, so a re-run finds what is
already there instead of uploading it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datacentric.errors import DatacentricError
from datacentric.labelstudio.client import Connection, config_classes, instructions, label_config, rules_section
from datacentric.labelstudio.links import linked_projects, system_name
from datacentric.progress import track
from datacentric.project import ImageRecord, Project

if TYPE_CHECKING:
    from label_studio_sdk import LseProjectResponse

UPLOAD_BATCH = 20


def find_or_create(
    conn: Connection, proj: Project, title: str | None, config: str, recreate: bool
) -> tuple[int, str, bool]:
    """The linked Label Studio project (or one of that title), else a new one: id, title, created."""
    wanted = title or f"{proj.root.name} review"
    linked = linked_projects(proj, conn.url)  # pid -> title, most recent link last
    candidates = [pid for pid, t in linked.items() if title is None or t == wanted]
    missing = []
    with conn.errors():
        for pid in reversed(candidates):
            found = get_project(conn, pid)
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
            proj.forget_sync_system(system_name(conn.url, pid))
        for p in conn.sdk.projects.list(title=wanted):
            if p.title == wanted:
                return p.id, wanted, False
        created = conn.sdk.projects.create(
            title=wanted, label_config=config, maximum_annotations=1, description="Made by datacentric labelstudio push"
        )
    return created.id, wanted, True


def get_project(conn: Connection, pid: int) -> LseProjectResponse | None:
    """The Label Studio project, or None when the server has no such project (any more)."""
    from label_studio_sdk.core.api_error import ApiError

    try:
        return conn.sdk.projects.get(id=pid)
    except ApiError as exc:
        if exc.status_code == 404:
            return None
        raise


def add_classes_and_rules(conn: Connection, proj: Project, pid: int, classes: list[str]) -> int:
    """Add the project's classes missing from the labelling config, and the label book's rules
    to the instructions; how many rules there are.
    """
    with conn.errors():
        info = conn.sdk.projects.get(id=pid)
        known = config_classes(info.label_config or "")
        if any(c not in known for c in classes):
            merged = known + [c for c in classes if c not in known]
            conn.sdk.projects.update(id=pid, label_config=label_config(merged))
        return show_rules(conn, proj, pid, info.expert_instruction)


def show_rules(conn: Connection, proj: Project, pid: int, existing: str | None) -> int:
    """Put the label book's rules in force into the project's instructions; how many there are."""
    from datacentric.labelbook.book import rules_in_force

    rules = [(r.a, r.b, r.text) for r in rules_in_force(proj).values()]
    wanted = instructions(existing, rules_section(rules))
    if wanted != (existing or ""):
        conn.sdk.projects.update(id=pid, expert_instruction=wanted, **({"show_instruction": True} if rules else {}))
    return len(rules)


def existing_tasks(conn: Connection, pid: int) -> dict[str, dict]:
    """The project's tasks by image hash: ``{"id", "data", "versions"}`` (model versions of its pre-labels)."""
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


def import_batch(conn: Connection, pid: int, tasks: list[dict]) -> list[int]:
    """Create tasks; their ids, in order."""
    with conn.errors():
        response = conn.sdk.projects.import_tasks(id=pid, request=tasks, return_task_ids=True)
        return [int(t) for t in response.task_ids or []]


def upload_name(rec: ImageRecord) -> str:
    """The name an image's file is uploaded under."""
    return f"{rec.id[:24]}{rec.path.suffix.lower() or '.png'}"


def upload_urls(conn: Connection, pid: int) -> dict[str, str]:
    """Uploaded file name (without Label Studio's random prefix) -> URL to put in a task."""
    result = {}
    with conn.errors():
        for item in conn.uploads(pid):
            stored = str(item.get("file", ""))
            base = stored.rsplit("/", 1)[-1]
            name = base.split("-", 1)[1] if "-" in base else base
            result.setdefault(name, "/data/" + stored.lstrip("/"))
    return result


def upload(conn: Connection, pid: int, records: list[ImageRecord]) -> int:
    """Upload the images' files the server does not have yet; how many were uploaded."""
    if not records:
        return 0
    have = upload_urls(conn, pid)
    todo = [r for r in records if upload_name(r) not in have]
    batches = [todo[i : i + UPLOAD_BATCH] for i in range(0, len(todo), UPLOAD_BATCH)]
    for batch in track(batches, "uploading images", total=len(batches)):
        for rec in batch:
            if not rec.path.is_file():
                raise DatacentricError("image file is missing; cannot upload it", rec.path)
        with conn.errors():
            conn.upload(pid, [(upload_name(r), r.path) for r in batch])
    return len(todo)
