"""Params and multiply-adds under the paper's convention (or mmengine's).

Paper convention (how TensorFlow counted Tables 3, 6, 7): every ``Conv2d`` / ``Linear``
contributes ``output elements x (in_channels / groups) x kh x kw`` multiply-adds, SE convs
included; BN (folded into the conv), activations, pooling, resizes and elementwise ops are
not counted. Params are the model's parameters (conv/linear weights, biases, BN gamma/beta;
BN running statistics are buffers and do not count).

The ``'mmengine'`` convention is :class:`mmengine.analysis.FlopAnalyzer`'s total, which
also counts BN, pooling, upsampling and elementwise work.
"""
import copy

import torch
import torch.nn as nn
from mmengine.model import BaseModel

CONVENTIONS = ('paper', 'mmengine')


class _TensorForward(nn.Module):
    """Call an OpenMMLab ``BaseModel`` in ``mode='tensor'`` (the network without post-processing)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        if isinstance(self.model, BaseModel):
            return self.model(x, mode='tensor')
        return self.model(x)


def _conv_linear_madds(module, inputs, output):
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_output = module.in_channels // module.groups * kh * kw
    else:
        per_output = module.in_features
    module.__madds__ += output.numel() // output.shape[0] * per_output


def count_params(model):
    """Number of parameters (trainable or frozen) of ``model``."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_model(model, input_shape=(1, 3, 224, 224), convention='paper', device='cpu'):
    """Count Params and MAdds of ``model`` for one input of ``input_shape``.

    Args:
        model (nn.Module): A backbone, or an OpenMMLab model (called with ``mode='tensor'``).
        input_shape (tuple): ``(N, C, H, W)``; MAdds are reported per image.
        convention (str): ``'paper'`` (conv/linear multiply-adds only) or ``'mmengine'``.
        device (str): ``'cpu'`` or ``'meta'`` (shape-only forward on a copy of the model: fast
            at large inputs; paper convention only).

    Returns:
        dict: ``params`` (int), ``madds`` (int, per image), ``convention``, ``input_shape``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f'convention={convention!r} is not one of {CONVENTIONS}')
    params = count_params(model)
    was_training = model.training
    wrapped = _TensorForward(model)
    if device == 'meta':
        if convention != 'paper':
            raise ValueError("device='meta' supports only convention='paper'")
        wrapped = copy.deepcopy(wrapped).to('meta')
    wrapped.eval()
    x = torch.zeros(input_shape, device=device)
    try:
        if convention == 'mmengine':
            from mmengine.analysis import FlopAnalyzer
            analyzer = FlopAnalyzer(wrapped, (x, ))
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            madds = analyzer.total() // input_shape[0]
        else:
            handles = []
            layers = [m for m in wrapped.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            for m in layers:
                m.__madds__ = 0
                handles.append(m.register_forward_hook(_conv_linear_madds))
            try:
                wrapped(x)
            finally:
                for h in handles:
                    h.remove()
            madds = sum(m.__dict__.pop('__madds__') for m in layers)
    finally:
        model.train(was_training)
    return dict(params=params, madds=int(madds), convention=convention, input_shape=tuple(input_shape))
