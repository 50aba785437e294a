"""Images smaller than the network's total stride are handled, not refused (documented in the README).

Every stride-2 conv pads, so each stage maps H to ceil(H / 2) and never below 1x1; LR-ASPP's pooling
becomes global when its 49x49 kernel exceeds the feature map; the segmentation logits are resized back
to the input. (Training needs more than one value per BN channel: batch x H x W > 1 at the deepest map.)
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmv3  # noqa: F401
from mmv3.models.backbones import MobileNetV3
from mmv3.registry import MODELS


@pytest.mark.parametrize('size', [1, 7, 31])
def test_backbone_accepts_images_below_total_stride(size):
    m = MobileNetV3('large', out_indices=('6.depthwise', 16), output_stride=32).eval()
    with torch.no_grad():
        low, high = m(torch.rand(1, 3, size, size))
    assert high.shape[-2:] == (1, 1) and low.shape[-1] == -(-size // 8)


@pytest.mark.parametrize('size', [9, 33])
def test_main_seg_model_predicts_full_size_for_tiny_images(size):
    cfg = Config.fromfile('configs/seg/lraspp_v3_large_cityscapes.py')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, size, 2 * size), mode='tensor')
    assert logits.shape[1] == 19 and torch.isfinite(logits).all()
    with torch.no_grad():
        seg = model.predict(torch.rand(1, 3, size, 2 * size))
    assert seg[0].pred_sem_seg.data.shape[-2:] == (size, 2 * size)


def test_training_step_on_image_below_total_stride():
    m = MobileNetV3('small', out_indices=(12, )).train()
    out, = m(torch.rand(2, 3, 20, 20))  # 20 < 32: the deepest map is 1x1, batch 2 keeps BN defined
    out.mean().backward()
    assert out.shape[-2:] == (1, 1)
