"""Random weights and BN statistics for exactness tests of converters and exporters.

A freshly initialised reference hides wrong mappings: BN with mean 0 / var 1 / weight 1 / bias 0 is almost the
identity, so swapped BN tensors or a wrong eps change nothing, and default conv inits can make the logits near
constant. :func:`randomize_weights` gives every BN tensor (and optionally every conv) random values from one
seeded generator, in module order, so the same seed gives the same model.
"""
from typing import Optional

import torch
import torch.nn as nn


def randomize_weights(model: nn.Module, seed: int = 0, conv_gain: Optional[float] = None) -> nn.Module:
    """Randomize ``model``'s BN statistics / affine (and, with ``conv_gain``, its conv weights) in place.

    Args:
        model (nn.Module): The model to change.
        seed (int): Seed of the one generator all draws come from, in module order. Default: 0.
        conv_gain (float, optional): When given, every ``Conv2d`` weight becomes ``N(0, 1) * conv_gain /
            sqrt(fan_in)`` (1.0 is variance-preserving: an input change of 1e-7 stays ~1e-7 at the outputs)
            and its bias ``N(0, 0.1^2)``. Default: None (convs untouched).

    Returns:
        nn.Module: ``model``, in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if conv_gain is not None and isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * conv_gain / m.weight[0].numel()**0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_((torch.rand(n, generator=g) - 0.5) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_((torch.rand(n, generator=g) - 0.5) * 0.2)
    return model.eval()


__all__ = ['randomize_weights']
