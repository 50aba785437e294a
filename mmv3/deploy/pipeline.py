"""Config -> folded model -> ONNX (-> int8) in one call; what the thin CLIs in ``tools/`` run."""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .builder import TaskWrapper, build_from_config, default_input_shape, preprocess_params
from .fuse import count_bn, fold_bn
from .onnx_export import export_onnx, onnx_op_counts, ort_session, run_ort, run_torch, verify_onnx


@dataclass
class Prepared:
    """A built model ready for export / timing.

    Attributes:
        model (TaskWrapper): The eval-mode model (unfolded).
        folded (TaskWrapper | None): The BN-folded copy (None when folding was disabled).
        cfg: The loaded config.
        task (str): ``'cls'``, ``'det'`` or ``'seg'``.
        shape (tuple): ``(H, W)`` used for tracing.
        num_folded (int): BNs folded into convs.
    """
    model: TaskWrapper
    folded: Optional[TaskWrapper]
    cfg: object
    task: str
    shape: Tuple[int, int]
    num_folded: int = 0
    info: Dict[str, object] = field(default_factory=dict)

    @property
    def deploy_model(self) -> nn.Module:
        return self.folded if self.folded is not None else self.model

    @property
    def output_names(self) -> List[str]:
        with torch.no_grad():
            n = len(self.deploy_model(torch.zeros(1, 3, *self.shape)))
        return list(self.model.output_names(n))


def prepare(config, checkpoint: Optional[str] = None, shape: Optional[Sequence[int]] = None,
            cfg_options: Optional[dict] = None, fold: bool = True, seg_resize: bool = True) -> Prepared:
    """Build a config's model, load weights and (by default) fold BN into the convs."""
    model, cfg, task = build_from_config(config, checkpoint, cfg_options, seg_resize=seg_resize)
    shape = tuple(shape) if shape else default_input_shape(cfg, task)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'--shape must be two positive integers H W, got {shape}')
    folded, n = None, 0
    if fold:
        folded, n = fold_bn(model, torch.randn(1, 3, *shape))
    return Prepared(model, folded, cfg, task, tuple(shape), n)


def export(prep: Prepared, out: str, dynamic: bool = False, opset: int = 17, verify: bool = True,
           atol: float = 1e-4, rtol: float = 1e-3, extra_shapes: Sequence[Sequence[int]] = ()) -> Dict[str, object]:
    """Export ``prep.deploy_model`` to ``out`` and check ONNX Runtime against PyTorch.

    Args:
        prep (Prepared): From :func:`prepare`.
        out (str): ``.onnx`` path.
        dynamic (bool): Dynamic batch / H / W. Default: False.
        opset (int): ONNX opset. Default: 17.
        verify (bool): Run the round-trip check. Default: True.
        atol, rtol (float): Tolerance: pass when ``max|ort - torch| <= atol + rtol * max|torch|``.
        extra_shapes (list): More ``(H, W)`` to verify (dynamic models).

    Returns:
        dict: ``path``, ``outputs`` (names), ``ops`` (op histogram), ``num_folded``, ``bn_left``
        (BatchNormalization nodes in the graph), ``checks`` (per shape: diff, ok).
    """
    names = prep.output_names
    shape = (1, 3) + tuple(prep.shape)
    export_onnx(prep.deploy_model, out, shape, names, dynamic=dynamic, opset=opset)
    ops = onnx_op_counts(out)
    result = dict(path=out, outputs=names, ops=ops, num_folded=prep.num_folded,
                  bn_left=ops.get('BatchNormalization', 0), checks=[])
    if verify:
        shapes = [shape] + [(1, 3) + tuple(s) for s in extra_shapes]
        result['checks'] = verify_onnx(prep.deploy_model, out, shapes, atol=atol, rtol=rtol)
    return result


def read_images(prep: Prepared, folder: str, limit: Optional[int] = None, offset_names: Sequence[str] = ()):
    """Preprocessed arrays (and seg labels) for the images in ``folder``.

    Returns:
        tuple: ``(paths, arrays, labels)``; ``labels`` holds a label map per image or None.
    """
    from .quantize import list_images, load_label, preprocess_image
    pre = preprocess_params(prep.model)
    all_paths = list_images(folder, None)
    skip = set(offset_names)
    paths = [p for p in all_paths if p not in skip] or all_paths  # tiny folders: reuse them all
    if limit is not None and len(paths) > limit:
        idx = np.linspace(0, len(paths) - 1, limit).round().astype(int)
        paths = [paths[i] for i in idx]
    arrays = [preprocess_image(p, prep.shape, pre['mean'], pre['std'], pre['to_rgb'], prep.task) for p in paths]
    if prep.task == 'seg':
        labels = [load_label(p, prep.shape) for p in paths]
    elif prep.task == 'cls':
        lookup = imagenet_label_lookup(folder)
        labels = [lookup.get(osp.abspath(p)) for p in paths]
    else:
        labels = [None] * len(paths)
    return paths, arrays, labels


def imagenet_label_lookup(folder: str) -> dict:
    """``{absolute image path: class index}`` from mmpretrain ``meta/<split>.txt`` files found at
    ``folder`` or its parent (ImageNet layout); empty when there are none."""
    out = {}
    for root in (folder, osp.dirname(osp.abspath(folder))):
        for split in ('train', 'val', 'test'):
            ann = osp.join(root, 'meta', f'{split}.txt')
            if not osp.isfile(ann):
                continue
            with open(ann) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[1].lstrip('-').isdigit():
                        out[osp.abspath(osp.join(root, split, parts[0]))] = int(parts[1])
    return out


def quantize_model(model: nn.Module, float_onnx: str, int8_onnx: str, calib: Sequence[np.ndarray],
                   pad_multiple: int = 16, **kwargs) -> Dict[str, object]:
    """Quantize a (BN-folded, float) model whose float export is ``float_onnx`` into ``int8_onnx``.

    With ``pad_multiple`` > 0 the bnecks' expansion widths are first rounded up to that multiple
    with zero channels (:func:`mmv3.deploy.fuse.pad_channels`: the same function, faster uint8
    depthwise kernels) and the padded copy is exported and quantized; ``float_onnx`` is used as is
    when nothing needs padding. ``kwargs`` go to :func:`mmv3.deploy.quantize.quantize_onnx`.

    Returns:
        dict: ``path``, ``num_calib``, ``padded_blocks``, ``ops`` of the int8 graph.
    """
    import copy
    import os
    from .fuse import pad_channels
    from .quantize import quantize_onnx
    source, padded = float_onnx, 0
    if pad_multiple:
        model_p = copy.deepcopy(model).eval()
        padded = pad_channels(model_p, pad_multiple)
        if padded:
            import onnx
            m = onnx.load(float_onnx, load_external_data=False)
            dims = m.graph.input[0].type.tensor_type.shape.dim
            dynamic = any(not d.HasField('dim_value') for d in dims)
            source = (int8_onnx[:-len('.onnx')] if int8_onnx.endswith('.onnx') else int8_onnx) + '.padded.onnx'
            export_onnx(model_p, source, tuple(calib[0].shape), [o.name for o in m.graph.output], dynamic=dynamic,
                        input_name=m.graph.input[0].name)
    try:
        quantize_onnx(source, int8_onnx, calib, **kwargs)
    finally:
        if source != float_onnx and osp.exists(source):
            os.remove(source)
    return dict(path=int8_onnx, num_calib=len(calib), padded_blocks=padded, ops=onnx_op_counts(int8_onnx))


def quantize(prep: Prepared, float_onnx: str, int8_onnx: str, calib_dir: str, eval_dir: Optional[str] = None,
             num_calib: int = 32, num_eval: Optional[int] = None, quant_format: str = 'QOperator',
             per_channel: bool = True, activation_type: str = 'uint8', calibrate_method: str = 'minmax',
             pad_multiple: int = 16, int8_hard_sigmoid: bool = True, float_stem: bool = True) -> Dict[str, object]:
    """Quantize ``prep``'s model (exported to ``float_onnx``) with images from ``calib_dir``; agreement with
    the float model on ``eval_dir``.

    Images used for calibration are excluded from the evaluation set when both folders are the same.
    See :func:`quantize_model` and :func:`mmv3.deploy.quantize.quantize_onnx` for the options.

    Returns:
        dict: ``path``, ``num_calib``, ``padded_blocks``, ``agreement`` (see
        :func:`mmv3.deploy.quantize.agreement`), ``ops`` of the int8 graph.
    """
    from .quantize import agreement
    calib_paths, calib, _ = read_images(prep, calib_dir, num_calib)
    result = quantize_model(prep.deploy_model, float_onnx, int8_onnx, calib, pad_multiple, per_channel=per_channel,
                            quant_format=quant_format, activation_type=activation_type,
                            calibrate_method=calibrate_method, int8_hard_sigmoid=int8_hard_sigmoid,
                            float_stem=float_stem)
    if eval_dir:
        same = osp.abspath(eval_dir) == osp.abspath(calib_dir)
        _, arrays, labels = read_images(prep, eval_dir, num_eval, calib_paths if same else ())
        fs, qs = ort_session(float_onnx), ort_session(int8_onnx)
        f_outs = [run_ort(fs, a) for a in arrays]
        q_outs = [run_ort(qs, a) for a in arrays]
        result['agreement'] = agreement(prep.task, f_outs, q_outs, labels)
    return result


__all__ = ['Prepared', 'prepare', 'export', 'quantize', 'quantize_model', 'read_images', 'count_bn', 'run_torch']
