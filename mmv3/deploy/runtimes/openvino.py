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
- ``ov-int8``: mmv3's int8 recipe (:func:`quantize_openvino`): ``nncf.quantize`` of the f32 IR over
  the calibration inputs with asymmetric activations (``preset='mixed'``), activation ranges from the
  global min / max over the calibration set (NNCF's default averages per-image minima / maxima and
  clips the rest), and no quantization points at the residual ``Add`` / SE ``Multiply`` inputs (those
  run in bf16 between int8 convolutions); the layers left in float run with the ``float_precision``
  hint (bf16 by default).
- ``ov-int8-nncf``: NNCF's defaults on the same IR (``preset='performance'``: symmetric activations;
  averaged ranges; every ``Add`` / ``Multiply`` input quantized), for comparison in the same run.

The exported IR runs every ``HardSigmoid(alpha=1/6, beta=1/2)`` (the SE gates) as OpenVINO's
``HSigmoid`` (:func:`hard_sigmoid_to_hsigmoid`): the CPU plugin has no JIT kernel for ``HardSigmoid``
and ran each gate as a reference f32 ``Math`` node with two reorders around it; ``HSigmoid`` is fused
into the SE convolution.

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


#: ``activation_range`` of :func:`quantize_openvino` -> NNCF range estimator (None: NNCF's default)
ACTIVATION_RANGES = ('minmax', 'mean_minmax')
#: op types whose inputs mmv3's recipe leaves unquantized unless ``int8_eltwise`` (residual adds, SE multiplies)
ELTWISE_TYPES = ('Add', 'Multiply')


def quantize_openvino(float_path: str, out_path: str, calib: Sequence[np.ndarray], preset: str = 'mixed',
                      activation_range: str = 'minmax', int8_eltwise: bool = False, fast_bias_correction: bool = True,
                      ignored_types: Sequence[str] = (), ignored_names: Sequence[str] = (),
                      keep_float: Sequence[str] = ()) -> Dict[str, object]:
    """NNCF post-training int8 quantization of the IR ``float_path`` into ``out_path`` (``.xml``).

    The defaults are mmv3's recipe, measured on the ``make demo-int8`` stand-ins (README, "Agreement with
    the float model"): NNCF's own defaults (``preset='performance', activation_range='mean_minmax',
    int8_eltwise=True``) gave 79.6-94.8% top-1 agreement with f32 on the three seeds whose stand-in trained
    (0-2), this recipe 99.2-100% (on the two that did not, 27-42% float top-1, every int8 recipe stays
    below 90%).

    Args:
        float_path (str): Float IR (or ONNX) file.
        out_path (str): Where the int8 IR goes.
        calib (list[np.ndarray]): Calibration inputs (each ``(1, 3, H, W)``).
        preset (str): ``'mixed'`` (asymmetric activations: h-swish outputs span [-0.375, max]) or
            ``'performance'`` (symmetric activations, NNCF's default). Default: ``'mixed'``.
        activation_range (str): ``'minmax'`` (global min / max over the calibration set) or
            ``'mean_minmax'`` (NNCF's default: the mean of per-image minima / maxima). Default: ``'minmax'``.
        int8_eltwise (bool): Also quantize the inputs of ``Add`` / ``Multiply`` (NNCF's default). With
            False they are ignored (:data:`ELTWISE_TYPES`): a residual sum or an SE product is computed
            from the bf16 output of the conv before it and quantized once for the next conv. Default: False.
        fast_bias_correction (bool): NNCF's fast bias correction (False: the slower full one). Default: True.
        ignored_types (list[str]): OpenVINO op types NNCF leaves in float (e.g. ``['GroupConvolution']``
            = depthwise convolutions). Default: none.
        ignored_names (list[str]): Node names left in float. Default: none.
        keep_float (list[str]): ``fnmatch`` patterns of node names left in float (e.g. ``'*/layer16/*'``;
            a pattern that matches nothing is refused). Default: none.

    Returns:
        dict: ``path``, ``num_calib``, ``ops`` (op-type histogram of the int8 IR).
    """
    import fnmatch

    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet
    presets = {'performance': nncf.QuantizationPreset.PERFORMANCE, 'mixed': nncf.QuantizationPreset.MIXED}
    if preset not in presets:
        raise ToolError(f'NNCF preset must be one of {", ".join(presets)}, got {preset!r}')
    if activation_range not in ACTIVATION_RANGES:
        raise ToolError(f'activation range must be one of {", ".join(ACTIVATION_RANGES)}, got {activation_range!r}')
    if not calib:
        raise ToolError('no calibration images: pass a folder with images (--calib-dir)')
    import logging
    logging.getLogger('nncf').setLevel(logging.ERROR)
    model = ov.Core().read_model(float_path)
    names = list(ignored_names)
    if keep_float:
        all_names = [op.get_friendly_name() for op in model.get_ordered_ops()]
        for pattern in keep_float:
            hits = [n for n in all_names if fnmatch.fnmatchcase(n, pattern)]
            if not hits:
                example = next((op.get_friendly_name() for op in model.get_ordered_ops()
                                if op.get_type_name() == 'Convolution'), '')
                raise ToolError(f'keep-float pattern {pattern!r} matches no node of {float_path} '
                                f'(fnmatch on node names such as {example!r})')
            names += [h for h in hits if h not in names]
    types = list(ignored_types) + ([] if int8_eltwise else [t for t in ELTWISE_TYPES if t not in ignored_types])
    kwargs = {}
    if types or names:
        kwargs['ignored_scope'] = nncf.IgnoredScope(types=types, names=names, validate=False)
    if activation_range == 'minmax':
        kwargs['advanced_parameters'] = AdvancedQuantizationParameters(
            activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX)
    q = nncf.quantize(model, nncf.Dataset(list(calib)), preset=presets[preset], subset_size=len(calib),
                      fast_bias_correction=fast_bias_correction, target_device=nncf.TargetDevice.CPU, **kwargs)
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    ov.save_model(q, out_path, compress_to_fp16=False)
    return dict(path=out_path, num_calib=len(calib), ops=ov_op_counts(out_path))


#: NNCF's own defaults (mode ``ov-int8-nncf``), as options of :func:`quantize_openvino`
NNCF_DEFAULTS = dict(preset='performance', activation_range='mean_minmax', int8_eltwise=True)


def hard_sigmoid_to_hsigmoid(model) -> int:
    """Replace every ``HardSigmoid(alpha=1/6, beta=1/2)`` of an ``openvino.Model`` by ``HSigmoid`` (same
    function: ``relu6(x + 3) / 6``), in place; returns the number replaced.

    The ONNX ``HardSigmoid`` of the SE gates becomes an opset-1 ``HardSigmoid`` in OpenVINO, which the CPU
    plugin runs as a reference f32 ``Math`` node with a reorder before and after it (8 of each on
    V3-Large, seen in ``compiled_model.get_runtime_model()``); ``HSigmoid`` is a JIT eltwise op fused into
    the SE's second convolution. Measured on V3-Large, 1 thread: bf16 0.648 -> 0.615 of ORT float.
    """
    from openvino import opset8
    count = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != 'HardSigmoid':
            continue
        consts = [op.input_value(i).get_node() for i in (1, 2)]
        if any(c.get_type_name() != 'Constant' for c in consts):
            continue
        alpha, beta = (float(np.asarray(c.get_data()).ravel()[0]) for c in consts)
        if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
            continue
        new = opset8.hsigmoid(op.input_value(0))
        new.set_friendly_name(op.get_friendly_name())
        op.output(0).replace(new.output(0))
        count += 1
    return count


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
    modes = {'ov': dict(precision='fp32'), 'ov-bf16': dict(precision='bf16'), 'ov-int8': dict(precision='int8'),
             'ov-int8-nncf': dict(precision='int8', tag='int8-nncf', quant=NNCF_DEFAULTS)}
    suffix = '.xml'
    requires = ('openvino', 'nncf')
    pip_name = "'mmv3[optional]' (or: pip install openvino==2026.4.1 nncf==3.4.0)"
    atol, rtol = 1e-4, 1e-3

    def export(self, model, path, input_shape, output_names, dynamic=False, opset=DEFAULT_OPSET, hsigmoid=True):
        """BN-folded ONNX (temporary) -> ``openvino.convert_model`` -> IR ``path`` (f32 weights); with
        ``hsigmoid`` the SE gates' ``HardSigmoid`` become ``HSigmoid`` (:func:`hard_sigmoid_to_hsigmoid`)."""
        import openvino as ov
        if not path.endswith('.xml'):
            raise ToolError(f'an OpenVINO IR path ends with .xml, got {path!r}')
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix='.onnx', dir=osp.dirname(osp.abspath(path)))
        os.close(fd)
        try:
            export_onnx(model, tmp, input_shape, output_names, dynamic=dynamic, opset=opset)
            ir = ov.convert_model(tmp)
            if hsigmoid:
                hard_sigmoid_to_hsigmoid(ir)
            ov.save_model(ir, path, compress_to_fp16=False)
        finally:
            for p in (tmp, tmp + '.data'):
                if osp.exists(p):
                    os.remove(p)
        return path

    def quantize(self, model, float_path, out_path, calib, **options):
        """:func:`quantize_openvino` (``preset``, ``activation_range``, ``int8_eltwise``, ``fast_bias_correction``,
        ``ignored_types``, ``ignored_names``, ``keep_float``)."""
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
