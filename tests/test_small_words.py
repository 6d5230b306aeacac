"""The small rough edges of #14: plurals, usage lines, what `plugins` lists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import datacentric
from tests.support.cli import invoke


def test_one_annotator_and_one_image_read_as_singular(tmp_path, photos):
    proj = tmp_path / "p"
    invoke("init", proj)
    (photos / "scratch").rename(tmp_path / "elsewhere")
    (photos / "pit").rename(tmp_path / "elsewhere2")
    for extra in list((photos / "ok").iterdir())[1:]:
        extra.unlink()
    out = invoke("import", proj, photos, "--annotator", "mira").output
    assert "imported 1 new image (0 already known), 1 new label from" in out
    out = invoke("status", proj).output
    assert out.startswith("1 image · 1 class · 1 annotator (mira 1)"), out
    assert "disagreements: 0 images where" in out


def test_no_placeholder_is_printed_literally():
    """A command we print names the project: never a '{project}' left without its f."""
    for path in Path(datacentric.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_f = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_f:
                assert not re.search(r"\{(project|proj|root)\b[^}]*\}", node.value), f"{path}:{node.lineno}"


def test_plugins_lists_the_drift_detectors_and_hides_the_test_backbone():
    out = invoke("plugins").output
    assert "test_efficientnet" not in out and "tf_efficientnet_lite0" in out
    assert "drift detectors (2)" in out and re.search(r"^  mmd\s", out, re.MULTILINE)
    assert re.search(r"^  ks\s", out, re.MULTILINE)
