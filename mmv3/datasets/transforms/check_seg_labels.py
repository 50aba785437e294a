"""``mmv3.CheckSegLabels``: refuse segmentation label maps with ids outside the class range."""
import os.path as osp

import numpy as np
from mmcv.transforms import BaseTransform

from mmv3.registry import TRANSFORMS

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


class SegLabelError(ValueError):
    """A label map holds values that are neither class ids nor the ignore index."""


def _png_bit_depth(path):
    """Bit depth of a local PNG file from its IHDR header, or None if unknown / not a PNG."""
    try:
        with open(path, 'rb') as f:
            head = f.read(26)
    except OSError:
        return None
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b'IHDR':
        return None
    return head[24]


def _format_ids(ids, limit=12):
    ids = [int(v) for v in ids]
    text = ', '.join(str(v) for v in ids[:limit])
    return text + (f', ... ({len(ids)} distinct)' if len(ids) > limit else '')


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """Check that a loaded segmentation map only holds ``0..num_classes-1`` and ``ignore_index``.

    Place it right after mmseg's ``LoadAnnotations`` in train **and** test pipelines. Without it
    an out-of-range id is either a crash deep inside the loss (``IndexError: Target 33 is out of
    bounds``) or, in evaluation, silently miscounted: ``IoUMetric`` drops the id from the label
    histogram but still counts the prediction at that pixel as a false positive. The usual
    cause on Cityscapes is pointing ``seg_map_suffix`` at ``*_gtFine_labelIds.png`` (raw ids
    0..33) instead of ``*_gtFine_labelTrainIds.png``.

    It also catches label files mmseg would read wrongly: a colour (3-channel) label map, and a
    16-bit PNG with values >= 256 (mmseg's ``LoadAnnotations`` casts to uint8, so 263 would
    silently become 7); a 16-bit PNG whose values are all below 256 is read exactly and checked
    like an 8-bit one. The 16-bit test reads only the 26-byte PNG header, unless the file is
    16-bit.

    Required keys: ``gt_seg_map`` (and ``seg_map_path`` for the messages and the 16-bit check).

    Args:
        num_classes (int): Number of classes; allowed ids are ``0..num_classes-1``.
            Defaults to 19 (Cityscapes).
        ignore_index (int): The ignore label, also allowed. Defaults to 255.

    Raises:
        SegLabelError: naming the file, the offending ids and the allowed values.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadImageFromFile'),
        ...     dict(type='LoadAnnotations'),
        ...     dict(type='mmv3.CheckSegLabels', num_classes=19, ignore_index=255),
        ...     ...]
    """

    def __init__(self, num_classes=19, ignore_index=255):
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f'CheckSegLabels: num_classes must be a positive int, got {num_classes!r}')
        if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
            raise ValueError(f'CheckSegLabels: ignore_index must be an int, got {ignore_index!r}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _allowed(self):
        return f'0..{self.num_classes - 1} (num_classes={self.num_classes}) and {self.ignore_index} (ignore_index)'

    def _bad_ids(self, values):
        values = np.asarray(values)
        return values[((values < 0) | (values >= self.num_classes)) & (values != self.ignore_index)]

    def transform(self, results):
        if 'gt_seg_map' not in results:
            raise KeyError('CheckSegLabels needs `gt_seg_map`: put it after LoadAnnotations in the pipeline')
        seg = results['gt_seg_map']
        path = results.get('seg_map_path', '<unknown file>')
        if seg.ndim != 2:
            raise SegLabelError(
                f'label map {path} has shape {tuple(seg.shape)}, expected a single-channel HxW map of class '
                f'ids (e.g. *_gtFine_labelTrainIds.png, not the RGB *_gtFine_color.png)')
        if isinstance(path, str) and path.lower().endswith('.png') and osp.isfile(path) \
                and _png_bit_depth(path) == 16:
            import cv2
            raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if raw is not None and raw.max() >= 256:
                wrapped = np.unique(raw[raw >= 256])
                raise SegLabelError(
                    f'label map {path} is a 16-bit PNG with ids {_format_ids(wrapped)} >= 256, which mmseg\'s '
                    f'LoadAnnotations casts to uint8 (mod 256) without warning; allowed values are '
                    f'{self._allowed()}. Write label maps as 8-bit PNGs of train ids.')
        if seg.dtype == np.uint8:
            present = np.flatnonzero(np.bincount(seg.ravel(), minlength=256))
        else:
            present = np.unique(seg)
        bad = self._bad_ids(present)
        if bad.size:
            hint = ''
            if bad.max() <= 33 and self.num_classes == 19:
                hint = (' These look like raw Cityscapes label ids: use *_gtFine_labelTrainIds.png '
                        '(python tools/dataset_converters/cityscapes.py data/cityscapes).')
            raise SegLabelError(
                f'label map {path} holds ids {_format_ids(bad)} outside the allowed values '
                f'{self._allowed()}.{hint}')
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(num_classes={self.num_classes}, ignore_index={self.ignore_index})'
