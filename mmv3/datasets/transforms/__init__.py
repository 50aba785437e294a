"""Data transforms registered in the ``mmv3`` scope (``type='mmv3.<Name>'`` in a pipeline)."""
from .check_seg_labels import CheckSegLabels, SegLabelError
from .float_resize import FloatResize

__all__ = ['CheckSegLabels', 'SegLabelError', 'FloatResize']
