"""The Cityscapes label definitions (``cityscapesscripts.helpers.labels``) as plain data.

The official table maps every annotated label *id* (what ``*_gtFine_labelIds.png`` stores) to
a *train id* (what ``*_gtFine_labelTrainIds.png`` stores and what mmseg's ``CityscapesDataset``
reads): the 19 evaluated classes get 0..18, everything else 255 (ignored). It is repeated here
so that the sample-data generator and ``tools/dataset_converters/cityscapes.py`` work without
``cityscapesscripts`` installed; ``tests/test_sample_data.py`` checks it against
``cityscapesscripts`` when that package is present.
"""
from collections import namedtuple

import numpy as np

CityscapesLabel = namedtuple('CityscapesLabel',
                             ['name', 'id', 'train_id', 'category', 'has_instances', 'color'])

#: ``(name, id, trainId, category, hasInstances, color)`` exactly as in cityscapesscripts 2.x.
LABELS = (
    CityscapesLabel('unlabeled', 0, 255, 'void', False, (0, 0, 0)),
    CityscapesLabel('ego vehicle', 1, 255, 'void', False, (0, 0, 0)),
    CityscapesLabel('rectification border', 2, 255, 'void', False, (0, 0, 0)),
    CityscapesLabel('out of roi', 3, 255, 'void', False, (0, 0, 0)),
    CityscapesLabel('static', 4, 255, 'void', False, (0, 0, 0)),
    CityscapesLabel('dynamic', 5, 255, 'void', False, (111, 74, 0)),
    CityscapesLabel('ground', 6, 255, 'void', False, (81, 0, 81)),
    CityscapesLabel('road', 7, 0, 'flat', False, (128, 64, 128)),
    CityscapesLabel('sidewalk', 8, 1, 'flat', False, (244, 35, 232)),
    CityscapesLabel('parking', 9, 255, 'flat', False, (250, 170, 160)),
    CityscapesLabel('rail track', 10, 255, 'flat', False, (230, 150, 140)),
    CityscapesLabel('building', 11, 2, 'construction', False, (70, 70, 70)),
    CityscapesLabel('wall', 12, 3, 'construction', False, (102, 102, 156)),
    CityscapesLabel('fence', 13, 4, 'construction', False, (190, 153, 153)),
    CityscapesLabel('guard rail', 14, 255, 'construction', False, (180, 165, 180)),
    CityscapesLabel('bridge', 15, 255, 'construction', False, (150, 100, 100)),
    CityscapesLabel('tunnel', 16, 255, 'construction', False, (150, 120, 90)),
    CityscapesLabel('pole', 17, 5, 'object', False, (153, 153, 153)),
    CityscapesLabel('polegroup', 18, 255, 'object', False, (153, 153, 153)),
    CityscapesLabel('traffic light', 19, 6, 'object', False, (250, 170, 30)),
    CityscapesLabel('traffic sign', 20, 7, 'object', False, (220, 220, 0)),
    CityscapesLabel('vegetation', 21, 8, 'nature', False, (107, 142, 35)),
    CityscapesLabel('terrain', 22, 9, 'nature', False, (152, 251, 152)),
    CityscapesLabel('sky', 23, 10, 'sky', False, (70, 130, 180)),
    CityscapesLabel('person', 24, 11, 'human', True, (220, 20, 60)),
    CityscapesLabel('rider', 25, 12, 'human', True, (255, 0, 0)),
    CityscapesLabel('car', 26, 13, 'vehicle', True, (0, 0, 142)),
    CityscapesLabel('truck', 27, 14, 'vehicle', True, (0, 0, 70)),
    CityscapesLabel('bus', 28, 15, 'vehicle', True, (0, 60, 100)),
    CityscapesLabel('caravan', 29, 255, 'vehicle', True, (0, 0, 90)),
    CityscapesLabel('trailer', 30, 255, 'vehicle', True, (0, 0, 110)),
    CityscapesLabel('train', 31, 16, 'vehicle', True, (0, 80, 100)),
    CityscapesLabel('motorcycle', 32, 17, 'vehicle', True, (0, 0, 230)),
    CityscapesLabel('bicycle', 33, 18, 'vehicle', True, (119, 11, 32)),
    CityscapesLabel('license plate', -1, -1, 'vehicle', False, (0, 0, 142)),
)

NAME2LABEL = {label.name: label for label in LABELS}
ID2LABEL = {label.id: label for label in LABELS if label.id >= 0}

#: The 19 evaluated classes in train-id order (= mmseg ``CityscapesDataset`` ``classes``).
TRAIN_CLASSES = tuple(label.name for label in sorted(
    (lb for lb in LABELS if 0 <= lb.train_id < 255), key=lambda lb: lb.train_id))
IGNORE_INDEX = 255


def id_to_train_id_lut():
    """A 256-entry uint8 lookup table: ``lut[label_id] = train_id`` (255 for void/unknown ids)."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in LABELS:
        if label.id >= 0:
            lut[label.id] = label.train_id
    return lut


def id_to_color_lut():
    """A ``(256, 3)`` uint8 lookup table: ``lut[label_id] = RGB colour`` of ``*_gtFine_color.png``."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    for label in LABELS:
        if label.id >= 0:
            lut[label.id] = label.color
    return lut
