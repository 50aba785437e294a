"""``mmv3.FloatResize``: torchvision's detection resize (bilinear on the float image, fixed size)."""
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform

from mmv3.registry import TRANSFORMS


@TRANSFORMS.register_module()
class FloatResize(BaseTransform):
    """Resize the image to a fixed ``(w, h)`` in float32 with PyTorch's bilinear interpolation.

    torchvision's detectors (``GeneralizedRCNNTransform``) resize the *float* image tensor with
    ``F.interpolate(mode='bilinear', align_corners=False)`` (no antialiasing); with
    ``fixed_size`` (its SSD/SSDLite) to exactly that size, whatever the aspect ratio. mmdet's
    ``Resize`` resizes the uint8 image with OpenCV and rounds the result to uint8 (up to 0.5
    grey levels off, and OpenCV's fixed-point weights), so a model trained in torchvision sees
    slightly different inputs. This transform computes torchvision's interpolation itself and
    keeps the float32 result (the data preprocessor normalises floats as it does uint8), so the
    network input equals torchvision's up to float rounding (torchvision normalises before
    resizing; both are affine per channel, so the order changes only the last bits).

    Sets ``img`` (float32, H x W x C), ``img_shape`` = ``(h, w)``, ``scale_factor`` =
    ``(w / W, h / H)`` and ``keep_ratio=False`` like mmdet's ``Resize``; ground-truth boxes, if
    loaded already, are scaled and clipped like ``Resize`` does.

    Args:
        scale (int | tuple[int, int]): Output ``(w, h)`` (an int: square). Defaults to 320.
        antialias (bool): ``F.interpolate``'s ``antialias`` (torchvision's detection
            transform: False). Defaults to False.
    """

    def __init__(self, scale=320, antialias=False):
        if isinstance(scale, int):
            scale = (scale, scale)
        if (not isinstance(scale, (tuple, list)) or len(scale) != 2
                or not all(isinstance(v, int) and v > 0 for v in scale)):
            raise ValueError(f'FloatResize: scale must be a positive int or (w, h), got {scale!r}')
        self.scale = tuple(scale)
        self.antialias = antialias

    def transform(self, results):
        img = results['img']
        h0, w0 = img.shape[:2]
        w, h = self.scale
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        x = x[..., None] if x.ndim == 2 else x
        x = F.interpolate(x.permute(2, 0, 1)[None], size=(h, w), mode='bilinear', align_corners=False,
                          antialias=self.antialias)
        out = x[0].permute(1, 2, 0).numpy()
        results['img'] = out[..., 0] if img.ndim == 2 else out
        results['img_shape'] = (h, w)
        results['scale_factor'] = (w / w0, h / h0)
        results['keep_ratio'] = False
        if results.get('gt_bboxes') is not None:
            results['gt_bboxes'].rescale_(results['scale_factor'])
            results['gt_bboxes'].clip_((h, w))
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(scale={self.scale}, antialias={self.antialias})'
