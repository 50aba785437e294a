from mmv3.registry import MODELS

from .base_mobilenet import MobileNet


@MODELS.register_module()
class MnasNet(MobileNet):
    """MnasNet-A1 (Tan et al. 2019), a baseline of Tables 3 and 6.

    ``out_indices``: 0 = stem, 1 = SepConv, 2-16 = the MBConv blocks, 17 = the 1280 conv.

    Args:
        arch (str): Only ``'a1'``. Default: ``'a1'``.
        **kwargs: See :class:`~mmv3.models.backbones.base_mobilenet.MobileNet`.
    """

    def __init__(self, arch='a1', **kwargs):
        if arch != 'a1':
            raise ValueError(f"MnasNet: unknown arch={arch!r}; allowed: ['a1']")
        super().__init__('mnasnet_a1', **kwargs)
