"""mmdet's SSD head in its SSDLite form, usable for inference with mmdet 3.3."""
from typing import Sequence

from mmdet.models.dense_heads import SSDHead

from mmv3.registry import MODELS, toolbox_scope


@MODELS.register_module()
class SSDLiteHead(SSDHead):
    """SSDLite box/class predictors: mmdet's ``SSDHead`` with ``use_depthwise=True``.

    Per feature map, boxes and classes separately: depthwise 3x3 conv + BN + ReLU6, then a
    1x1 conv with bias to ``A x 4`` / ``A x (num_classes + 1)`` outputs (``A`` = the anchor
    generator's boxes on that map; softmax over the classes and a background slot, hard
    negative mining 3:1, smooth-L1 box loss, as ``SSDHead``). The layers, their names and the
    losses are exactly ``SSDHead``'s, so checkpoints move freely between the two.

    Two additions only:

    - mmdet 3.3's ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls``, which
      ``SSDHead`` never defines, so ``SSDHead.predict`` raises ``AttributeError`` (upstream
      issues open-mmlab/mmdetection#11063, #11305, #11780; fix PR #11524 not merged). This
      head defines ``loss_cls = None`` (SSD's classification loss is computed inline), so
      validation and testing work.
    - Its arguments are checked up front: one ``in_channels`` entry per anchor level.

    Args:
        num_classes (int): Object classes, without background (80 for mmdet's
            ``CocoDataset``; 90 for TensorFlow's COCO label map, the paper's 91 slots).
        in_channels (Sequence[int]): Channels of each input feature map (the neck's
            ``out_channels``).
        use_depthwise (bool): SSDLite predictors (True) or SSD's 3x3 convs. Defaults to True.
        **kwargs: Any other ``SSDHead`` argument: ``norm_cfg``, ``act_cfg``,
            ``anchor_generator``, ``bbox_coder``, ``train_cfg``, ``test_cfg``, ``init_cfg``...
    """

    def __init__(self, num_classes: int = 80, in_channels: Sequence[int] = (), use_depthwise=True,
                 **kwargs) -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f'SSDLiteHead: num_classes must be a positive int (80 for mmdet\'s '
                             f'CocoDataset, 90 for the paper\'s 91 class slots), got {num_classes!r}')
        if not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise ValueError(f'SSDLiteHead: in_channels must list the channels of every feature map '
                             f'(the neck\'s out_channels), got {in_channels!r}')
        with toolbox_scope('mmdet'):
            super().__init__(num_classes=num_classes, in_channels=tuple(in_channels),
                             use_depthwise=use_depthwise, **kwargs)
        if len(self.num_base_priors) != len(self.in_channels):
            raise ValueError(
                f'SSDLiteHead: in_channels has {len(self.in_channels)} feature maps but the anchor '
                f'generator has {len(self.num_base_priors)} levels; give one anchor stride per map')
        self.loss_cls = None
