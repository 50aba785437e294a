"""Test and demo machinery, not model-zoo code: nothing under ``mmv3`` imports this package.

- :mod:`.sample_data`: ``make_cityscapes`` / ``make_coco`` / ``make_imagenet`` write small learnable
  sample datasets in the real on-disk formats of Cityscapes, COCO and ImageNet, read by the unmodified
  toolbox dataset classes (``tools/misc/make_sample_data.py`` is the CLI; the tests and
  ``tools/demo.sh`` / ``tools/demo_int8.sh`` use them).
- :mod:`.random_weights`: ``randomize_weights``, random BN statistics (and conv weights) for the converters'
  exactness tests.
"""
from .random_weights import randomize_weights
from .sample_data import make_cityscapes, make_coco, make_imagenet

__all__ = ['make_cityscapes', 'make_coco', 'make_imagenet', 'randomize_weights']
