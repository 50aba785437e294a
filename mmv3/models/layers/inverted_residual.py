import torch.nn as nn
import torch.utils.checkpoint as cp

from .conv_module import ConvModule
from .se_layer import SELayer


class InvertedResidual(nn.Module):
    """The bneck block of MobileNetV2/V3 and MnasNet (paper Figures 3-4).

    1x1 expansion conv + BN + act (omitted when ``mid_channels == in_channels``), kxk
    depthwise conv + BN + act, optional Squeeze-and-Excite, 1x1 linear projection + BN.
    The residual is added iff ``stride == 1`` and ``in_channels == out_channels``.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Expanded channels.
        out_channels (int): Output channels.
        kernel_size (int): Depthwise kernel size.
        stride (int): Depthwise stride.
        dilation (int): Depthwise dilation (atrous). Default: 1.
        se_channels (int, optional): SE squeeze width; ``None`` for no SE.
        se_cfg (dict): ``act_cfg``/``gate_cfg`` of the SE layer.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation of the expansion and depthwise convs.
        with_cp (bool): Gradient checkpointing of the block while training.
        pad_type (str): Padding of the depthwise conv: ``''`` symmetric, ``'same'`` TensorFlow's,
            ``'keras'`` Keras applications' (see :class:`~mmv3.models.layers.ConvModule`). Default: ``''``.
    """

    def __init__(self, in_channels, mid_channels, out_channels, kernel_size, stride, dilation=1,
                 se_channels=None, se_cfg=dict(), norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'),
                 with_cp=False, pad_type=''):
        super().__init__()
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_cp = with_cp
        self.in_channels, self.mid_channels, self.out_channels = in_channels, mid_channels, out_channels
        if mid_channels != in_channels:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        else:
            self.expand_conv = None
        self.depthwise_conv = ConvModule(mid_channels, mid_channels, kernel_size, stride, dilation,
                                         groups=mid_channels, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                         pad_type=pad_type)
        self.se = SELayer(mid_channels, se_channels, **se_cfg) if se_channels else None
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def forward_taps(self, x):
        """Forward returning ``(out, {'expand': ..., 'depthwise': ...})``.

        ``expand`` is the expansion output after its BN + activation (the input when the
        block has no expansion conv); ``depthwise`` is the depthwise output after its BN +
        activation, before SE.
        """
        out = self.expand_conv(x) if self.expand_conv is not None else x
        taps = {'expand': out}
        out = self.depthwise_conv(out)
        taps['depthwise'] = out
        if self.se is not None:
            out = self.se(out)
        out = self.linear_conv(out)
        if self.with_res_shortcut:
            out = out + x
        return out, taps

    def _forward(self, x):
        out = self.expand_conv(x) if self.expand_conv is not None else x
        out = self.depthwise_conv(out)
        if self.se is not None:
            out = self.se(out)
        out = self.linear_conv(out)
        if self.with_res_shortcut:
            out += x  # in place: BN's backward does not need its output
        return out

    def forward(self, x):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class DepthwiseSeparable(nn.Module):
    """MobileNetV1's block: kxk depthwise conv + BN + act, 1x1 pointwise conv + BN + act.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Depthwise kernel size.
        stride (int): Depthwise stride.
        dilation (int): Depthwise dilation. Default: 1.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation of both convs.
        with_cp (bool): Gradient checkpointing of the block while training.
        pad_type (str): Padding of the depthwise conv (see :class:`InvertedResidual`). Default: ``''``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride, dilation=1,
                 norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'), with_cp=False, pad_type=''):
        super().__init__()
        self.with_cp = with_cp
        self.in_channels, self.mid_channels, self.out_channels = in_channels, in_channels, out_channels
        self.expand_conv = None
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride, dilation,
                                         groups=in_channels, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                         pad_type=pad_type)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward_taps(self, x):
        """Forward returning ``(out, {'depthwise': ...})``."""
        dw = self.depthwise_conv(x)
        return self.pointwise_conv(dw), {'depthwise': dw}

    def _forward(self, x):
        return self.pointwise_conv(self.depthwise_conv(x))

    def forward(self, x):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)
