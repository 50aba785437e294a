"""ONNX export of a :class:`~mmv3.deploy.builder.TaskWrapper` and the ONNX Runtime round-trip check.

The export uses PyTorch's TorchScript-based exporter (``dynamo=False``): it traces the eager model, so
OpenMMLab models with Python control flow export as the branch taken for the traced input size.
BN is folded into the convolutions first (:func:`mmv3.deploy.fuse.fold_bn`), so the ONNX graph has no
``BatchNormalization`` nodes; ``h-swish`` / ``hard-sigmoid`` export as ONNX ``HardSwish`` /
``HardSigmoid`` (opset >= 14).
"""
import os
import os.path as osp
import warnings
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

DEFAULT_OPSET = 17


def ort_session(path: str, threads: int = 1, optimize: bool = True):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and sequential execution.

    Args:
        path (str): The ``.onnx`` file.
        threads (int): Intra-op threads (1 = single core, as the paper measures). Default: 1.
        optimize (bool): Enable all graph optimisations (incl. QDQ -> QLinear fusions). Default: True.
    """
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else
                                   ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])


def export_onnx(model: nn.Module, path: str, input_shape: Sequence[int], output_names: Sequence[str],
                dynamic: bool = False, opset: int = DEFAULT_OPSET, input_name: str = 'input') -> str:
    """Export ``model`` (eval mode, tensor in, tuple of tensors out) to ``path``.

    Args:
        model (nn.Module): The model, e.g. a BN-folded :class:`TaskWrapper`.
        path (str): Output ``.onnx`` path (its directory is created).
        input_shape (Sequence[int]): ``(N, C, H, W)`` of the traced input.
        output_names (Sequence[str]): Names of the outputs.
        dynamic (bool): Make batch, height and width dynamic axes (and the spatial axes of every
            output). Default: False.
        opset (int): ONNX opset. Default: 17.
        input_name (str): Name of the input. Default: ``'input'``.

    Returns:
        str: ``path``.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    dummy = torch.randn(*input_shape)
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {input_name: {0: 'batch', 2: 'height', 3: 'width'}}
        for name in output_names:
            dynamic_axes[name] = {0: 'batch'}
        with torch.no_grad():
            outs = model(dummy)
        for name, out in zip(output_names, outs):
            if out.dim() == 4:
                dynamic_axes[name] = {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'}
    from .rewriters import export_rewrites
    with warnings.catch_warnings(), torch.no_grad(), export_rewrites(dynamic):
        warnings.simplefilter('ignore')
        torch.onnx.export(
            model, (dummy, ), path, dynamo=False, opset_version=opset, input_names=[input_name],
            output_names=list(output_names), dynamic_axes=dynamic_axes, do_constant_folding=True)
    strip_identity(path)
    return path


def strip_identity(path: str) -> int:
    """Remove ``Identity`` nodes (what folded BNs leave behind) from the ONNX file in place.

    Returns:
        int: The number of nodes removed.
    """
    import onnx
    model = onnx.load(path)
    graph = model.graph
    outputs = {o.name for o in graph.output}
    rename = {}
    keep = []
    for node in graph.node:
        if node.op_type == 'Identity' and node.output[0] not in outputs:
            src = node.input[0]
            rename[node.output[0]] = rename.get(src, src)
        else:
            keep.append(node)
    if not rename:
        return 0
    for node in keep:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return len(rename)


def onnx_op_counts(path: str) -> Dict[str, int]:
    """How many nodes of each op type the ONNX graph at ``path`` has."""
    import onnx
    model = onnx.load(path, load_external_data=False)
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def run_torch(model: nn.Module, x: np.ndarray) -> List[np.ndarray]:
    """Run a tensor-in / tuple-out model on a numpy batch; numpy outputs."""
    with torch.no_grad():
        outs = model(torch.from_numpy(x))
    if isinstance(outs, torch.Tensor):
        outs = (outs, )
    return [o.detach().cpu().numpy() for o in outs]


def run_ort(session, x: np.ndarray) -> List[np.ndarray]:
    """Run an ONNX Runtime session with one input."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: x})


def compare_outputs(ref: Sequence[np.ndarray], out: Sequence[np.ndarray]) -> Tuple[float, float]:
    """Largest absolute difference over all outputs, and the largest absolute reference value."""
    if len(ref) != len(out):
        raise RuntimeError(f'number of outputs differ: {len(ref)} (PyTorch) vs {len(out)} (ONNX Runtime)')
    diff, scale = 0.0, 0.0
    for r, o in zip(ref, out):
        if r.shape != o.shape:
            raise RuntimeError(f'output shapes differ: {r.shape} (PyTorch) vs {o.shape} (ONNX Runtime)')
        if r.size:
            diff = max(diff, float(np.abs(r.astype(np.float64) - o.astype(np.float64)).max()))
            scale = max(scale, float(np.abs(r).max()))
    return diff, scale


def verify_onnx(model: nn.Module, path: str, shapes: Sequence[Sequence[int]], atol: float = 1e-4,
                rtol: float = 1e-3, seed: int = 0) -> List[Dict[str, object]]:
    """Check ONNX Runtime against PyTorch on random inputs of each shape in ``shapes``.

    The check passes when ``max|ort - torch| <= atol + rtol * max|torch|`` for every shape.

    Returns:
        list[dict]: One ``dict(shape, max_abs_diff, max_abs_ref, ok)`` per shape.
    """
    session = ort_session(path)
    rng = np.random.default_rng(seed)
    results = []
    for shape in shapes:
        x = rng.standard_normal(tuple(shape)).astype(np.float32)
        ref = run_torch(model, x)
        out = run_ort(session, x)
        diff, scale = compare_outputs(ref, out)
        results.append(dict(shape=tuple(shape), max_abs_diff=diff, max_abs_ref=scale,
                            ok=diff <= atol + rtol * scale))
    return results
