"""Lite Reduced Atrous Spatial Pyramid Pooling head (MobileNetV3 paper, Figure 10)."""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

from mmv3.models.layers import build_act
from mmv3.registry import MODELS, toolbox_scope


def _pair(value, name: str) -> Tuple[int, int]:
    """``value`` as an (h, w) pair of positive ints, or a clear error naming ``name``."""
    if isinstance(value, int):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and v > 0 for v in value)):
        raise ValueError(f'LRASPPHead: {name} must be a positive int or a pair (h, w) of '
                         f'positive ints, got {value!r}.')
    return int(value[0]), int(value[1])


def gate_pool(x: Tensor, kernel_size: Tuple[int, int], stride: Tuple[int, int]) -> Tensor:
    """Average pooling of LR-ASPP's gating branch, defined for any feature size.

    ``kernel_size`` and ``stride`` are applied with VALID padding, as in TensorFlow's
    reference model. Along any dimension where the feature map is smaller than the kernel,
    the kernel shrinks to the feature size, i.e. that dimension is pooled globally (one
    output row/column). So a 49x49 kernel on the 49x49 features of a 769x769 training crop,
    or on anything smaller, is exactly global average pooling, while the 65x129 features of a
    1025x2049 image give a 2x5 map (stride (16, 20)), as in the paper.
    """
    if kernel_size is None:  # global average pooling (torchvision's LR-ASPP)
        return F.adaptive_avg_pool2d(x, 1)
    h, w = x.shape[-2:]
    kh = min(kernel_size[0], h)
    kw = min(kernel_size[1], w)
    return F.avg_pool2d(x, kernel_size=(kh, kw), stride=stride)


@MODELS.register_module()
class LRASPPHead(BaseDecodeHead):
    """Lite R-ASPP segmentation head of `Searching for MobileNetV3
    <https://arxiv.org/abs/1905.02244>`_ (Figure 10).

    On the backbone's 1/16 features ``x`` and its 1/8 low-level features ``s``::

        a = ReLU(BN(conv1x1_F(x)))                                   # branch A
        b = sigmoid(conv1x1_F(avgpool_{49x49, stride (16, 20)}(x)))  # branch B (bias, no BN)
        y = conv_seg(up_{1/8}(a * up_{1/16}(b)))                     # classifier at 1/8 (bias)
        out = y + skip_cls(s)                                        # 1x1 conv to classes (bias)

    The logits are returned at 1/8; mmseg's loss and inference resize them to the input.
    ``channels`` is the paper's F (Table 7: 128 or 256).

    Pooling for any input size: the kernel is clamped to the feature-map size per dimension
    (see :func:`gate_pool`), so on feature maps smaller than 49x49 branch B is global
    average pooling. The paper's numbers assume DeepLab's evaluation size 1025x2049 (65x129
    features at 1/16, a 2x5 pooled map); during training on 769x769 crops (49x49 features)
    the pooling is global, which is why the kernel is 49.

    Args:
        in_channels (Sequence[int]): Channels of the two inputs selected by ``in_index``,
            in the order (1/8 skip features, 1/16 features), e.g. ``(120, 480)`` for
            MobileNetV3-Large with RF2 tapped at ``('6.depthwise', 16)``.
        channels (int): F, the filters of both branches.
        in_index (Sequence[int]): Indices of (skip, high-level) features in the backbone's
            outputs. Default: ``(0, 1)``.
        pool_kernel (int | tuple[int, int], optional): Average-pool kernel of branch B; ``None``:
            global average pooling at every input size (torchvision's LR-ASPP variant). Default: 49.
        pool_stride (int | tuple[int, int]): Average-pool stride of branch B.
            Default: ``(16, 20)``.
        gate_bias (bool): Whether branch B's 1x1 conv has a bias (the paper's reference: yes;
            torchvision's LR-ASPP: no). Default: True.
        gate_act_cfg (dict, optional): Branch B's gate; ``None``: ``sigmoid``. DeepLab's released
            MobileNetV3 models (``--image_se_uses_qsigmoid``) gate with ``relu6(x + 3) * 0.16667``:
            ``dict(type='mmv3.QSigmoid')``. Default: None.
        input_transform (str): Must be ``'multiple_select'`` (the default).
        init_cfg (dict | list[dict]): Initialisation. Default: Normal(std=0.01) for both
            classifier convs (``conv_seg`` and ``skip_cls``).
        **kwargs: Everything else of :class:`mmseg.models.decode_heads.BaseDecodeHead`
            (``num_classes``, ``norm_cfg``, ``act_cfg``, ``dropout_ratio``,
            ``align_corners``, ``loss_decode``, ...). ``act_cfg`` is branch A's activation
            (ReLU in the paper); ``dropout_ratio`` applies before ``conv_seg`` only.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 in_index: Sequence[int] = (0, 1),
                 pool_kernel: Union[int, Tuple[int, int]] = 49,
                 pool_stride: Union[int, Tuple[int, int]] = (16, 20),
                 gate_bias: bool = True,
                 gate_act_cfg=None,
                 input_transform: str = 'multiple_select',
                 init_cfg=dict(
                     type='Normal', std=0.01, override=[dict(name='conv_seg'), dict(name='skip_cls')]),
                 **kwargs):
        if input_transform != 'multiple_select':
            raise ValueError("LRASPPHead: input_transform must be 'multiple_select' (inputs are the "
                             f"(1/8 skip, 1/16) features), got {input_transform!r}.")
        if (not isinstance(in_channels, (list, tuple)) or len(in_channels) != 2
                or not isinstance(in_index, (list, tuple)) or len(in_index) != 2):
            raise ValueError('LRASPPHead: in_channels and in_index must both be pairs ordered as '
                             '(1/8 skip features, 1/16 features), e.g. in_channels=(120, 480), '
                             f'in_index=(0, 1); got in_channels={in_channels!r}, in_index={in_index!r}.')
        with toolbox_scope('mmseg'):
            super().__init__(
                in_channels=list(in_channels),
                channels=channels,
                in_index=list(in_index),
                input_transform=input_transform,
                init_cfg=init_cfg,
                **kwargs)
        self.pool_kernel = None if pool_kernel is None else _pair(pool_kernel, 'pool_kernel')
        self.pool_stride = _pair(pool_stride, 'pool_stride')
        skip_channels, high_channels = self.in_channels
        # Branch A: 1x1 conv F + BN + ReLU.
        self.conv_high = ConvModule(
            high_channels,
            self.channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        # Branch B: pool -> 1x1 conv F with bias, no BN -> sigmoid (applied in forward).
        self.conv_gate = nn.Conv2d(high_channels, self.channels, 1, bias=gate_bias)
        if gate_act_cfg is not None and not (isinstance(gate_act_cfg, dict) and 'type' in gate_act_cfg):
            raise ValueError(f"LRASPPHead: gate_act_cfg must be an activation config dict with a 'type' "
                             f"(e.g. dict(type='mmv3.QSigmoid')) or None (sigmoid), got {gate_act_cfg!r}.")
        self.gate_act = torch.sigmoid if gate_act_cfg is None else build_act(gate_act_cfg)
        # Low-level skip: 1x1 conv straight to the classes (bias).
        self.skip_cls = nn.Conv2d(skip_channels, self.out_channels, 1, bias=True)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Logits at the resolution of the 1/8 skip features."""
        skip, x = self._transform_inputs(inputs)
        a = self.conv_high(x)
        b = self.gate_act(self.conv_gate(gate_pool(x, self.pool_kernel, self.pool_stride)))
        b = resize(b, size=a.shape[2:], mode='bilinear', align_corners=self.align_corners)
        y = resize(a * b, size=skip.shape[2:], mode='bilinear', align_corners=self.align_corners)
        return self.cls_seg(y) + self.skip_cls(skip)
