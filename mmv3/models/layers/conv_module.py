from collections import OrderedDict

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer

from .conv2d_same import PAD_TYPES, Conv2dSame, Conv2dSameEven

# Activations by config type. Torch's fused kernels are used for the hard functions
# (mmcv's HSigmoid is three elementwise ops); anything else goes through mmcv's registry.
_FAST_ACTS = {
    'ReLU': lambda: nn.ReLU(inplace=True),
    'ReLU6': lambda: nn.ReLU6(inplace=True),
    'HSwish': lambda: nn.Hardswish(inplace=True),
    'HSigmoid': lambda: nn.Hardsigmoid(inplace=True),
    'Sigmoid': nn.Sigmoid,
}


def build_act(act_cfg):
    """Build an activation from ``act_cfg`` (``None`` -> ``None``)."""
    if act_cfg is None:
        return None
    extra = {k: v for k, v in act_cfg.items() if k not in ('type', 'inplace')}
    if act_cfg.get('type') in _FAST_ACTS and not extra:
        return _FAST_ACTS[act_cfg['type']]()
    return build_activation_layer(dict(act_cfg))


class ConvModule(nn.Sequential):
    """Conv2d -> norm -> activation as an ``nn.Sequential``.

    The submodule names (``conv``, ``bn``, ``activate``) are those of mmcv's ``ConvModule``,
    so checkpoints of mmpretrain's / mmseg's MobileNetV3 use the same keys; being a plain
    ``Sequential`` keeps the eager forward free of per-call Python branching.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Square kernel size.
        stride (int): Stride. Default: 1.
        dilation (int): Dilation; padding keeps the size for odd kernels. Default: 1.
        groups (int): Conv groups. Default: 1.
        norm_cfg (dict, optional): Norm layer config; ``None`` gives a conv with bias.
        act_cfg (dict, optional): Activation config; ``None`` for a linear layer.
        pad_type (str): ``''``: symmetric padding ``dilation * (kernel_size - 1) // 2``;
            ``'same'``: TensorFlow's ``'SAME'`` padding for strided convs (a
            :class:`~mmv3.models.layers.conv2d_same.Conv2dSame`, asymmetric at even input
            sizes), which TF-trained weights need; stride-1 convs keep the symmetric padding,
            which equals SAME for odd kernels; ``'keras'``: as ``'same'``, except that a strided
            depthwise conv (``groups == in_channels > 1``) gets the constant padding of
            :class:`~mmv3.models.layers.conv2d_same.Conv2dSameEven` (Keras applications' models
            built without a fixed input shape). Default: ``''``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, groups=1,
                 norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'), pad_type=''):
        if pad_type not in PAD_TYPES:
            raise ValueError(f"pad_type must be one of {PAD_TYPES} ('' = symmetric, 'same' = TensorFlow's "
                             f"SAME), got {pad_type!r}")
        if pad_type in ('same', 'keras') and stride > 1:
            depthwise = groups > 1 and groups == in_channels
            cls = Conv2dSameEven if pad_type == 'keras' and depthwise else Conv2dSame
            conv = cls(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias=norm_cfg is None)
        else:
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, dilation * (kernel_size - 1) // 2,
                             dilation, groups, bias=norm_cfg is None)
        layers = OrderedDict(conv=conv)
        if norm_cfg is not None:
            layers['bn'] = build_norm_layer(norm_cfg, out_channels)[1]
        act = build_act(act_cfg)
        if act is not None:
            layers['activate'] = act
        super().__init__(layers)
        self.in_channels = in_channels
        self.out_channels = out_channels
