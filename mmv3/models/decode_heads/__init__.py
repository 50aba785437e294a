"""mmseg decode heads of the MobileNetV3 paper (registered in ``mmv3.registry.MODELS``)."""
from .lraspp_head import LRASPPHead
from .raspp_head import RASPPHead

__all__ = ['LRASPPHead', 'RASPPHead']
