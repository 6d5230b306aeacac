"""Pull: add every Label Studio annotation of a linked project to the store's label history.

Everything is read first, then written in one transaction, so a failed pull changes
nothing. Each image's link records which annotations were pulled (annotation id -> last
edit), so pulling twice adds nothing and an edited annotation comes back as a new label.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from datacentric.errors import DatacentricError
from datacentric.labelstudio.client import FROM_NAME, Connection, connect
from datacentric.labelstudio.links import pull_target, system_name
from datacentric.labelstudio.studio_project import get_project
from datacentric.names import escaped
from datacentric.project import Project, SyncLink

__all__ = ["PullResult", "pull"]

SOURCE = "labelstudio"


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


class _Pulled(NamedTuple):
    """One annotation to add; sorts by its last edit, then its id."""

    updated_at: str
    annotation: int  # Label Studio annotation id
    task: str  # Label Studio task id
    image_id: str
    annotator: str
    label: str


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
    url, pid = pull_target(project, url, title)
    conn, _me = connect(url, token, timeout=timeout)
    try:
        return _pull(conn, project, pid, skip_bad, new_classes)
    finally:
        conn.close()


def _pull(conn: Connection, proj: Project, pid: int, skip_bad: bool = False, new_classes: bool = False) -> PullResult:
    conn.action = "pull"
    system = system_name(conn.url, pid)
    info, exported, users = _read_project(conn, pid)
    links = {link.external_id: (link.image_id, link.data) for link in proj.sync_links(system)}
    images = {r.id for r in proj.images(None)}
    gate = _LabelGate(proj, skip_bad, conn.url, new_classes)
    todo, seen, skipped = _not_pulled(conn, exported, links, images, users, gate)
    before = proj.labels()
    with proj.class_list_change([*proj.config.classes, *gate.new_classes]):
        counts, annotators = _add(proj, system, info.title, todo, before, new_classes)
    after = proj.labels()
    return PullResult(
        url=conn.url,
        project_id=pid,
        title=info.title or "",
        annotations_seen=seen,
        annotations_new=len(todo),
        added=counts["added"],
        changed=counts["changed"],
        confirmed=counts["confirmed"],
        new=counts["new"],
        consensus_changed=sum(1 for i, lab in after.items() if before.get(i) != lab),
        skipped=skipped,
        annotators=sorted(annotators),
        refused=gate.refused,
        new_classes=gate.new_classes,
    )


def _read_project(conn: Connection, pid: int) -> tuple[Any, list[dict], dict[int, str]]:
    """The Label Studio project, its export (tasks with annotations) and its users' names by id."""
    with conn.errors():
        info = get_project(conn, pid)
        if info is None:
            raise DatacentricError(
                f"Label Studio project {pid} was deleted on the server; nothing pulled (labels pulled before are kept)",
                conn.url,
            )
        exported = conn.sdk.projects.exports.as_json(pid)
        users = {u.id: (u.email or u.username or f"labelstudio-user-{u.id}") for u in conn.sdk.users.list()}
    return info, exported, users


def _not_pulled(
    conn: Connection,
    exported: list[dict],
    links: dict[str, tuple[str, dict]],
    images: set[str],
    users: dict[int, str],
    gate: _LabelGate,
) -> tuple[list[_Pulled], int, int]:
    """The annotations not pulled yet (new, or edited since), oldest edit first; and how many
    annotations there are and how many were skipped.
    """
    todo = []
    seen = skipped = 0
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
                annotator = _annotator(ann, users)
                label = gate.admit(label, f"task {tid}, annotation {ann['id']} by {annotator}")
                if label is None:
                    continue
                todo.append(_Pulled(str(ann.get("updated_at")), int(ann["id"]), tid, image_id, annotator, label))
    todo.sort()
    return todo, seen, skipped


def _add(
    proj: Project, system: str, title: str | None, todo: list[_Pulled], before: dict[str, str], new_classes: bool
) -> tuple[Counter, set[str]]:
    """Append the pulled labels and mark them pulled in the links, in one transaction.

    Returns the counts (added, and new/confirmed/changed against ``before``) and the annotators.
    """
    counts: Counter = Counter()
    annotators = set()
    with proj.transaction():
        linked = {link.image_id: link for link in proj.sync_links(system)}
        for item in todo:
            old = before.get(item.image_id)
            counts["new" if old is None else "confirmed" if old == item.label else "changed"] += 1
            annotators.add(item.annotator)
            note = f"Label Studio task {item.task}, annotation {item.annotation}"
            if proj.add_annotation(
                image_id=item.image_id,
                annotator=item.annotator,
                label=item.label,
                source=SOURCE,
                note=note,
                new_class=new_classes,
            ):
                counts["added"] += 1
            link = linked.get(item.image_id) or SyncLink(
                system, item.image_id, item.task, {"title": title, "pulled": {}}
            )
            pulled = {**link.data.get("pulled", {}), str(item.annotation): item.updated_at}
            linked[item.image_id] = replace(link, data={**link.data, "pulled": pulled})
            proj.save_sync_links([linked[item.image_id]])
    return counts, annotators


def _annotator(annotation: dict, users: dict[int, str]) -> str:
    """Who made an annotation: the Label Studio user's e-mail (or name, or id)."""
    who = annotation.get("completed_by")
    who = who.get("email") or who.get("id") if isinstance(who, dict) else who
    return escaped(users.get(who, str(who)) if not isinstance(who, str) else who)


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
            label = self.proj.check_label(
                label, pending=self.new_classes, where=where, known=self.known, new_class=self.allow_new
            )
        except DatacentricError as exc:
            if not self.skip_bad:
                raise DatacentricError(
                    f"pull refused, nothing pulled: {exc} (use --skip-bad to pull the rest)", self.url
                ) from None
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
