"""Config -> folded model -> runtime artifact (-> int8) in one call; what the thin CLIs in ``tools/`` run.

The runtime is any entry of :data:`mmv3.registry.RUNTIMES` (``--backend``; ONNX Runtime by
default); every export is checked against PyTorch by :func:`mmv3.deploy.runtimes.verify`.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmv3.apis import TaskWrapper, ToolError, build_from_config, default_input_shape

from .fuse import fold_bn
from .runtimes import build_runtime
from .runtimes import verify as verify_runtime


#: the tools' ``--backend`` names -> registered runtimes (:data:`mmv3.registry.RUNTIMES`)
BACKENDS = {'onnx': 'onnxruntime', 'openvino': 'openvino', 'litert': 'litert'}


def runtime_of_backend(backend: str) -> str:
    """``--backend`` name -> registered runtime name, or a one-line refusal."""
    import mmv3.deploy.runtimes  # noqa: F401
    from mmv3.registry import RUNTIMES
    if backend not in BACKENDS:
        raise ToolError(f'--backend must be one of {"|".join(BACKENDS)}, got {backend!r}')
    name = BACKENDS[backend]
    if name not in RUNTIMES.module_dict:  # as build_runtime: Registry.get would try to import a module
        raise ToolError(f'--backend {backend}: the {name!r} runtime is not registered; '
                        f'registered: {", ".join(sorted(RUNTIMES.module_dict))}')
    return name


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
    shape = tuple(shape) if shape else default_input_shape(task)
    if len(shape) != 2 or min(shape) < 1:
        raise ToolError(f'--shape must be two positive integers H W, got {" ".join(map(str, shape))}')
    folded, n = None, 0
    if fold:
        folded, n = fold_bn(model, torch.randn(1, 3, *shape))
    return Prepared(model, folded, cfg, task, tuple(shape), n)


def export(prep: Prepared, out: str, dynamic: bool = False, opset: int = 17, verify: bool = True,
           atol: Optional[float] = None, rtol: Optional[float] = None, extra_shapes: Sequence[Sequence[int]] = (),
           backend: str = 'onnxruntime', **export_options) -> Dict[str, object]:
    """Export ``prep.deploy_model`` to ``out`` with ``backend`` and check the runtime against PyTorch.

    Args:
        prep (Prepared): From :func:`prepare`.
        out (str): Artifact path (``.onnx`` for ONNX Runtime, ``.xml`` for OpenVINO, ``.tflite`` for LiteRT).
        dynamic (bool): Dynamic batch / H / W. Default: False.
        opset (int): ONNX opset (ONNX Runtime; OpenVINO converts that ONNX graph). Default: 17.
        verify (bool): Run the round-trip check. Default: True.
        atol, rtol (float, optional): Pass when ``max|runtime - torch| <= atol + rtol * max|torch|``
            (default: the runtime's tolerance).
        extra_shapes (list): More ``(H, W)`` to verify (dynamic models).
        backend (str): A registered runtime (:data:`BACKENDS` maps the tools' ``--backend`` names).
            Default: ``'onnxruntime'``.
        **export_options: More options of the runtime's ``export`` (e.g. OpenVINO's ``hsigmoid``).

    Returns:
        dict: ``path``, ``outputs`` (names), ``ops`` (op histogram, ONNX), ``num_folded``, ``bn_left``
        (BatchNormalization nodes in the graph), ``checks`` (per shape: diff, ok).
    """
    runtime = build_runtime(backend)
    names = prep.output_names
    shape = (1, 3) + tuple(prep.shape)
    options = dict(opset=opset) if backend in ('onnxruntime', 'openvino') else {}
    options.update(export_options)
    runtime.export(prep.deploy_model, out, shape, names, dynamic=dynamic, **options)
    result = dict(path=out, outputs=names, num_folded=prep.num_folded, checks=[])
    if out.endswith('.onnx'):
        from .onnx_export import onnx_op_counts
        result['ops'] = onnx_op_counts(out)
        result['bn_left'] = result['ops'].get('BatchNormalization', 0)
    elif out.endswith('.xml'):
        from .runtimes.openvino import ov_op_counts
        result['ops'] = ov_op_counts(out)
        result['bn_left'] = result['ops'].get('BatchNormInference', 0)
    elif out.endswith('.tflite'):
        from .tflite_graph import op_counts
        result['ops'] = op_counts(out)
        result['bn_left'] = 0  # (TFLite has no batch-norm op: an unfolded BN would be MUL + ADD)
    if verify:
        shapes = [shape] + [(1, 3) + tuple(s) for s in extra_shapes]
        result['checks'] = verify_runtime(runtime, prep.deploy_model, runtime.load(out), shapes, atol=atol, rtol=rtol)
    return result


def quantize(prep: Prepared, float_path: str, int8_path: str, calib_dir: str, eval_dir: Optional[str] = None,
             num_calib: int = 32, num_eval: Optional[int] = None, backend: str = 'onnxruntime',
             also_precisions: Sequence[str] = (), **options) -> Dict[str, object]:
    """Quantize ``prep``'s model (exported to ``float_path``) with images from ``calib_dir``; agreement
    with the float model on ``eval_dir`` (:func:`mmv3.deploy.metrics.agreement`).

    Images used for calibration are excluded from the evaluation set when both folders are the same.
    ``options`` go to the runtime's ``quantize`` (ONNX Runtime:
    :func:`mmv3.deploy.runtimes.onnxruntime.quantize_model`). ``also_precisions`` (e.g. ``['bf16']`` for
    OpenVINO): the float artifact loaded at that precision is compared on the same images too
    (``agreement_<precision>``).

    Returns:
        dict: ``path``, ``num_calib``, ``padded_blocks``, ``ops``, and ``agreement`` with ``eval_dir``.
    """
    from .calibration import read_eval_images, read_images
    from .metrics import agreement
    runtime = build_runtime(backend)
    calib_paths, calib, _ = read_images(prep, calib_dir, num_calib)
    result = runtime.quantize(prep.deploy_model, float_path, int8_path, calib, **options)
    if eval_dir:
        _, arrays, labels = read_eval_images(prep, eval_dir, calib_dir, calib_paths, num_eval)
        fs, qs = runtime.load(float_path), runtime.load(int8_path, precision='int8')
        f_outs = [runtime.run(fs, a) for a in arrays]
        q_outs = [runtime.run(qs, a) for a in arrays]
        result['agreement'] = agreement(prep.task, f_outs, q_outs, labels)
        for precision in also_precisions:  # e.g. OpenVINO's bf16 hint on the float artifact, same images
            hs = runtime.load(float_path, precision=precision)
            result[f'agreement_{precision}'] = agreement(prep.task, f_outs, [runtime.run(hs, a) for a in arrays],
                                                         labels)
    return result


__all__ = ['BACKENDS', 'Prepared', 'prepare', 'export', 'quantize', 'runtime_of_backend']
