"""Importing the library changes no environment variable (and albumentations still asks no server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_library_leaves_the_environment_as_it_was():
    code = (
        "import os\n"
        "import cv2, onnx, onnxruntime, sklearn.linear_model, timm, torch  # they set KMP_*, LD_LIBRARY_PATH\n"
        "before = dict(os.environ)\n"
        "import datacentric, datacentric.model, datacentric.improve, datacentric.drift, datacentric.export\n"
        "import albumentations\n"
        "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
        "print(changed)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "NO_ALBUMENTATIONS_UPDATE")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_albumentations_is_imported_without_its_update_check(monkeypatch):
    from datacentric import quiet

    seen = []
    monkeypatch.delenv("NO_ALBUMENTATIONS_UPDATE", raising=False)
    monkeypatch.setattr(
        quiet.importlib, "import_module", lambda name: seen.append((name, os.environ.get("NO_ALBUMENTATIONS_UPDATE")))
    )
    quiet.import_albumentations()
    assert seen == [("albumentations", "1")] and "NO_ALBUMENTATIONS_UPDATE" not in os.environ


def _files_after_an_onnx_session(home: Path, first_import: str) -> list[str]:
    """Open one onnxruntime session in a fresh process with ``home`` as its home; the files left there."""
    code = (
        f"{first_import}\n"
        "import onnx\n"
        "from onnx import TensorProto, helper\n"
        "x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])\n"
        "y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])\n"
        "graph = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g', [x], [y])\n"
        "model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])\n"
        "ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])\n"
    )
    # onnxruntime keeps no telemetry under CI=true: without it, the check means the same in CI
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME", "CI")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


def test_onnxruntime_keeps_no_telemetry_outside_the_project(tmp_path):
    """onnxruntime's usage telemetry writes a device id and an event database under ~/.cache."""
    import pytest

    plain = _files_after_an_onnx_session(tmp_path / "plain", "import onnxruntime as ort")
    if not plain:
        pytest.skip("this onnxruntime keeps no telemetry files: nothing to switch off")
    ours = _files_after_an_onnx_session(
        tmp_path / "ours", "from datacentric.quiet import import_onnxruntime\nort = import_onnxruntime()"
    )
    assert ours == []
