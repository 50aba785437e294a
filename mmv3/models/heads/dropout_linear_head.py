"""Dropout + linear classifier: the classification top of MobileNetV2 / MnasNet / MobileNetV1."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead

from mmv3.registry import MODELS


@MODELS.register_module()
class DropoutLinearClsHead(LinearClsHead):
    """Linear classifier with dropout on its (pooled) input.

    The TensorFlow reference models of MobileNetV1/V2 and MnasNet end in
    ``global pool -> dropout (keep 0.8) -> fully connected``; mmpretrain's
    ``LinearClsHead`` has no dropout, so this head adds it. The state-dict
    layout is that of ``LinearClsHead`` (``fc.weight``, ``fc.bias``), so
    checkpoints move freely between the two. MobileNetV3 does not need this
    head: its efficient last stage (pool -> 1x1 conv 1280/1024 with bias, no
    BN -> h-swish -> dropout -> classifier) is exactly mmpretrain's
    ``StackedLinearClsHead(mid_channels=[1280], act_cfg=dict(type='HSwish'),
    dropout_rate=0.2)`` behind ``GlobalAveragePooling``.

    Args:
        num_classes (int): Number of categories (1000 for ImageNet-1k; 1001
            for TensorFlow's layout with a background slot).
        in_channels (int): Channels of the pooled feature (the last
            backbone output).
        dropout_rate (float): Probability of zeroing an input element during
            training, ``1 - keep_prob``. Must be in ``[0, 1)``.
            Defaults to 0.2 (the papers' keep probability 0.8).
        init_cfg (dict, optional): Initialisation config.
            Defaults to ``dict(type='Normal', layer='Linear', std=0.01)``.
        **kwargs: ``loss``, ``topk``, ``cal_acc`` of mmpretrain's ``ClsHead``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 dropout_rate: float = 0.2,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        if not isinstance(dropout_rate, (int, float)) or isinstance(
                dropout_rate, bool) or not 0 <= dropout_rate < 1:
            raise ValueError(
                f'DropoutLinearClsHead: dropout_rate={dropout_rate!r} must be '
                'a float in [0, 1) (the drop probability, 1 - keep_prob; the '
                'MobileNet papers use keep 0.8, i.e. dropout_rate=0.2).')
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            init_cfg=init_cfg,
            **kwargs)
        self.dropout_rate = float(dropout_rate)
        self.dropout = nn.Dropout(p=self.dropout_rate) \
            if self.dropout_rate > 0 else nn.Identity()

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Classify the last pooled feature: dropout, then the linear layer."""
        return self.fc(self.dropout(self.pre_logits(feats)))
