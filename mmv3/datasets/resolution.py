"""Config helper: an ImageNet pipeline of ``configs/_base_/datasets/imagenet_bs512_inception_224.py``
at another input resolution (the paper's Figure 7 sweep, ``configs/cls/*-{96,...,256}px.py``).

mmengine configs cannot override one element of a base list, so a resolution config states its
resolution once and rebuilds the base's pipelines with :func:`at_resolution`::

    _base_ = ['./mobilenet-v3-large_8xb512_in1k.py']
    from mmv3.datasets.resolution import at_resolution  # after ``_base_`` (mmengine's rule)
    resolution = 160
    train_pipeline = at_resolution(_base_.train_pipeline, resolution)
    ...

Only the sizes change: the Inception random crop is resized to ``resolution``; evaluation keeps the
Inception central crop of 87.5 % (short edge ``round(resolution / 0.875)``, centre crop ``resolution``).
"""
import copy
from typing import List

__all__ = ['EVAL_CROP_FRACTION', 'at_resolution']

#: Inception central crop: the centre crop is 87.5 % of the resized short edge (224 of 256).
EVAL_CROP_FRACTION = 0.875

_SIZE_KEYS = ('scale', 'crop_size', 'size', 'img_scale')


def _sizes(resolution: int) -> dict:
    return {
        'RandomResizedCrop': {'scale': resolution},
        'ResizeEdge': {'scale': round(resolution / EVAL_CROP_FRACTION)},
        'CenterCrop': {'crop_size': resolution},
    }


def at_resolution(pipeline: List[dict], resolution: int) -> List[dict]:
    """A copy of ``pipeline`` (a list of transform dicts) with its sizes set for ``resolution``.

    ``RandomResizedCrop.scale`` -> ``resolution``, ``ResizeEdge.scale`` -> ``round(resolution /
    0.875)``, ``CenterCrop.crop_size`` -> ``resolution``; every other key and transform is kept.
    Raises ``ValueError`` if the pipeline has none of these, or a sized transform this helper does
    not know (it would silently stay at the base's size).
    """
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1:
        raise ValueError(f'resolution must be a positive int, got {resolution!r}')
    sizes = _sizes(resolution)
    out, changed = [], 0
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        if t.get('type') in sizes:
            t.update(sizes[t['type']])
            changed += 1
        elif any(k in t for k in _SIZE_KEYS):
            raise ValueError(f"at_resolution: {t.get('type')!r} has a size that is not derived from the "
                             f'resolution; extend mmv3/datasets/resolution.py for it')
        out.append(t)
    if not changed:
        raise ValueError('at_resolution: the pipeline has no RandomResizedCrop / ResizeEdge / CenterCrop')
    return out
