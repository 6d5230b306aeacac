"""Torch inference runs in small chunks on a CPU and gives what one forward per image gives."""

from __future__ import annotations

import torch

from datacentric.model.backbone import create_backbone
from datacentric.model.torch_inference import CPU_CHUNK, infer


def test_a_batch_runs_in_cpu_chunks_with_the_outputs_of_single_images():
    module = create_backbone("test_efficientnet@random", num_classes=3, pretrained=False).eval()
    calls = []
    hook = module.register_forward_hook(lambda _m, inputs, _out: calls.append(len(inputs[0])))
    x = torch.randn(CPU_CHUNK + 3, 3, 32, 32)
    try:
        together = infer(module, x)
    finally:
        hook.remove()
    assert calls == [CPU_CHUNK, 3]
    assert together.dtype == torch.float32 and together.shape == (CPU_CHUNK + 3, 3)
    assert not together.requires_grad
    with torch.inference_mode():
        alone = torch.cat([module(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
