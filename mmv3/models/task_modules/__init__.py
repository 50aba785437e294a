"""mmdet task utilities for SSDLite (registered in mmv3's ``TASK_UTILS`` scope).

Use from an mmdet config as ``anchor_generator=dict(type='mmv3.SSDLiteAnchorGenerator', ...)``.
"""
from .ssdlite_anchor_generator import SSDLiteAnchorGenerator

__all__ = ['SSDLiteAnchorGenerator']
