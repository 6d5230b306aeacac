"""Fixtures for plugin tests: a fresh registry, and fake installed distributions."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

PROCEDURAL_SRC = Path(__file__).resolve().parents[2] / "plugins" / "datacentric-procedural" / "src"


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Every test discovers plugins anew and leaves no trace."""
    from datacentric import plugins

    monkeypatch.delenv(plugins.ENV_VAR, raising=False)
    plugins.reset()
    yield plugins
    plugins.reset()


@pytest.fixture
def install_fake(tmp_path, monkeypatch):
    """Install a fake distribution: a module with ``code`` and an entry point to it.

    Returns a function ``(code, group="datacentric.generators", ref=None) -> (dist, ep_name, module)``.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    made = []

    def install(code: str, group: str = "datacentric.generators", attr: str = "") -> tuple[str, str, str]:
        tag = uuid.uuid4().hex[:8]
        module, dist, ep = f"fakeplug_{tag}", f"fake-plugin-{tag}", f"fake{tag}"
        (site / f"{module}.py").write_text(code, encoding="utf-8")
        info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[{group}]\n{ep} = {module}{attr}\n", encoding="utf-8")
        made.append(module)
        return dist, ep, module

    yield install
    for module in made:
        sys.modules.pop(module, None)


@pytest.fixture
def procedural_importable(monkeypatch):
    """Make the first-party plugin importable from the source tree if it is not installed."""
    try:
        import datacentric_procedural  # noqa: F401
    except ImportError:
        monkeypatch.syspath_prepend(str(PROCEDURAL_SRC))
