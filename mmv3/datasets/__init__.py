"""The Cityscapes label table, dataset input checks and label-checking transforms.

- :mod:`.cityscapes_labels`: the Cityscapes label table (id -> trainId, names, colours).
- :mod:`.checks`: ``check_data_cfg`` stops a run whose dataset split is missing or empty with one
  line naming the path and the command that prepares it.
- :mod:`.transforms`: ``mmv3.CheckSegLabels`` refuses label maps with ids outside the class range;
  ``mmv3.FloatResize`` is torchvision's detection resize (bilinear on the float image).
- :mod:`.resolution`: ``at_resolution`` rebuilds the ImageNet pipelines of a config at another input
  resolution (the Figure 7 configs ``configs/cls/*-<r>px.py``).

The synthetic sample-data generators are test/demo machinery: :mod:`mmv3.testing.sample_data`.
"""
from .checks import DatasetNotReadyError, check_data_cfg, check_dataset_cfg
from .transforms import CheckSegLabels, FloatResize, SegLabelError

__all__ = ['check_data_cfg', 'check_dataset_cfg', 'DatasetNotReadyError', 'CheckSegLabels', 'SegLabelError',
           'FloatResize']
