"""ONNX export of a :class:`~mmv3.apis.TaskWrapper` (the file side of :mod:`mmv3.deploy.runtimes.onnxruntime`).

The export uses PyTorch's TorchScript-based exporter (``dynamo=False``): it traces the eager model, so
OpenMMLab models with Python control flow export as the branch taken for the traced input size.
BN is folded into the convolutions first (:func:`mmv3.deploy.fuse.fold_bn`), so the ONNX graph has no
``BatchNormalization`` nodes; ``h-swish`` / ``hard-sigmoid`` export as ONNX ``HardSwish`` /
``HardSigmoid`` (opset >= 14).
"""
import os
import os.path as osp
import warnings
from typing import Dict, Sequence

import torch
import torch.nn as nn

DEFAULT_OPSET = 17


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
