"""Deployment runtimes, one registered class each (:data:`mmv3.registry.RUNTIMES`); see :mod:`.base`.

- ``torch`` (:mod:`.torch`): modes ``eager``, ``fused``.
- ``onnxruntime`` (:mod:`.onnxruntime`): modes ``ort`` (float), ``ort-int8``.
- ``openvino`` (:mod:`.openvino`): modes ``ov`` (f32), ``ov-bf16`` (bf16 hint), ``ov-int8`` (NNCF).
- ``litert`` (:mod:`.litert`): modes ``litert`` (float ``.tflite``), ``litert-int8``; XNNPACK delegate.
"""
from .base import BaseRuntime, all_modes, build_runtime, compare_outputs, run_torch, verify
from .torch import TorchRuntime  # noqa: I001  (registration order = the benchmark's mode order)
from .onnxruntime import OnnxRuntime, ort_session, quantize_model, quantize_onnx, run_ort
from .openvino import OpenVinoRuntime, ov_compile, quantize_openvino
from .litert import LiteRTRuntime

__all__ = [
    'BaseRuntime', 'all_modes', 'build_runtime', 'compare_outputs', 'run_torch', 'verify', 'OnnxRuntime',
    'ort_session', 'quantize_model', 'quantize_onnx', 'run_ort', 'TorchRuntime',
    'OpenVinoRuntime', 'ov_compile', 'quantize_openvino', 'LiteRTRuntime'
]
