"""mmpretrain classification heads (registered in ``mmv3.registry.MODELS``).

The efficient last stage of MobileNetV3 (Figure 5) needs no new class: it is
mmpretrain's ``GlobalAveragePooling`` neck followed by its
``StackedLinearClsHead(mid_channels=[1280 or 1024], act_cfg=dict(type='HSwish'),
dropout_rate=0.2)`` (linear layer with bias, no norm == a 1x1 conv without BN at
1x1 resolution). See ``configs/_base_/models/mobilenet_v3_*_cls.py``.
"""
from .dropout_linear_head import DropoutLinearClsHead

__all__ = ['DropoutLinearClsHead']
