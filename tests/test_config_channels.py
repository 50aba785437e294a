"""Every config's hand-written channel counts equal what its backbone declares.

A head's (and SSDLite's neck's) ``in_channels`` cannot be derived inside an mmengine config, so
each config writes the number with a comment saying where it comes from; this builds every
backbone under ``configs/{cls,seg,det}`` and checks the numbers against ``backbone.out_channels``.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(osp.relpath(p, ROOT) for task in ('cls', 'seg', 'det')
                 for p in glob.glob(osp.join(ROOT, 'configs', task, '*.py')))


def _registry(scope):
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS
    elif scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    return MODELS


def test_every_task_has_configs():
    assert {p.split(osp.sep)[1] for p in CONFIGS} == {'cls', 'seg', 'det'}


@pytest.mark.parametrize('path', CONFIGS)
def test_head_in_channels_equal_backbone_out_channels(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    init_default_scope(cfg.default_scope)
    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.pop('init_cfg', None)  # no checkpoint needed to read the widths
    out = tuple(_registry(cfg.default_scope).build(backbone_cfg).out_channels)
    model = cfg.model
    if 'head' in model:  # mmpretrain: neck = global pooling, the head reads the last output
        assert model.head.in_channels == out[-1]
    elif 'decode_head' in model:  # mmseg: the head picks outputs by in_index
        head = model.decode_head
        index, chans = head.in_index, head.in_channels
        if isinstance(index, int):
            assert chans == out[index]
        else:
            assert tuple(chans) == tuple(out[i] for i in index)
    else:  # mmdet SSDLite: neck reads (C4, C5), the head reads every neck output
        assert tuple(model.neck.in_channels) == out
        assert tuple(model.bbox_head.in_channels) == tuple(model.neck.out_channels)
        assert tuple(model.neck.out_channels[:len(out)]) == out
