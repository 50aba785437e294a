"""LiteRT (formerly TensorFlow Lite) with the XNNPACK delegate: float and int8 ``.tflite``.

The paper timed MobileNetV3 with TFLite on one core of a Pixel phone; LiteRT + XNNPACK is that runtime
family on this CPU. Two halves, two environments:

- **runtime** (this process, numpy < 2): ``ai-edge-litert`` 2.3.0's ``Interpreter`` with
  ``num_threads = threads``; its default op resolver applies the XNNPACK delegate (modes ``litert`` and
  ``litert-int8``; ``load(..., xnnpack=False)`` runs TFLite's own kernels, for analysis);
- **conversion** (a subprocess, numpy 2): ``litert-torch`` 0.10.0 (PyTorch -> ``.tflite``) and
  ``ai-edge-quantizer`` 0.10.0 run by :mod:`mmv3.deploy.litert_convert` in the environment of
  :mod:`mmv3.deploy.litert_env` (``python tools/deployment/install_litert_env.py``). The model crosses as a
  ``torch.export`` program written here with the same torch.

Export: the BN-folded model (tensor in, tuple out) -> ``torch.export`` -> ``litert_torch.convert``;
NCHW float32 input as the other runtimes (the converter puts one ``TRANSPOSE`` to NHWC first, which
XNNPACK runs), outputs in the PyTorch order (detection: the raw head outputs, as the ONNX path).
**Fixed input size**: a ``.tflite`` here is exported for one ``(N, C, H, W)``, segmentation too (litert-torch
accepts ``torch.export`` dynamic dims; not tried: another size is another export).

int8 (:meth:`LiteRTRuntime.quantize`), ``quantizer=``:

- ``'aeq'`` (default): ai-edge-quantizer's static int8 recipe on the float ``.tflite`` (every op int8,
  per-channel weights, activation ranges = min/max over all calibration inputs instead of its default
  moving average of per-input ranges, which clips); output channels with all-zero weights get their
  bias back (:func:`~mmv3.deploy.tflite_graph.restore_dead_channels`). Chosen because on the trained
  stand-in it agreed best with the float model (99.2% top-1 on 250 held-out images vs 98.0-98.8% for
  PT2E) and quantizes in seconds (PT2E's histogram observers: ~1 minute for V3-Large);
- ``'pt2e'``: litert-torch's PT2E quantizer on the exported program (per-channel symmetric int8
  weights, int8 activations from histogram observers), converted with ``fold_quantize=False``; its
  residual adds and hard-sigmoids stay float between dequantize / quantize pairs.

Both leave h-swish as an **int8** ``HARD_SWISH``, which the XNNPACK delegate does not take (float only):
every one runs on TFLite's int8 kernel and splits the delegated graph (V3-Large: 22 XNNPACK partitions),
which is why LiteRT int8 was slower than LiteRT float. ``hard_swish=`` picks the fix
(:mod:`mmv3.deploy.tflite_graph`): ``'float'`` (default: dequantize / float h-swish / quantize, all in
XNNPACK), ``'int8'`` (three int8 ops), ``'keep'`` (as the converter wrote it; benchmark mode
``litert-int8-asis``). ``float_io=True`` (default) puts the input quantize / output dequantize inside the
graph, so int8 models take and return float32.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Sequence

import numpy as np

from mmv3.apis.errors import ToolError
from mmv3.registry import RUNTIMES

from .base import BaseRuntime

QUANTIZERS = ('pt2e', 'aeq')
HARD_SWISH = ('float', 'int8', 'keep')


def export_program(model, path: str, input_shape: Sequence[int]) -> str:
    """``torch.export`` of ``model`` on a zero input of ``input_shape``, saved to ``path`` (``.pt2``)."""
    import torch
    with torch.no_grad():
        ep = torch.export.export(model.eval(), (torch.zeros(*input_shape), ))
    torch.export.save(ep, path)
    return path


class _Handle:
    """An allocated interpreter, its input and its outputs in the model's output order."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        self.input = interpreter.get_input_details()[0]
        sigs = interpreter._get_full_signature_list()
        details = {d['index']: d for d in interpreter.get_output_details()}
        if sigs:
            outs = next(iter(sigs.values()))['outputs']
            names = sorted(outs, key=lambda n: (len(n), n))  # output_0, output_1, ..., output_10
            self.outputs = [details[outs[n]] for n in names]
        else:
            self.outputs = list(details.values())


@RUNTIMES.register_module(name='litert')
class LiteRTRuntime(BaseRuntime):
    """LiteRT + XNNPACK on the CPU: modes ``litert`` (float32 ``.tflite``) and ``litert-int8``.

    ``litert-int8-asis`` is the int8 model with h-swish as the converter wrote it (``hard_swish='keep'``,
    TFLite's int8 ``HARD_SWISH`` outside XNNPACK): the diagnostic mode of issue 16's item 3.

    Args:
        threads (int): The interpreter's ``num_threads`` (XNNPACK's thread pool). Default: 1.
    """

    runtime_name = 'litert'
    modes = {'litert': dict(precision='fp32'), 'litert-int8': dict(precision='int8'),
             'litert-int8-asis': dict(precision='int8', tag='int8-asis', quant=dict(hard_swish='keep'))}
    suffix = '.tflite'
    requires = ('ai_edge_litert', )
    pip_name = "'mmv3[optional]' (or: pip install ai-edge-litert==2.3.0)"
    atol, rtol = 1e-4, 1e-3
    supports_dynamic = False

    def export(self, model, path, input_shape, output_names, dynamic=False, **options):
        """BN-folded model -> ``torch.export`` program (temporary) -> litert-torch -> ``path``."""
        from ..litert_env import converter_python, run_converter
        if dynamic:
            raise ToolError('LiteRT export takes a fixed input size (XNNPACK plans one shape): pass --static '
                            '(and --shape H W)')
        if not path.endswith('.tflite'):
            raise ToolError(f'a LiteRT model path ends with .tflite, got {path!r}')
        converter_python()  # refuse (one line) before any work when the converter environment is missing
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with tempfile.TemporaryDirectory(dir=osp.dirname(osp.abspath(path))) as tmp:
            program = export_program(model, osp.join(tmp, 'model.pt2'), input_shape)
            run_converter(['float', '--program', program, '--out', path])
        n_out = len(_Handle(self._interpreter(path)).outputs)
        if n_out != len(output_names):
            raise ToolError(f'the LiteRT model has {n_out} outputs, PyTorch {len(output_names)}')
        return path

    def quantize(self, model, float_path, out_path, calib, quantizer: str = 'aeq', per_channel: bool = True,
                 hard_swish: str = 'float', float_io: bool = True, calib_update: str = 'minmax') -> Dict[str, object]:
        """int8 ``.tflite`` of ``model`` (whose float export is ``float_path``) calibrated on ``calib``.

        Args:
            quantizer (str): ``'aeq'`` (ai-edge-quantizer on ``float_path``) or ``'pt2e'`` (litert-torch
                PT2E on the program). Default: ``'aeq'``.
            per_channel (bool): Per-output-channel int8 weights. Default: True.
            hard_swish (str): ``'float'``, ``'int8'`` or ``'keep'`` (see the module docstring). Default: 'float'.
            float_io (bool): float32 input / output with the (de)quantization in the graph. Default: True.
            calib_update (str): aeq: ``'minmax'`` (range over all inputs) or ``'moving_average'``.

        Returns:
            dict: ``path``, ``num_calib``, ``quantizer``, ``hard_swish_rewritten``, ``ops`` (op histogram,
            ``OP(int8)`` marks int8 ops), ``xnnpack`` (:func:`~mmv3.deploy.tflite_graph.xnnpack_partitions`).
        """
        from .. import tflite_graph as tg
        from ..litert_env import converter_python, run_converter
        if quantizer not in QUANTIZERS:
            raise ToolError(f'LiteRT quantizer must be one of {", ".join(QUANTIZERS)}, got {quantizer!r}')
        if hard_swish not in HARD_SWISH:
            raise ToolError(f'LiteRT hard_swish must be one of {", ".join(HARD_SWISH)}, got {hard_swish!r}')
        if not calib:
            raise ToolError('no calibration images: pass a folder with images (--calib-dir)')
        converter_python()
        os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
        with tempfile.TemporaryDirectory(dir=osp.dirname(osp.abspath(out_path))) as tmp:
            cpath = osp.join(tmp, 'calib.npy')
            np.save(cpath, np.concatenate([np.asarray(c, np.float32) for c in calib]))
            raw = osp.join(tmp, 'raw.tflite')
            if quantizer == 'pt2e':
                program = export_program(model, osp.join(tmp, 'model.pt2'), tuple(calib[0].shape))
                args = ['pt2e', '--program', program]
            else:
                args = ['aeq', '--float', float_path, '--calib-update', calib_update]
            run_converter(args + ['--calib', cpath, '--out', raw] + ([] if per_channel else ['--per-tensor']))
            m = tg.read_model(raw)
            dead = tg.restore_dead_channels(m, tg.read_model(float_path)) if quantizer == 'aeq' else 0
            n_hs = 0
            if hard_swish == 'float':
                n_hs = tg.hard_swish_to_float(m)
            elif hard_swish == 'int8':
                n_hs = tg.hard_swish_to_int8_ops(m)
            if float_io:
                tg.float_io(m)
            tg.write_model(m, out_path)
        return dict(path=out_path, num_calib=len(calib), quantizer=quantizer, hard_swish_rewritten=n_hs,
                    dead_channels_fixed=dead,
                    ops=tg.op_counts(out_path), xnnpack=tg.xnnpack_partitions(out_path, self.threads))

    def _interpreter(self, path, xnnpack: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        it = Interpreter(model_path=path, num_threads=self.threads, experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        return it

    def load(self, path, precision: str = 'fp32', xnnpack: bool = True, **mode_options):
        """An allocated interpreter of ``path`` (XNNPACK delegate unless ``xnnpack=False``)."""
        if not osp.isfile(path):
            raise ToolError(f'LiteRT model not found: {path}')
        return _Handle(self._interpreter(path, xnnpack))

    def run(self, handle, x):
        it = handle.interpreter
        d = handle.input
        if d['dtype'] != np.float32:  # an int8-input model (float_io=False): quantize as the graph expects
            s, z = d['quantization']
            x = np.clip(np.round(x / s) + z, -128, 127).astype(d['dtype'])
        it.set_tensor(d['index'], np.ascontiguousarray(x))
        it.invoke()
        outs = []
        for o in handle.outputs:
            y = it.get_tensor(o['index'])
            if o['dtype'] != np.float32:
                s, z = o['quantization']
                y = (y.astype(np.float32) - z) * s
            outs.append(np.array(y))
        return outs

    def bind(self, handle, x):
        """Input set once; each call runs the graph and reads the outputs (as ONNX Runtime's ``run``)."""
        it = handle.interpreter
        if handle.input['dtype'] != np.float32:
            return lambda: self.run(handle, x)
        it.set_tensor(handle.input['index'], np.ascontiguousarray(x))
        idx = [o['index'] for o in handle.outputs]

        def call():
            it.invoke()
            return [it.get_tensor(i) for i in idx]
        return call
