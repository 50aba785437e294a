"""Where int8 costs agreement: weight rounding vs activation rounding, simulated in PyTorch.

A model of 8-bit post-training quantization on the BN-folded float model (no runtime involved): every
``Conv2d`` / ``Linear`` outside ``skip`` gets

- *weights*: symmetric per-output-channel int8 (scale ``max|w| / 127``, as ONNX Runtime's and NNCF's
  per-channel weights), optionally with *bias correction* (``b -= dW E[x]``, ``E[x]`` the per-channel
  mean of the layer's input on the calibration images: the expected output shift of the rounded weights);
- *activations*: its input rounded to asymmetric per-tensor uint8 over a range from the calibration
  images, either their min / max (``'minmax'``, the runtimes' default) or the clip range that minimises
  the squared rounding + clipping error on them (``'mse'``, searched over fractions of the min / max).

:func:`error_sources` runs each variant on evaluation images and reports its top-1 agreement with the
float model (:func:`mmv3.deploy.metrics.agreement`), so a user sees whether weights or activations
cost the agreement before trying recipes; ``tools/analysis_tools/int8_error_sources.py`` is its CLI.
A model, not a runtime: the runtimes' own passes (float stem / last conv / logits, integer gates,
quantized adds) are not reproduced, only ``skip`` is honoured.
"""
import copy
import fnmatch
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

#: clip fractions of the max (and, for inputs with a negative range beyond -1, of the min) tried by ``'mse'``
MSE_FRACTIONS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1)
MSE_NEG_FRACTIONS = (1.0, 0.8, 0.6, 0.4, 0.2)


def quantize_weight(w: torch.Tensor) -> torch.Tensor:
    """``w`` rounded to symmetric per-output-channel int8 (returned dequantized)."""
    dims = tuple(range(1, w.dim()))
    scale = w.abs().amax(dim=dims, keepdim=True) / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (w / scale).round().clamp(-127, 127) * scale


def fake_quant_uint8(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``x`` rounded to asymmetric uint8 over ``[min(lo, 0), max(hi, 0)]`` (the range always holds 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        return torch.zeros_like(x)
    scale = (hi - lo) / 255
    zp = round(-lo / scale)
    return (((x / scale).round() + zp).clamp(0, 255) - zp) * scale


def mse_range(x: torch.Tensor, max_samples: int = 200000, seed: int = 0):
    """The ``(lo, hi)`` among fractions of ``x``'s min / max with the least uint8 squared error on ``x``."""
    x = x.flatten()
    if x.numel() > max_samples:
        g = torch.Generator().manual_seed(seed)
        x = x[torch.randperm(x.numel(), generator=g)[:max_samples]]
    lo0, hi0 = min(x.min().item(), 0.0), max(x.max().item(), 0.0)
    best = None
    for f in MSE_FRACTIONS:
        for g in (MSE_NEG_FRACTIONS if lo0 < -1 else (1.0, )):
            err = ((fake_quant_uint8(x, lo0 * g, hi0 * f) - x)**2).mean().item()
            if best is None or err < best[0]:
                best = (err, lo0 * g, hi0 * f)
    return best[1], best[2]


def quant_layers(model: nn.Module, skip: Sequence[str] = ()) -> List[str]:
    """Names of the ``Conv2d`` / ``Linear`` modules of ``model`` not matched by a ``skip`` pattern."""
    return [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
            and not any(fnmatch.fnmatch(n, p) for p in skip)]


def stem_layers(model: nn.Module, max_channels: int = 16) -> List[str]:
    """The layers before the first conv with more than ``max_channels`` outputs (as ONNX Runtime's
    recipe keeps them float: :func:`mmv3.deploy.graph_passes.stem_nodes`)."""
    names = []
    for n, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            if m.out_channels > max_channels:
                break
            names.append(n)
    return names


def _first(out):
    return (out[0] if isinstance(out, (list, tuple)) else out).float()


def input_stats(model: nn.Module, layers: Sequence[str], x: torch.Tensor, ranges: str = 'minmax'):
    """Per layer: the input's range (``ranges``: ``'minmax'`` or ``'mse'``) and per-channel mean on ``x``."""
    mods = dict(model.named_modules())
    seen: Dict[str, torch.Tensor] = {}

    def hook(name):
        def f(mod, inp, out):
            seen[name] = inp[0].detach()
        return f

    handles = [mods[n].register_forward_hook(hook(n)) for n in layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    stats = {}
    for n in layers:
        a = seen[n]
        dims = [0] + list(range(2, a.dim()))
        lo, hi = (a.min().item(), a.max().item()) if ranges == 'minmax' else mse_range(a)
        stats[n] = dict(lo=lo, hi=hi, mean=a.mean(dims))
    return stats


def simulate(model: nn.Module, stats: Dict[str, dict], weights: bool = True, activations: bool = True,
             bias_correction: bool = False) -> nn.Module:
    """A copy of ``model`` with the layers of ``stats`` fake-quantized (see the module docstring)."""
    q = copy.deepcopy(model).eval()
    mods = dict(q.named_modules())
    for name, st in stats.items():
        mod = mods[name]
        if weights:
            w = mod.weight.data
            dw = quantize_weight(w) - w
            mod.weight.data = w + dw
            if bias_correction:
                mu = st['mean'].to(w.dtype)
                if isinstance(mod, nn.Linear):
                    shift = dw @ mu
                elif mod.groups == 1:
                    shift = dw.sum((2, 3)) @ mu
                elif mod.groups == mod.in_channels == mod.out_channels:
                    shift = dw.sum((1, 2, 3)) * mu
                else:
                    continue
                if mod.bias is None:
                    mod.bias = nn.Parameter(torch.zeros(w.shape[0], dtype=w.dtype))
                mod.bias.data -= shift
        if activations:
            lo, hi = st['lo'], st['hi']
            mod.register_forward_pre_hook(lambda m, inp, lo=lo, hi=hi: (fake_quant_uint8(inp[0], lo, hi), ))
    return q


#: the variants :func:`error_sources` runs: name -> (weights, activations, bias_correction, ranges)
VARIANTS = {
    'weights': (True, False, False, 'minmax'),
    'weights + bias correction': (True, False, True, 'minmax'),
    'activations (minmax)': (False, True, False, 'minmax'),
    'activations (mse ranges)': (False, True, False, 'mse'),
    'weights + activations (minmax)': (True, True, False, 'minmax'),
    'weights + bias correction + activations (mse ranges)': (True, True, True, 'mse'),
}


def error_sources(model: nn.Module, calib: Sequence[np.ndarray], evals: Sequence[np.ndarray],
                  skip: Optional[Sequence[str]] = None, variants: Optional[Sequence[str]] = None,
                  batch: int = 50) -> Dict[str, dict]:
    """Top-1 agreement with the float model of each fake-quant variant on ``evals``.

    Args:
        model (nn.Module): The BN-folded float model (eval mode; its first output is the logits).
        calib, evals (list[np.ndarray]): Preprocessed ``1x3xHxW`` calibration / evaluation inputs.
        skip (list[str], optional): ``fnmatch`` patterns of layers left in float. Default: the stem
            (:func:`stem_layers`).
        variants (list[str], optional): Keys of :data:`VARIANTS`. Default: all.
        batch (int): Evaluation batch size. Default: 50.

    Returns:
        dict: variant -> :func:`mmv3.deploy.metrics.agreement` (cls) plus ``mean_abs_logit_error``.
    """
    from .metrics import agreement
    model = model.eval()
    skip = stem_layers(model) if skip is None else list(skip)
    layers = quant_layers(model, skip)
    variants = list(VARIANTS) if variants is None else list(variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f'unknown variants {unknown}; choose from {list(VARIANTS)}')
    xc = torch.from_numpy(np.concatenate(calib))
    xe = torch.from_numpy(np.concatenate(evals))

    def run(m):
        with torch.no_grad():
            return torch.cat([_first(m(xe[i:i + batch])) for i in range(0, len(xe), batch)]).numpy()

    ref = run(model)
    stats = {r: input_stats(model, layers, xc, r) for r in sorted({VARIANTS[v][3] for v in variants})}
    out = {}
    for v in variants:
        w, a, bc, r = VARIANTS[v]
        q = run(simulate(model, stats[r], weights=w, activations=a, bias_correction=bc))
        res = agreement('cls', [[f[None]] for f in ref], [[o[None]] for o in q])
        res['mean_abs_logit_error'] = float(np.abs(q - ref).mean())
        out[v] = res
    return out


__all__ = ['quantize_weight', 'fake_quant_uint8', 'mse_range', 'quant_layers', 'stem_layers', 'input_stats',
           'simulate', 'error_sources', 'VARIANTS']
