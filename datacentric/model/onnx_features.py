"""Run a frozen feature backbone with ONNX Runtime on the CPU (the default embedding runtime).

The torch feature model (``num_classes=0``) is exported once to
``<cache_dir>/onnx/<torch embedding key>.<form>.onnx`` (atomic write) and run by onnxruntime's
CPUExecutionProvider (its zero Pads made foldable into the convolutions, :func:`fusable_pads`).
Measured on this project's 2-core CPU, EfficientNet-Lite0 runs 2.2-2.7x faster than the best
plain torch forward (``benchmarks/bench_speed.py``).

:func:`trace_onnx` is the one torch-to-ONNX tracer of the project: ``datacentric export``
(:func:`datacentric.export.export_onnx`) writes classifiers through it too.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacentric.errors import DatacentricError
from datacentric.quiet import import_onnxruntime

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DEFAULT_RUNTIME",
    "OPSET",
    "RUNTIMES",
    "OnnxFeatures",
    "cached_session",
    "check_runtime",
    "exported_file",
    "fusable_pads",
    "onnx_features",
    "static_same_padding",
    "trace_onnx",
]

OPSET = 17
RUNTIMES = ("onnxruntime", "torch")
DEFAULT_RUNTIME = "onnxruntime"
# Images per ONNX Runtime call. Small calls keep the activations in cache and the memory
# arena small; calls run side by side, one per core (lite0 on 2 cores: 179 img/s in calls of 4
# on two single-threaded runs, against 148 in calls of 8 on one run of two threads)
RUN_BATCH = 4
# The form of the exported file, in its name: a change to what trace_onnx writes (same
# vectors, a faster graph) re-exports a cached backbone. "padfold": Pads stored as constants
# that ONNX Runtime folds into the convolutions (files without the form have computed Pads).
FILE_FORM = "padfold"
_SESSIONS: dict[tuple, OnnxFeatures] = {}


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`RUNTIMES`, else a one-line :class:`DatacentricError`."""
    if runtime not in RUNTIMES:
        raise DatacentricError(f"unknown embedding runtime '{runtime}' (known: {', '.join(RUNTIMES)})")
    return runtime


def trace_onnx(
    module: "torch.nn.Module",
    out: Path | str | io.BytesIO,
    input_size: Sequence[int],
    *,
    output: str = "features",
    opset: int = OPSET,
) -> None:
    """Trace ``module`` (NCHW float32 in, one tensor out) to ONNX at ``out`` (a path or a buffer).

    The batch axis is dynamic (input ``input``, output ``output``); constants are folded.
    Uses the TorchScript-based exporter (``dynamo=False``), which needs no extra package.
    TensorFlow-style "SAME" convolutions are traced with their padding as constants for
    ``input_size`` (see :func:`static_same_padding`), in the form ONNX Runtime folds into the
    convolutions (:func:`fusable_pads`).
    """
    import torch

    module = module.eval()
    example = torch.zeros((1, *[int(v) for v in input_size]), dtype=torch.float32)
    traced = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(), static_same_padding(module, example):
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        torch.onnx.export(
            module,
            (example,),
            traced,
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=[output],
            dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}},
            do_constant_folding=True,
        )
    model = fusable_pads(traced.getvalue())
    if isinstance(out, io.BytesIO):
        out.write(model)
    else:
        Path(out).write_bytes(model)


@contextlib.contextmanager
def static_same_padding(module: "torch.nn.Module", example: "torch.Tensor") -> Iterator[None]:
    """Within the block, timm's ``Conv2dSame`` layers pad by constants computed for ``example``'s size.

    Traced as is they compute the padding at run time from the input's shape (a float
    Cast/Div/Ceil/... subgraph per strided conv), which is slower and which int8
    quantization would round. The padding is what ``Conv2dSame`` itself computes for that
    input size (``timm.layers.padding.get_same_padding``), so the outputs are unchanged;
    only the traced graph differs (a Conv with its padding, or a constant Pad then a Conv).
    The layers get their own ``forward`` back afterwards.
    """
    try:
        from timm.layers import Conv2dSame
        from timm.layers.padding import get_same_padding
    except ImportError:  # pragma: no cover - timm is a dependency; be lenient for plain torch models
        yield
        return
    import torch

    targets = [m for m in module.modules() if isinstance(m, Conv2dSame)]
    if not targets:
        yield
        return
    sizes: dict[Any, tuple[int, int]] = {}

    def record(layer: Any, args: tuple) -> None:
        sizes[layer] = (int(args[0].shape[-2]), int(args[0].shape[-1]))

    hooks = [m.register_forward_pre_hook(record) for m in targets]
    try:
        with torch.inference_mode():
            module(example)
    finally:
        for hook in hooks:
            hook.remove()
    patched = []
    try:
        for layer in targets:
            if layer not in sizes:  # not on the forward path
                continue
            (ih, iw), (kh, kw) = sizes[layer], layer.weight.shape[-2:]
            pad_h = int(get_same_padding(ih, kh, layer.stride[0], layer.dilation[0]))
            pad_w = int(get_same_padding(iw, kw, layer.stride[1], layer.dilation[1]))
            layer.forward = functools.partial(_conv_same_static, layer, (pad_h, pad_w))
            patched.append(layer)
        yield
    finally:
        for layer in patched:
            del layer.forward  # back to the class's forward


def _conv_same_static(layer: Any, pad: tuple[int, int], x: "torch.Tensor") -> "torch.Tensor":
    import torch.nn.functional as F

    pad_h, pad_w = pad
    if pad_h % 2 == 0 and pad_w % 2 == 0:  # symmetric: the convolution's own padding
        return F.conv2d(
            x, layer.weight, layer.bias, layer.stride, (pad_h // 2, pad_w // 2), layer.dilation, layer.groups
        )
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))  # TF puts the odd pixel last
    return F.conv2d(x, layer.weight, layer.bias, layer.stride, 0, layer.dilation, layer.groups)


class OnnxFeatures:
    """A feature backbone run by onnxruntime: NCHW float32 batch -> (N, D) float32 features.

    A batch runs in calls of at most :data:`RUN_BATCH` images (fewer when that leaves a core
    idle), ``threads`` calls side by side (0 = one per usable core), each call on a single
    thread: independent calls keep every core busy where one call split over threads waits
    for its slowest part between operators (the features are the same bits either way; a
    single image runs on one core). Session options: one thread per call, all graph
    optimisations, and the memory arena (without it every call maps and unmaps its
    activations).
    """

    def __init__(self, model: Path | bytes, *, threads: int = 0, name: str = "") -> None:
        ort = import_onnxruntime()

        self.name = name
        self.threads = threads or _usable_cores()
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                model if isinstance(model, bytes) else str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise _runtime_error(name, exc) from None
        self.input = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Features (N, D) float32 of a preprocessed NCHW float32 batch."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        size = max(1, min(RUN_BATCH, -(-len(batch) // self.threads)))  # a small batch still fills the cores
        starts = range(0, max(len(batch), 1), size)

        def run(start: int) -> np.ndarray:
            return self.session.run(None, {self.input: batch[start : start + size]})[0]

        try:
            if self.threads > 1 and len(starts) > 1:
                # a pool per batch, not per session: no idle threads left behind, none across a fork
                with ThreadPoolExecutor(min(self.threads, len(starts))) as pool:
                    parts = list(pool.map(run, starts))
            else:
                parts = [run(start) for start in starts]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise _runtime_error(self.name, exc) from None
        return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _runtime_error(name: str, exc: BaseException) -> DatacentricError:
    reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
    return DatacentricError(f"ONNX Runtime cannot run backbone '{name}': {reason} (embed with runtime='torch' instead)")


def onnx_features(
    model: "torch.nn.Module", key: str, config: dict, cache_dir: Path | None, *, name: str = "", threads: int = 0
) -> OnnxFeatures:
    """The onnxruntime session of the torch feature model ``model`` (built once per process).

    ``key`` is the model's *torch* embedding key (backbone, weights, preprocessing), so the
    exported file (:func:`exported_file`) is reused by every later call; with no
    ``cache_dir`` the file is exported in memory. ``config`` is its timm data config (the
    input size the SAME paddings are computed for).
    """
    if cache_dir is None:
        memo = (key, "memory", threads)
        if memo not in _SESSIONS:
            _SESSIONS[memo] = OnnxFeatures(_traced(model, config, name), threads=threads, name=name)
        return _SESSIONS[memo]
    path = exported_file(cache_dir, key)
    if not path.is_file():
        from datacentric.paths import write_atomic

        write_atomic(path, _traced(model, config, name))
        with contextlib.suppress(OSError):  # the same backbone in the older form; a shared cache may keep it
            path.with_name(f"{key}.onnx").unlink(missing_ok=True)
    return cached_session(path, name=name, threads=threads)


def exported_file(cache_dir: Path | str, key: str) -> Path:
    """Where the feature backbone with *torch* embedding ``key`` is exported:
    ``<cache_dir>/onnx/<key>.<FILE_FORM>.onnx``.
    """
    return Path(cache_dir) / "onnx" / f"{key}.{FILE_FORM}.onnx"


def cached_session(path: Path, *, name: str = "", threads: int = 0) -> OnnxFeatures:
    """The onnxruntime session of an exported feature backbone file (opened once per process).

    ``threads``: calls run side by side (0 = one per usable core; see :class:`OnnxFeatures`).
    """
    memo = (str(path), "file", threads)
    if memo not in _SESSIONS:
        _SESSIONS[memo] = OnnxFeatures(Path(path), threads=threads, name=name)
    return _SESSIONS[memo]


def _traced(model: "torch.nn.Module", config: dict, name: str) -> bytes:
    """``model`` traced to ONNX in memory (a tracer failure is a one-line error naming the backbone)."""
    buffer = io.BytesIO()
    try:
        trace_onnx(model, buffer, config["input_size"])
    except Exception as exc:  # noqa: BLE001 - the tracer raises many types
        raise _runtime_error(name, exc) from None
    return buffer.getvalue()


def fusable_pads(model: bytes) -> bytes:
    """The ONNX ``model`` with every Pad's ``pads`` stored as a constant and no empty optional
    input: the form in which ONNX Runtime folds a zero Pad into the Conv after it.

    The TorchScript exporter computes each Pad's amounts in a small graph of Constant, Reshape,
    Slice, Transpose and Cast nodes and writes an empty third input, so ONNX Runtime's pad
    fusion skipped them: every "SAME" strided convolution of a ``tf_`` backbone ran as layout
    reorder, Pad, reorder back (a quarter of a lite0 forward). Here those small graphs are
    evaluated once (``onnx.reference``), each Pad reads a stored copy, and the nodes only they
    fed are dropped. The arithmetic is unchanged: the features are the same bits, 1.4x faster on
    one thread. A Pad whose amounts depend on the input is left as it is; so is the whole model
    when the rewrite fails (it only makes the model faster).
    """
    import onnx

    try:
        proto = onnx.load_from_string(model)
        if not _store_pad_amounts(proto.graph, proto.opset_import):
            return model
        return proto.SerializeToString()
    except Exception:  # noqa: BLE001 - an optimisation: the traced model is correct as it is
        return model


def _store_pad_amounts(graph: Any, opsets: Any) -> bool:
    """Rewrite ``graph``'s Pads in place (see :func:`fusable_pads`); False when none changed."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    stored = {tensor.name for tensor in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    taken = set(producer) | stored | _names_read(graph)
    changed = False
    for pad in [node for node in graph.node if node.op_type == "Pad"]:
        amounts = pad.input[1] if len(pad.input) > 1 else ""
        steps = _producers([amounts], producer, stored) if amounts not in stored else []
        if steps is None:  # computed from the input: nothing to store
            continue
        if steps:
            evaluator = ReferenceEvaluator(
                helper.make_model(
                    helper.make_graph(
                        [node for node in graph.node if any(node is step for step in steps)],
                        "pads",
                        [],
                        [helper.make_tensor_value_info(amounts, TensorProto.INT64, None)],
                        [t for t in graph.initializer if t.name in {i for step in steps for i in step.input}],
                    ),
                    opset_imports=opsets,
                )
            )
            (value,) = evaluator.run(None, {})
            name = f"{amounts}/constant"
            while name in taken:
                name += "_"
            taken.add(name)
            graph.initializer.append(numpy_helper.from_array(value.astype("int64"), name))
            pad.input[1] = name
            _drop_orphans(graph, steps)
            changed = True
        while pad.input and not pad.input[-1]:
            pad.input.pop()
            changed = True
    return changed


def _producers(names: list[str], producer: dict, stored: set[str]) -> list | None:
    """Every node that ``names`` are computed from, or None when one depends on a graph input."""
    found: list = []
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if not name or name in seen or name in stored:
            continue
        seen.add(name)
        if name not in producer:
            return None
        found.append(producer[name])
        todo.extend(producer[name].input)
    return found


def _names_read(graph: Any) -> set[str]:
    """Every tensor name a node of ``graph`` reads, subgraphs (If, Loop, Scan bodies) included."""
    from onnx import AttributeProto

    read = {output.name for output in graph.output}
    for node in graph.node:
        read.update(node.input)
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                read |= _names_read(attribute.g)
            elif attribute.type == AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    read |= _names_read(subgraph)
    return read


def _drop_orphans(graph: Any, candidates: list) -> None:
    """Remove those of ``candidates`` (nodes) whose outputs nothing reads any more, and the
    initializers only they read.
    """
    left = list(candidates)
    while True:
        read = _names_read(graph)
        orphans = [node for node in left if not any(name in read for name in node.output)]
        if not orphans:
            break
        for node in orphans:
            graph.node.remove(node)
            left.remove(node)
    read = _names_read(graph)
    inputs = {name for node in candidates for name in node.input}
    for tensor in [t for t in graph.initializer if t.name in inputs and t.name not in read]:
        graph.initializer.remove(tensor)
