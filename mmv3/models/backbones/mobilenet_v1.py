from mmv3.registry import MODELS

from .base_mobilenet import MobileNet


@MODELS.register_module()
class MobileNetV1(MobileNet):
    """MobileNetV1 (Howard et al. 2017), the first row of Table 6.

    ``out_indices``: 0 = stem, 1-13 = the depthwise-separable pairs (SSD taps 11 and 13).

    Args:
        **kwargs: See :class:`~mmv3.models.backbones.base_mobilenet.MobileNet`.
    """

    def __init__(self, **kwargs):
        super().__init__('mobilenet_v1', **kwargs)
