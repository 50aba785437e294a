"""mmdet task utilities for SSDLite (registered in mmv3's ``TASK_UTILS`` scope).

Use from an mmdet config as ``anchor_generator=dict(type='mmv3.SSDLiteAnchorGenerator', ...)``
(TensorFlow's anchor grid) or ``dict(type='mmv3.SSDDefaultBoxGenerator', ...)`` (torchvision's).
"""
from .ssd_default_box_generator import SSDDefaultBoxGenerator
from .ssdlite_anchor_generator import SSDLiteAnchorGenerator

__all__ = ['SSDLiteAnchorGenerator', 'SSDDefaultBoxGenerator']
