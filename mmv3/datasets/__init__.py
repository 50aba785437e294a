"""Sample datasets, the Cityscapes label table, and dataset input checks.

- :mod:`.sample_data`: ``make_cityscapes`` / ``make_coco`` / ``make_imagenet`` write small learnable
  datasets in the real on-disk formats (``tools/misc/make_sample_data.py`` is the CLI).
- :mod:`.checks`: ``check_data_cfg`` stops a run whose dataset split is missing or empty with one
  line naming the path and the command that prepares it.
- :mod:`.transforms`: ``mmv3.CheckSegLabels`` refuses label maps with ids outside the class range.
"""
from .checks import DatasetNotReadyError, check_data_cfg, check_dataset_cfg
from .sample_data import make_cityscapes, make_coco, make_imagenet
from .transforms import CheckSegLabels, SegLabelError

__all__ = ['make_cityscapes', 'make_coco', 'make_imagenet', 'check_data_cfg', 'check_dataset_cfg',
           'DatasetNotReadyError', 'CheckSegLabels', 'SegLabelError']
