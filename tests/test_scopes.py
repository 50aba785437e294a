"""mmv3 modules build the same whatever toolbox scope the caller has made current."""
import pytest
from mmengine.registry import DefaultScope

import mmv3  # noqa: F401
from mmv3.registry import MODELS

HEADS = [
    dict(type='mmv3.SSDLiteHead', num_classes=80, in_channels=(96, 320, 512, 256, 256, 128),
         anchor_generator=dict(type='mmv3.SSDLiteAnchorGenerator', strides=[16, 32, 64, 107, 160, 320])),
    dict(type='mmv3.LRASPPHead', in_channels=(120, 480), in_index=(0, 1), channels=128, num_classes=19),
    dict(type='mmv3.RASPPHead', in_channels=480, channels=256, num_classes=19),
]


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmseg', 'mmdet'])
@pytest.mark.parametrize('cfg', HEADS, ids=lambda c: c['type'][5:])
def test_heads_build_their_toolbox_parts_in_any_scope(scope, cfg):
    with DefaultScope.overwrite_default_scope(scope):
        head = MODELS.build(cfg)
    if cfg['type'] == 'mmv3.SSDLiteHead':
        assert type(head.bbox_coder).__module__.startswith('mmdet.')
    else:
        assert type(head.loss_decode).__module__.startswith('mmseg.')
