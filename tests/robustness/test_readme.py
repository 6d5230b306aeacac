"""README.md's "What we promise" and this suite stay in step: every case the README names
has a test marked with it here, and every case a test is marked with is in the README."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent


def _promise_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## What we promise")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _readme_cases() -> set[str]:
    return {case for group in re.findall(r"\[([A-Z0-9, ]+)\]", _promise_section()) for case in re.split(r",\s*", group)}


def _tested_cases() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(f"tests.robustness.{path.stem}")
        for name, func in vars(module).items():
            for mark in getattr(func, "pytestmark", []):
                if name.startswith("test_") and mark.name == "promise":
                    for case in mark.args:
                        found.setdefault(case, []).append(f"{path.name}::{name}")
    return found


def test_every_promise_in_the_readme_has_a_test():
    cases = _readme_cases()
    assert {"S1", "F1", "F4", "U10", "P1"} <= cases  # the section was found and parsed
    missing = sorted(cases - set(_tested_cases()))
    assert not missing, f"README promises without a test in tests/robustness: {missing}"


def test_every_marked_test_checks_a_promise_the_readme_makes():
    unknown = sorted(set(_tested_cases()) - _readme_cases())
    assert not unknown, f"tests marked with cases the README does not promise: {unknown}"


def test_the_readme_states_the_class_name_rule_the_code_applies():
    from datacentric.names import MAX_LENGTH

    section = " ".join(_promise_section().split())
    assert f"longer than {MAX_LENGTH} characters" in section
    for refused in ("`/`", "`\\`", "`..`", "NUL"):
        assert refused in section
