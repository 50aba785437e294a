from mmv3.registry import MODELS

from .base_mobilenet import MobileNet


@MODELS.register_module()
class MobileNetV2(MobileNet):
    """MobileNetV2 (Sandler et al. 2018), the paper's main baseline.

    ``out_indices``: 0 = stem, 1-17 = the 17 bnecks, 18 = the 1280 conv (unlike mmpretrain's
    MobileNetV2, whose indices count stages). The 1280 conv only widens for
    ``widen_factor > 1`` unless ``scale_final_conv=True`` (SSDLite V2 0.35 / 0.5).

    Args:
        **kwargs: See :class:`~mmv3.models.backbones.base_mobilenet.MobileNet`.
    """

    def __init__(self, **kwargs):
        super().__init__('mobilenet_v2', **kwargs)
