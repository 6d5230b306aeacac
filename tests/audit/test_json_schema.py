"""The README's `audit --json` block is the public interface for scripts: it names every
field the audit writes, and only those."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

from datacentric.audit.result import AuditResult

README = Path(__file__).parents[2] / "README.md"


def _schema_block() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("`audit --json` is a public interface")
    return text[text.index("```", start) + 3 : text.index("```", text.index("```", start) + 3)]


def _documented() -> dict[str, set[str]]:
    """{list field: the keys the README gives its entries}, and "also" for the plain fields."""
    block = re.sub(r"#[^\n]*", "", _schema_block())  # comments out
    block = re.sub(r"\([^)]*\)", "", block)  # "(low = likely wrong)" and the like out
    found: dict[str, set[str]] = {}
    for name, body in re.findall(r"(\w+):\s*\[\{([^}]*)\}\]", block):
        found[name] = {re.sub(r"\W.*", "", w.strip().split()[0]) for w in body.split(",") if w.strip()}
    also = block[block.index("also:") + 5 : block.index("counts:")]
    found["also"] = {w.strip() for w in also.replace("\n", " ").split(",") if w.strip()}
    return found


def _entry_fields(name: str) -> set[str]:
    hints = typing.get_type_hints(AuditResult)
    (entry,) = typing.get_args(hints[name])
    return {f.name for f in dataclasses.fields(entry)}


def test_every_list_the_audit_writes_is_documented_field_by_field():
    documented = _documented()
    lists = ["label_issues", "classes", "slices", "annotators", "consensus", "outliers", "near_duplicates"]
    for name in lists:
        assert documented.get(name) == _entry_fields(name), name
    plain = {f.name for f in dataclasses.fields(AuditResult)} - set(lists)
    assert documented["also"] == plain
