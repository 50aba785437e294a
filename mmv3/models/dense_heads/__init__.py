"""mmdet dense heads (registered in ``mmv3.registry.MODELS``): SSDLite's predictors."""
from .ssdlite_head import SSDLiteHead

__all__ = ['SSDLiteHead']
