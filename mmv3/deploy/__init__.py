"""Deployment: BN folding, export to a runtime, int8, detection post-processing.

- :mod:`.runtimes`: the runtimes, one registered class each (:data:`mmv3.registry.RUNTIMES`:
  ``torch``, ``onnxruntime``, ``openvino``, ``litert``): export, load, run, optional quantize; :func:`~.runtimes.verify`
  checks any of them against PyTorch.
- :mod:`.pipeline`: config -> folded model -> artifact (-> int8): what ``tools/deployment`` runs.
- :mod:`.fuse`: fold BN into convs (hook-traced pairs, checked); pad bneck widths for int8.
- :mod:`.onnx_export`, :mod:`.rewriters`: the ONNX file (TorchScript exporter, export-time rewrites).
- :mod:`.calibration`: calibration / evaluation images preprocessed as the model expects.
- :mod:`.graph_passes`: the int8 recipe's ONNX graph passes (float nodes, integer hard-sigmoid).
- :mod:`.metrics`: agreement of a reduced-precision model with the float one.
- :mod:`.detection`: documented post-processing of exported detectors.
- :mod:`.tflite_graph`: passes on LiteRT ``.tflite`` files (h-swish that XNNPACK runs, float IO) and which
  ops the XNNPACK delegate takes; :mod:`.litert_env` / :mod:`.litert_convert`: the litert-torch converter
  in its own numpy-2 environment.

Config -> model is :mod:`mmv3.apis`; latency, benchmarks and the paper's tables are
:mod:`mmv3.analysis`. onnx / onnxruntime are imported only when a function needs them.
"""
from .fuse import count_bn, fold_bn
from .runtimes import build_runtime, verify

__all__ = ['count_bn', 'fold_bn', 'build_runtime', 'verify']
