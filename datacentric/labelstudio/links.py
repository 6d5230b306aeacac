"""Which Label Studio project our images are linked to, kept in the store's sync links.

A Label Studio project is one system, ``labelstudio:<url>#<project id>``; each image's
link holds its task id and the link's data: the project's title and which Label Studio
annotations were already pulled (annotation id -> last edit).
"""

from __future__ import annotations

from dataclasses import replace

from datacentric.errors import DatacentricError
from datacentric.labelstudio.client import normalize_url
from datacentric.project import Project, SyncLink

__all__ = ["PREFIX", "linked_projects", "pull_target", "save_links", "system_name"]

PREFIX = "labelstudio:"


def system_name(url: str, project_id: int) -> str:
    """The ``sync_links.system`` value for one Label Studio project."""
    return f"{PREFIX}{normalize_url(url)}#{project_id}"


def linked_projects(proj: Project, url: str) -> dict[int, str]:
    """Label Studio project id -> title, for the projects on one server; most recent link last."""
    prefix = f"{PREFIX}{normalize_url(url)}#"
    return {int(system[len(prefix) :]): data.get("title", "") for system, data in proj.sync_systems(prefix).items()}


def pull_target(proj: Project, url: str | None, title: str | None) -> tuple[str, int]:
    """The server and project id to pull from: the most recently linked one that fits ``url`` and ``title``."""
    targets = []
    for system, data in proj.sync_systems(PREFIX).items():
        base, _, pid = system[len(PREFIX) :].rpartition("#")
        t = data.get("title", "")
        if url is not None and base != normalize_url(url):
            continue
        if title is not None and t != title:
            continue
        targets.append((base, int(pid)))
    if not targets:
        where = f" at {normalize_url(url)}" if url else ""
        raise DatacentricError(
            f"nothing pushed to Label Studio{where} yet; run `datacentric labelstudio push` first", proj.root
        )
    if len({base for base, _ in targets}) > 1:
        raise DatacentricError("pushed to several Label Studio servers; choose one with --url", proj.root)
    return targets[-1]  # the most recently linked project


def save_links(proj: Project, system: str, links: dict[str, int], title: str) -> None:
    """Link images (id -> task id) of the project; a link already there keeps what it pulled."""
    known_ids = {r.id for r in proj.images(None)}
    with proj.transaction():
        linked = {link.image_id: link for link in proj.sync_links(system)}
        changed = []
        for image_id, task_id in links.items():
            if image_id not in known_ids:
                continue
            link = linked.get(image_id)
            if link is None:
                changed.append(SyncLink(system, image_id, str(task_id), {"title": title, "pulled": {}}))
            elif link.external_id != str(task_id):
                changed.append(replace(link, external_id=str(task_id), data={**link.data, "title": title}))
        proj.save_sync_links(changed)
