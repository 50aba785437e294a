"""Which layers int8 hurts: a per-layer sensitivity sweep of a quantization recipe.

For every layer (a conv / linear node and the nodes of its module: its bias, activation, ...), the
model is quantized with the recipe plus that one layer kept in float, and the output error against
the float model is measured on evaluation images, next to the recipe with nothing more kept in float.
A layer whose float copy cuts the error a lot is where int8 costs accuracy; ``quantize.py
--keep-float`` then keeps it in float.

What it found on the ``make demo-int8`` stand-ins with ONNX Runtime (README, "Agreement with the float
model"): on seed 0 one layer stood out, the 160 -> 960 conv before the global pooling (logit error -37%
kept in float, no other layer more than -4.4%), and the same conv cut seed 2's error by 60%; on seed 1
no block did more than -12% (that conv: +22%): the rest of the error is spread over every layer. That
conv is kept in float by default (:func:`mmv3.deploy.graph_passes.pool_conv_nodes`).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

#: node types that make a layer, per artifact suffix
LAYER_TYPES = {'.onnx': ('Conv', 'Gemm', 'MatMul'), '.xml': ('Convolution', 'GroupConvolution', 'MatMul')}


def module_pattern(node_name: str) -> str:
    """The ``fnmatch`` pattern of the module that produced an exported node.

    ``/model/backbone/layer7/expand_conv/conv/Conv`` (ONNX; OpenVINO appends ``/WithoutBiases``) ->
    ``*/model/backbone/layer7/expand_conv/*``: the path up to the first operator name (capitalised),
    without the wrapped ``conv`` / ``fc`` module, so the pattern also covers the layer's activation.
    """
    parts = node_name.split('/')
    for i, part in enumerate(parts):
        if part[:1].isupper():
            parts = parts[:i]
            break
    if len(parts) > 1 and parts[-1] in ('conv', 'fc'):
        parts = parts[:-1]
    path = '/'.join(parts)
    return f'*{path}/*' if path.strip('/') else node_name


def layer_units(float_path: str) -> List[str]:
    """One ``fnmatch`` pattern per layer of a float artifact (``.onnx`` or OpenVINO ``.xml``), in graph order."""
    suffix = osp.splitext(float_path)[1]
    if suffix not in LAYER_TYPES:
        raise ValueError(f'sensitivity needs an .onnx or .xml artifact, got {float_path!r}')
    if suffix == '.onnx':
        import onnx
        nodes = [(n.name, n.op_type) for n in onnx.load(float_path, load_external_data=False).graph.node]
    else:
        import openvino as ov
        ops = ov.Core().read_model(float_path).get_ordered_ops()
        nodes = [(op.get_friendly_name(), op.get_type_name()) for op in ops]
    units: List[str] = []
    for name, op_type in nodes:
        if op_type in LAYER_TYPES[suffix] and name:
            pattern = module_pattern(name)
            if pattern not in units:
                units.append(pattern)
    return units


def output_error(float_outs: Sequence[Sequence[np.ndarray]], quant_outs: Sequence[Sequence[np.ndarray]]) -> float:
    """Relative RMS error of all outputs over all images: ``sqrt(sum (q - f)^2 / sum f^2)``."""
    num = sum(float(np.square(q.astype(np.float64) - f).sum()) for fo, qo in zip(float_outs, quant_outs)
              for f, q in zip(fo, qo))
    den = sum(float(np.square(f.astype(np.float64)).sum()) for fo in float_outs for f in fo)
    return (num / max(den, 1e-30))**0.5


def layer_sensitivity(prep, float_path: str, work_path: str, calib_dir: str, eval_dir: str, num_calib: int = 32,
                      num_eval: Optional[int] = None, backend: str = 'onnxruntime',
                      units: Optional[Sequence[str]] = None, progress: bool = True,
                      **recipe) -> List[Dict[str, object]]:
    """Quantize ``prep``'s model once per layer with that layer kept in float; error and agreement of each.

    Args:
        prep (Prepared): From :func:`mmv3.deploy.pipeline.prepare`, exported to ``float_path``.
        float_path (str): The float artifact.
        work_path (str): Where each trial's int8 artifact is written (removed at the end).
        calib_dir, eval_dir (str): Calibration and evaluation image folders (calibration images are
            left out of the evaluation when both are the same).
        num_calib, num_eval (int): Images of each.
        backend (str): A registered runtime with a ``quantize``. Default: ``'onnxruntime'``.
        units (list[str], optional): Layer patterns to try (default: :func:`layer_units`).
        progress (bool): Print one line per trial. Default: True.
        **recipe: The runtime's quantization options (its ``keep_float`` is extended per trial).

    Returns:
        list[dict]: The recipe itself (``unit=None``) first, then one row per layer: ``unit``,
        ``error`` (:func:`output_error`), ``agreement`` (:func:`mmv3.deploy.metrics.agreement`).
    """
    from .calibration import read_images
    from .metrics import agreement
    from .runtimes import build_runtime
    runtime = build_runtime(backend)
    calib_paths, calib, _ = read_images(prep, calib_dir, num_calib)
    same = osp.abspath(eval_dir) == osp.abspath(calib_dir)
    _, arrays, labels = read_images(prep, eval_dir, num_eval, calib_paths if same else ())
    handle = runtime.load(float_path)
    f_outs = [runtime.run(handle, a) for a in arrays]
    base_keep = list(recipe.pop('keep_float', ()))
    rows = []
    try:
        for unit in [None] + list(units if units is not None else layer_units(float_path)):
            keep = base_keep + ([unit] if unit else [])
            runtime.quantize(prep.deploy_model, float_path, work_path, calib, keep_float=keep, **recipe)
            qh = runtime.load(work_path, precision='int8')
            q_outs = [runtime.run(qh, a) for a in arrays]
            row = dict(unit=unit, error=output_error(f_outs, q_outs), agreement=agreement(prep.task, f_outs, q_outs,
                                                                                              labels))
            rows.append(row)
            if progress:
                print(f'sensitivity: {unit or "(recipe)"}: error {row["error"]:.4f}', flush=True)
    finally:
        stem = osp.splitext(work_path)[0]
        for p in (work_path, stem + '.bin'):
            if osp.exists(p):
                os.remove(p)
    return rows


def format_sensitivity(rows: Sequence[Dict[str, object]]) -> str:
    """Markdown table of :func:`layer_sensitivity`, layers sorted by how much their float copy helps."""
    base = rows[0]['error']
    key = next((k for k in ('top1_agreement', 'pixel_agreement', 'score_corr') if k in rows[0]['agreement']), None)
    lines = ['| kept in float | output error | change | ' + (key or '') + ' |', '|---|---|---|---|']
    ordered = [rows[0]] + sorted(rows[1:], key=lambda r: r['error'])
    for r in ordered:
        change = (r['error'] - base) / base * 100 if base else 0.0
        agr = f'{r["agreement"][key] * 100:.2f}%' if key in ('top1_agreement', 'pixel_agreement') else \
            (f'{r["agreement"][key]:.4f}' if key else '')
        lines.append(f'| {r["unit"] or "(the recipe)"} | {r["error"]:.4f} | {change:+.1f}% | {agr} |')
    return '\n'.join(lines)


__all__ = ['layer_units', 'module_pattern', 'output_error', 'layer_sensitivity', 'format_sensitivity']
