"""Latencies timed while other work held the cores are said to be so."""

from __future__ import annotations

from pathlib import Path

import pytest

from datacentric.export.results import ExportResult, FormatResult


def _result(other_load):
    row = FormatResult("onnx-fp32", 1000, 5.0, 4.0, 1.0, 0.0, 0.9, Path("m.onnx"))
    return ExportResult(path=Path("m.onnx"), formats=[row], threads=2, other_load=other_load)


@pytest.mark.parametrize("other_load, said", [(2.5, True), (0.3, False), (None, False)])
def test_a_busy_machine_is_named_beside_the_latencies(capsys, other_load, said):
    from datacentric.cli.export import _print_measurements

    _print_measurements(_result(other_load))
    out = " ".join(capsys.readouterr().out.split())
    assert ("timed on a busy machine: other work kept 2.5 cores busy" in out) == said


def test_other_load_is_the_load_average_less_the_exports_own_threads(monkeypatch):
    from datacentric.export import compare

    monkeypatch.setattr(compare.os, "getloadavg", lambda: (5.2, 4.0, 3.0))
    assert compare._other_load(2) == pytest.approx(3.2)
    monkeypatch.setattr(compare.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert compare._other_load(2) == 0.0
