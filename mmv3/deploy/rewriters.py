"""Export-time rewrites: ONNX-friendly versions of functions whose eager form cannot export dynamically.

Like mmdeploy's function rewriters, these replace a function only while ``torch.onnx.export`` traces
the model; eager PyTorch keeps the original. The ONNX Runtime check in :mod:`.onnx_export` compares
the exported graph against the *original* eager model, so every rewrite is verified numerically.

- ``mmv3.models.decode_heads.lraspp_head.gate_pool`` (LR-ASPP's 49x49 / stride (16, 20) average pool,
  with the kernel clamped to the feature size): ONNX's ``AveragePool`` needs a constant kernel, so a
  dynamic-size export computes the same pooling from an integral image (``CumSum`` in float64 and
  ``Gather`` at the window corners). The kernel clamp ``min(k, H)`` then follows the input size, so the
  exported model is exact for every input size, including feature maps smaller than 49x49.
"""
import contextlib
import importlib
from typing import Sequence

import torch
import torch.nn.functional as F


def gate_pool_integral(x: torch.Tensor, kernel_size: Sequence[int], stride: Sequence[int]) -> torch.Tensor:
    """Average pooling (VALID, kernel clamped to the feature size) written with shape-dynamic ops."""
    shape = torch._shape_as_tensor(x)
    h, w = shape[2], shape[3]
    kh = torch.clamp(h, max=int(kernel_size[0]))
    kw = torch.clamp(w, max=int(kernel_size[1]))
    s = F.pad(x.double(), (1, 0, 1, 0)).cumsum(2).cumsum(3)  # s[i, j] = sum of x[:i, :j]
    top = torch.arange(0, h - kh + 1, int(stride[0]))
    left = torch.arange(0, w - kw + 1, int(stride[1]))
    bottom, right = top + kh, left + kw
    rows_t, rows_b = s.index_select(2, top), s.index_select(2, bottom)
    total = (rows_b.index_select(3, right) - rows_t.index_select(3, right) - rows_b.index_select(3, left) +
             rows_t.index_select(3, left))
    return (total / (kh * kw).double()).to(x.dtype)


_REWRITES = [
    ('mmv3.models.decode_heads.lraspp_head', 'gate_pool', gate_pool_integral),
]


@contextlib.contextmanager
def export_rewrites(enabled: bool = True):
    """Swap in the ONNX-friendly functions for the duration of an export."""
    saved = []
    try:
        if enabled:
            for mod_name, attr, fn in _REWRITES:
                try:
                    mod = importlib.import_module(mod_name)
                except ImportError:
                    continue
                if hasattr(mod, attr):
                    saved.append((mod, attr, getattr(mod, attr)))
                    setattr(mod, attr, fn)
        yield
    finally:
        for mod, attr, orig in saved:
            setattr(mod, attr, orig)
