"""The examples in docstrings run: every ``>>>`` line in the package is a test."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import datacentric

PACKAGE = Path(datacentric.__file__).parent


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "__main__.py" and ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_package_has_examples():
    assert len(_modules_with_examples()) >= 10


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name}: '>>> ' appears but no example was found"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
