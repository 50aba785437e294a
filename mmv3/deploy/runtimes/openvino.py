"""OpenVINO (CPU plugin): f32, the bf16 inference-precision hint (AMX), and NNCF int8.

Artifact: OpenVINO IR (``.xml`` + ``.bin``). :meth:`OpenVinoRuntime.export` writes the BN-folded ONNX
graph of :func:`mmv3.deploy.onnx_export.export_onnx` to a temporary file, converts it with
``openvino.convert_model`` and saves the IR with f32 weights (``compress_to_fp16=False``), so the IR is
the same graph ONNX Runtime runs and the deployable file needs no ONNX parser. (``core.read_model``
would also read the ``.onnx`` directly; the IR keeps the int8 artifact in the same format as the float one.)

Modes (:attr:`OpenVinoRuntime.modes`):

- ``ov``: ``INFERENCE_PRECISION_HINT=f32`` (the CPU plugin's default on AMX machines is bf16, so it
  is set explicitly); checked against PyTorch like every float export (:func:`.base.verify`).
- ``ov-bf16``: the same IR with ``INFERENCE_PRECISION_HINT=bf16``: convolutions and matmuls run on
  AMX-BF16 (relative logit error ~1e-3, not within the float tolerance: its accuracy is reported as
  top-1 / pixel agreement, :func:`mmv3.deploy.metrics.agreement`).
- ``ov-int8``: ``nncf.quantize`` post-training quantization of the f32 IR over the calibration inputs
  (``preset='performance'``: symmetric int8 activations; bias correction), the layers NNCF leaves in
  float run with the ``float_precision`` hint (bf16 by default).

Every mode compiles with ``INFERENCE_NUM_THREADS = threads``, ``NUM_STREAMS=1`` and the ``LATENCY``
performance hint. Install: ``pip install openvino==2026.4.1 nncf==3.4.0`` (with numpy<2 kept; in
``requirements/optional.txt``).
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np

from mmv3.apis.errors import ToolError
from mmv3.registry import RUNTIMES

from ..onnx_export import DEFAULT_OPSET, export_onnx
from .base import BaseRuntime

#: mmv3 precision name -> OpenVINO ``INFERENCE_PRECISION_HINT``
PRECISION_HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'f16': 'f16'}


def ov_compile(path_or_model, threads: int = 1, precision: str = 'fp32'):
    """Compile an IR / ONNX file (or an ``openvino.Model``) for the CPU with ``threads`` threads.

    Args:
        path_or_model (str | openvino.Model): ``.xml`` / ``.onnx`` path or a model.
        threads (int): ``INFERENCE_NUM_THREADS``. Default: 1.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'f16'``: the inference-precision hint of the
            layers that are not int8. Default: ``'fp32'``.
    """
    import openvino as ov
    if precision not in PRECISION_HINTS:
        raise ToolError(f'OpenVINO precision must be one of {", ".join(PRECISION_HINTS)}, got {precision!r}')
    core = ov.Core()
    model = core.read_model(path_or_model) if isinstance(path_or_model, str) else path_or_model
    config = {'INFERENCE_NUM_THREADS': int(threads), 'NUM_STREAMS': 1, 'PERFORMANCE_HINT': 'LATENCY',
              'INFERENCE_PRECISION_HINT': PRECISION_HINTS[precision]}
    return core.compile_model(model, 'CPU', config)


def quantize_openvino(float_path: str, out_path: str, calib: Sequence[np.ndarray], preset: str = 'performance',
                      fast_bias_correction: bool = True, ignored_types: Sequence[str] = (),
                      ignored_names: Sequence[str] = ()) -> Dict[str, object]:
    """NNCF post-training int8 quantization of the IR ``float_path`` into ``out_path`` (``.xml``).

    Args:
        float_path (str): Float IR (or ONNX) file.
        out_path (str): Where the int8 IR goes.
        calib (list[np.ndarray]): Calibration inputs (each ``(1, 3, H, W)``).
        preset (str): ``'performance'`` (symmetric activations) or ``'mixed'`` (asymmetric
            activations). Default: ``'performance'``.
        fast_bias_correction (bool): NNCF's fast bias correction (False: the slower full one). Default: True.
        ignored_types (list[str]): OpenVINO op types NNCF leaves in float (e.g. ``['GroupConvolution']``
            = depthwise convolutions). Default: none.
        ignored_names (list[str]): Node names left in float. Default: none.

    Returns:
        dict: ``path``, ``num_calib``, ``ops`` (op-type histogram of the int8 IR).
    """
    import nncf
    import openvino as ov
    presets = {'performance': nncf.QuantizationPreset.PERFORMANCE, 'mixed': nncf.QuantizationPreset.MIXED}
    if preset not in presets:
        raise ToolError(f'NNCF preset must be one of {", ".join(presets)}, got {preset!r}')
    if not calib:
        raise ToolError('no calibration images: pass a folder with images (--calib-dir)')
    import logging
    logging.getLogger('nncf').setLevel(logging.ERROR)
    model = ov.Core().read_model(float_path)
    ignored = None
    if ignored_types or ignored_names:
        ignored = nncf.IgnoredScope(types=list(ignored_types), names=list(ignored_names), validate=False)
    kwargs = dict(ignored_scope=ignored) if ignored is not None else {}
    q = nncf.quantize(model, nncf.Dataset(list(calib)), preset=presets[preset], subset_size=len(calib),
                      fast_bias_correction=fast_bias_correction, target_device=nncf.TargetDevice.CPU, **kwargs)
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    ov.save_model(q, out_path, compress_to_fp16=False)
    return dict(path=out_path, num_calib=len(calib), ops=ov_op_counts(out_path))


def ov_op_counts(path: str) -> Dict[str, int]:
    """Op-type histogram of an OpenVINO model file (``FakeQuantize`` = int8 quantization points)."""
    import openvino as ov
    counts: Dict[str, int] = {}
    for op in ov.Core().read_model(path).get_ordered_ops():
        t = op.get_type_name()
        counts[t] = counts.get(t, 0) + 1
    return dict(sorted(counts.items()))


@RUNTIMES.register_module(name='openvino')
class OpenVinoRuntime(BaseRuntime):
    """OpenVINO on the CPU: modes ``ov`` (f32), ``ov-bf16`` (bf16 hint, AMX) and ``ov-int8`` (NNCF).

    Args:
        threads (int): ``INFERENCE_NUM_THREADS``. Default: 1.
    """

    runtime_name = 'openvino'
    modes = {'ov': dict(precision='fp32'), 'ov-bf16': dict(precision='bf16'), 'ov-int8': dict(precision='int8')}
    suffix = '.xml'
    requires = ('openvino', 'nncf')
    pip_name = "'mmv3[optional]' (or: pip install openvino==2026.4.1 nncf==3.4.0)"
    atol, rtol = 1e-4, 1e-3

    def export(self, model, path, input_shape, output_names, dynamic=False, opset=DEFAULT_OPSET):
        """BN-folded ONNX (temporary) -> ``openvino.convert_model`` -> IR ``path`` (f32 weights)."""
        import openvino as ov
        if not path.endswith('.xml'):
            raise ToolError(f'an OpenVINO IR path ends with .xml, got {path!r}')
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix='.onnx', dir=osp.dirname(osp.abspath(path)))
        os.close(fd)
        try:
            export_onnx(model, tmp, input_shape, output_names, dynamic=dynamic, opset=opset)
            ov.save_model(ov.convert_model(tmp), path, compress_to_fp16=False)
        finally:
            for p in (tmp, tmp + '.data'):
                if osp.exists(p):
                    os.remove(p)
        return path

    def quantize(self, model, float_path, out_path, calib, **options):
        """:func:`quantize_openvino` (``preset``, ``fast_bias_correction``, ``ignored_types``, ``ignored_names``)."""
        return quantize_openvino(float_path, out_path, calib, **options)

    def load(self, path, precision: str = 'fp32', float_precision: Optional[str] = None, **mode_options):
        """Compile ``path``; ``precision='int8'`` runs the int8 IR with the ``float_precision`` hint
        (default bf16) for the layers left in float."""
        if precision == 'int8':
            precision = float_precision or 'bf16'
        return _Handle(ov_compile(path, self.threads, precision))

    def run(self, handle, x):
        res = handle.request.infer({0: x})
        return [np.array(res[o]) for o in handle.compiled.outputs]

    def bind(self, handle, x):
        req = handle.compiled.create_infer_request()
        import openvino as ov
        req.set_input_tensor(ov.Tensor(np.ascontiguousarray(x)))
        return req.infer


class _Handle:
    """A compiled model and one infer request (what :meth:`OpenVinoRuntime.run` uses)."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.request = compiled.create_infer_request()
