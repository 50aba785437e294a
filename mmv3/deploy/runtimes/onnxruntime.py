"""ONNX Runtime (CPU execution provider): float and mmv3's static int8 recipe.

Float: the BN-folded model exported by :func:`mmv3.deploy.onnx_export.export_onnx`, all graph
optimisations, sequential executor, ``threads`` intra-op threads.

int8 (what :meth:`OnnxRuntime.quantize` does):

1. bneck expansion widths padded to multiples of 16 with zero channels
   (:func:`mmv3.deploy.fuse.pad_channels`: the same function; ONNX Runtime's uint8 depthwise
   kernels have a fast path for blocks of 16 channels), the padded copy exported;
2. ``quant_pre_process``: ONNX Runtime's shape inference + graph optimisation of the float model;
3. ``quantize_static`` over the calibration inputs (:mod:`mmv3.deploy.calibration`), MinMax
   calibration, **per-channel** int8 weights (symmetric) and uint8 activations (asymmetric) --
   U8S8, the fast path of ONNX Runtime's x86 kernels (VNNI) -- in **QOperator** format (explicit
   ``QLinearConv``, ``QLinearMul``, ...) or ``QDQ`` format. The 16-channel stem, the conv before a
   classifier's global pooling and the final ``Resize`` of a segmentation model stay in float
   (:func:`mmv3.deploy.graph_passes.float_nodes`);
4. :func:`mmv3.deploy.graph_passes.hard_sigmoid_to_clip` (QOperator): every hard-sigmoid becomes
   one integer ``Clip`` on the producer's uint8 output;
5. :func:`mmv3.deploy.graph_passes.float_output_gemm` (QOperator): a classifier's last ``QGemm``
   writes float logits instead of uint8 ones rounded to the output grid.
"""
import copy
import glob
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch.nn as nn

from mmv3.registry import RUNTIMES

from ..calibration import ImageFolderReader
from ..graph_passes import float_nodes, float_output_gemm, hard_sigmoid_to_clip
from ..onnx_export import DEFAULT_OPSET, export_onnx, onnx_op_counts
from .base import BaseRuntime


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


def run_ort(session, x: np.ndarray) -> List[np.ndarray]:
    """Run an ONNX Runtime session with one input."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: x})


def quantize_onnx(float_path: str, out_path: str, calib_arrays: Sequence[np.ndarray], per_channel: bool = True,
                  quant_format: str = 'QOperator', activation_type: str = 'uint8', calibrate_method: str = 'minmax',
                  input_name: str = 'input', int8_hard_sigmoid: bool = True, float_stem: bool = True,
                  float_last_conv: bool = True, keep_float: Sequence[str] = (), float_output: bool = True) -> str:
    """Post-training static quantization of ``float_path`` into ``out_path``.

    Args:
        float_path (str): Float ONNX model (BN already folded by the exporter).
        out_path (str): Where to write the int8 model.
        calib_arrays (list[np.ndarray]): Calibration inputs.
        per_channel (bool): Per-output-channel weight scales. Default: True.
        quant_format (str): ``'QOperator'`` (explicit ``QLinearConv`` & co.) or ``'QDQ'``
            (Quantize/DequantizeLinear pairs fused by ONNX Runtime at load). Default: ``'QOperator'``.
        activation_type (str): ``'uint8'`` (U8S8, fast on x86) or ``'int8'`` (S8S8). Default: ``'uint8'``.
        calibrate_method (str): ``'minmax'``, ``'entropy'`` or ``'percentile'``. Default: ``'minmax'``.
        int8_hard_sigmoid (bool): Run h-swish's / SE's hard-sigmoid as an integer clip
            (:func:`hard_sigmoid_to_clip`; QOperator only). Default: True.
        float_stem (bool): Keep the stem (the layers before the first one with more than 16 output
            channels: V3's first conv and first bneck, at 1/2 resolution) in float, where ONNX Runtime's
            uint8 kernels are slower than its float ones (see :func:`stem_nodes`). Default: True.
            The final output ``Resize`` of a segmentation model always stays float (:func:`float_nodes`).
        float_last_conv (bool): Keep the conv feeding a classifier's global pooling (and its h-swish) in
            float (:func:`mmv3.deploy.graph_passes.pool_conv_nodes`: V3-Large's 160 -> 960 conv at 7x7,
            where int8 costs the most accuracy; no-op for models without one). Default: True.
        keep_float (list[str]): ``fnmatch`` patterns of node names also left in float
            (:func:`mmv3.deploy.graph_passes.match_nodes`, e.g. ``'*/head/layers.1/*'``). Default: none.
        float_output (bool): A classifier's last ``QGemm`` writes float logits instead of uint8 ones
            (:func:`mmv3.deploy.graph_passes.float_output_gemm`; QOperator only). Default: True.

    Returns:
        str: ``out_path``.
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    formats = {'qdq': QuantFormat.QDQ, 'qoperator': QuantFormat.QOperator}
    acts = {'uint8': QuantType.QUInt8, 'int8': QuantType.QInt8}
    methods = {'minmax': CalibrationMethod.MinMax, 'entropy': CalibrationMethod.Entropy,
               'percentile': CalibrationMethod.Percentile}
    for name, value, allowed in (('quant_format', quant_format, formats), ('activation_type', activation_type, acts),
                                 ('calibrate_method', calibrate_method, methods)):
        if value.lower() not in allowed:
            raise ValueError(f'{name} must be one of {sorted(allowed)}, got {value!r}')
    if not calib_arrays:
        raise ValueError('no calibration images: pass a folder with images (--calib-dir)')

    class _Reader(ImageFolderReader, CalibrationDataReader):
        pass

    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    pre_path = out_path[:-len('.onnx')] + '.preprocessed.onnx' if out_path.endswith('.onnx') else out_path + '.pre'
    quant_pre_process(float_path, pre_path, skip_symbolic_shape=False)
    try:
        exclude = float_nodes(pre_path, float_stem, keep_float, float_last_conv)
        quantize_static(
            pre_path, out_path, _Reader(calib_arrays, input_name), quant_format=formats[quant_format.lower()],
            per_channel=per_channel, activation_type=acts[activation_type.lower()], weight_type=QuantType.QInt8,
            calibrate_method=methods[calibrate_method.lower()], nodes_to_exclude=exclude)
    finally:
        for p in glob.glob(pre_path + '*'):
            os.remove(p)
    if int8_hard_sigmoid and quant_format.lower() == 'qoperator':
        hard_sigmoid_to_clip(out_path)
    if float_output and quant_format.lower() == 'qoperator':
        float_output_gemm(out_path)
    return out_path




def quantize_model(model: nn.Module, float_onnx: str, int8_onnx: str, calib: Sequence[np.ndarray],
                   pad_multiple: int = 16, **kwargs) -> Dict[str, object]:
    """Quantize a (BN-folded, float) model whose float export is ``float_onnx`` into ``int8_onnx``.

    With ``pad_multiple`` > 0 the bnecks' expansion widths are first rounded up to that multiple
    with zero channels (:func:`mmv3.deploy.fuse.pad_channels`: the same function, faster uint8
    depthwise kernels) and the padded copy is exported and quantized; ``float_onnx`` is used as is
    when nothing needs padding. ``kwargs`` go to :func:`quantize_onnx`.

    Returns:
        dict: ``path``, ``num_calib``, ``padded_blocks``, ``ops`` of the int8 graph.
    """
    from ..fuse import pad_channels
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


#: ``onnxruntime.quantization.quantize_static``'s own defaults (QDQ, per-tensor weights, int8 activations, MinMax)
#: with none of mmv3's passes: what a user of another model gets from ONNX Runtime's standard tooling (mode
#: ``ort-int8-default``, the int8 path of the peers in issue 16's comparison).
ORT_DEFAULTS = dict(quant_format='QDQ', per_channel=False, activation_type='int8', calibrate_method='minmax',
                    pad_multiple=0, int8_hard_sigmoid=False, float_stem=False, float_last_conv=False,
                    float_output=False, keep_float=())


@RUNTIMES.register_module(name='onnxruntime')
class OnnxRuntime(BaseRuntime):
    """ONNX Runtime on the CPU: float (mode ``ort``), mmv3's int8 recipe (mode ``ort-int8``) and ONNX Runtime's
    default static int8 (mode ``ort-int8-default``, :data:`ORT_DEFAULTS`).

    Args:
        threads (int): Intra-op threads. Default: 1.
    """

    runtime_name = 'onnxruntime'
    modes = {'ort': dict(precision='fp32'), 'ort-int8': dict(precision='int8'),
             'ort-int8-default': dict(precision='int8', tag='int8-default', quant=ORT_DEFAULTS)}
    suffix = '.onnx'
    requires = ('onnx', 'onnxruntime')

    def export(self, model, path, input_shape, output_names, dynamic=False, opset=DEFAULT_OPSET):
        return export_onnx(model, path, input_shape, output_names, dynamic=dynamic, opset=opset)

    def quantize(self, model, float_path, out_path, calib, **options):
        """:func:`quantize_model` (``pad_multiple``, ``per_channel``, ``quant_format``, ``activation_type``,
        ``calibrate_method``, ``int8_hard_sigmoid``, ``float_stem``, ``float_last_conv``, ``keep_float``,
        ``float_output``)."""
        return quantize_model(model, float_path, out_path, calib, **options)

    def load(self, path, **mode_options):
        return ort_session(path, self.threads)

    def run(self, handle, x):
        return run_ort(handle, x)

    def bind(self, handle, x):
        feed = {handle.get_inputs()[0].name: x}
        return lambda: handle.run(None, feed)
