"""End to end on the full demo with the real offline backbone: does int8 still give torch's answers?"""

from __future__ import annotations

import pytest

from datacentric.export import export_run
from datacentric.project import Project


@pytest.mark.slow
def test_int8_export_of_the_demo_model_keeps_torch_labels_and_accuracy(full_demo):
    _, parts = full_demo
    with Project.open(parts) as proj:
        result = export_run(proj, int8=True, force=True, repeats=0)
    torch_row, int8_row = result.format("torch-fp32"), result.format("onnx-int8")
    assert result.n_images == 250
    # Measured 99.6% (README); round-to-nearest int8 gave 98.0% here, 95.6-96.4% on other seeds.
    assert int8_row.agreement >= 0.98
    assert int8_row.accuracy >= torch_row.accuracy - 0.01
    assert torch_row.bytes / int8_row.bytes >= 3.5
    assert all(d.torch_gap < 0.1 for d in result.disagreements)  # only images torch is unsure about flip
