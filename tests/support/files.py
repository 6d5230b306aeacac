"""Files and the store on disk: fingerprints, listings, CSV rows."""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from pathlib import Path


def store_digest(root: Path) -> str:
    """sha256 of the store file: equal before and after means byte-identical."""
    return hashlib.sha256((Path(root) / "datacentric.db").read_bytes()).hexdigest()


def store_rows(root: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a read-only SQL query on a project's store, opened apart from the project."""
    uri = (Path(root) / "datacentric.db").resolve().as_uri() + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return [tuple(row) for row in conn.execute(sql, params)]


def files_under(root: Path) -> set[Path]:
    """Every file below ``root`` (to prove nothing was written outside a project)."""
    return {p for p in Path(root).rglob("*") if p.is_file() or p.is_symlink()}


def write_csv(path: Path, text: str) -> Path:
    """Write a CSV manifest next to the images it names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
