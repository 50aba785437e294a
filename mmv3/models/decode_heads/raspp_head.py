"""Reduced ASPP head of MobileNetV2 (the R-ASPP baseline of MobileNetV3's Table 7)."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmv3.registry import MODELS, toolbox_scope


@MODELS.register_module()
class RASPPHead(BaseDecodeHead):
    """Reduced Atrous Spatial Pyramid Pooling head (R-ASPP) of `MobileNetV2
    <https://arxiv.org/abs/1801.04381>`_, the ``SH = x`` rows of MobileNetV3's Table 7.

    ASPP reduced to two branches on the backbone's 1/16 features ``x``::

        b1 = ReLU(BN(conv1x1_F(x)))
        b2 = broadcast(ReLU(BN(conv1x1_F(global_avg_pool(x)))))
        out = conv_seg(ReLU(BN(conv1x1_F(concat(b1, b2)))))      # logits at 1/16

    No low-level skip. ``channels`` is F (256 in Table 7).

    Note: the image-pooling branch has batch-norm on a 1x1 map, so training (BN in train
    mode) needs at least 2 images per process, as with mmseg's ``ASPPHead``.

    Args:
        in_channels (int | Sequence[int]): Channels of the 1/16 features. With
            ``input_transform='multiple_select'`` a sequence may be given (e.g. the same
            ``(skip, high)`` pair as :class:`LRASPPHead`); the last selected input is used.
        channels (int): F, the filters of both branches and of the projection.
        in_index (int | Sequence[int]): Index (or indices) of the input in the backbone's
            outputs. Default: -1.
        **kwargs: Everything else of :class:`mmseg.models.decode_heads.BaseDecodeHead`
            (``num_classes``, ``norm_cfg``, ``act_cfg``, ``dropout_ratio``,
            ``align_corners``, ``loss_decode``, ``input_transform``, ...).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 channels: int,
                 in_index: Union[int, Sequence[int]] = -1,
                 **kwargs):
        if kwargs.get('input_transform') == 'resize_concat':
            raise ValueError("RASPPHead: input_transform='resize_concat' is not supported; use None "
                             "(one input, in_index an int) or 'multiple_select' (the last selected "
                             'input is the 1/16 features).')
        with toolbox_scope('mmseg'):
            super().__init__(in_channels=in_channels, channels=channels, in_index=in_index, **kwargs)
        high_channels = self.in_channels[-1] if isinstance(self.in_channels,
                                                           (list, tuple)) else self.in_channels
        self.conv_1x1 = ConvModule(
            high_channels,
            self.channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(
                high_channels,
                self.channels,
                1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg))
        self.project = ConvModule(
            2 * self.channels,
            self.channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Logits at the resolution of the 1/16 features."""
        x = self._transform_inputs(inputs)
        if isinstance(x, (list, tuple)):
            x = x[-1]
        pooled = self.image_pool(x).expand(-1, -1, *x.shape[2:])
        return self.cls_seg(self.project(torch.cat([self.conv_1x1(x), pooled], dim=1)))
