"""Unit tests of the segmentation heads (LR-ASPP, R-ASPP) on plain tensors."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.structures import SegDataSample

import mmv3.models.decode_heads  # noqa: F401  (registers the heads)
from mmv3.models.decode_heads import LRASPPHead, RASPPHead
from mmv3.models.decode_heads.lraspp_head import gate_pool

BN = dict(type='BN', requires_grad=True)


def _lraspp(F=128, skip=120, high=480, num_classes=19, **kw):
    return LRASPPHead(
        in_channels=(skip, high), channels=F, num_classes=num_classes, norm_cfg=BN, **kw)


def _features(n, skip, high, h, w):
    """Backbone-like outputs for an h x w image: (1/8 skip, 1/16 features), SAME-padding sizes."""
    return [torch.randn(n, skip, -(-h // 8), -(-w // 8)), torch.randn(n, high, -(-h // 16), -(-w // 16))]


def _samples(n, h, w, num_classes=19):
    samples = []
    for i in range(n):
        label = torch.randint(0, num_classes, (1, h, w), generator=torch.Generator().manual_seed(i))
        label[:, :2] = 255  # some ignored pixels
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return samples


@pytest.mark.parametrize('h, w', [(1025, 2049), (769, 769), (513, 1025), (97, 161), (65, 33), (33, 65),
                                  (17, 17), (1, 1)])
def test_lraspp_shapes_any_size(h, w):
    head = _lraspp(align_corners=True).eval()
    skip, x = _features(2, 120, 480, h, w)
    with torch.no_grad():
        out = head([skip, x])
    assert out.shape == (2, 19, skip.shape[2], skip.shape[3])  # classifier runs at 1/8
    assert torch.isfinite(out).all()


def test_gate_pool_paper_size_and_global_fallback():
    # 1025x2049 -> 65x129 at 1/16 -> a 2x5 pooled map with kernel 49, stride (16, 20).
    x = torch.randn(1, 3, 65, 129)
    pooled = gate_pool(x, (49, 49), (16, 20))
    assert pooled.shape == (1, 3, 2, 5)
    assert torch.allclose(pooled[..., 1, 4], x[..., 16:65, 80:129].mean(dim=(-2, -1)), atol=1e-6)
    # 769x769 crop -> 49x49: exactly global pooling; smaller maps too.
    for h, w in [(49, 49), (48, 30), (1, 1), (7, 200)]:
        x = torch.randn(2, 4, h, w)
        pooled = gate_pool(x, (49, 49), (16, 20))
        if w <= 49:
            assert pooled.shape == (2, 4, 1, 1)
            assert torch.allclose(pooled[..., 0, 0], x.mean(dim=(-2, -1)), atol=1e-6)
        else:  # global along h only, windowed along w
            assert pooled.shape == (2, 4, 1, (w - 49) // 20 + 1)
            assert torch.allclose(pooled[..., 0, 0], x[..., :49].mean(dim=(-2, -1)), atol=1e-6)


def test_lraspp_matches_figure_10():
    """The forward equals the paper's construction, written out by hand."""
    head = _lraspp(F=16, skip=8, high=12, num_classes=5, dropout_ratio=0.0, align_corners=False).eval()
    skip, x = _features(1, 8, 12, 1025, 2049)
    with torch.no_grad():
        out = head([skip, x])
        a = head.conv_high(x)
        b = torch.sigmoid(head.conv_gate(torch.nn.functional.avg_pool2d(x, 49, (16, 20))))
        b = torch.nn.functional.interpolate(b, size=a.shape[2:], mode='bilinear', align_corners=False)
        y = torch.nn.functional.interpolate(a * b, size=skip.shape[2:], mode='bilinear', align_corners=False)
        ref = head.conv_seg(y) + head.skip_cls(skip)
    assert x.shape[2:] == (65, 129) and b.shape[2:] == (65, 129)
    assert torch.allclose(out, ref, atol=1e-5)
    assert head.conv_gate.bias is not None and head.skip_cls.bias is not None
    assert head.conv_high.bn is not None and head.conv_high.conv.bias is None


@pytest.mark.parametrize('F, skip, high', [(128, 120, 480), (256, 120, 480), (128, 88, 288), (128, 192, 160)])
def test_lraspp_exact_params(F, skip, high):
    k = 19
    head = _lraspp(F=F, skip=skip, high=high, num_classes=k)
    n = sum(p.numel() for p in head.parameters())
    expected = (high * F + 2 * F) + (high * F + F) + (F * k + k) + (skip * k + k)
    assert n == expected


def test_lraspp_loss_backward_and_registry():
    head = SEG_MODELS.build(
        dict(type='mmv3.LRASPPHead', in_channels=(24, 40), in_index=(0, 1), channels=32, num_classes=7,
             norm_cfg=BN, align_corners=True))
    assert isinstance(head, LRASPPHead)
    head.init_weights()
    head.train()
    h, w = 97, 81
    losses = head.loss(tuple(_features(2, 24, 40, h, w)), _samples(2, h, w, 7), train_cfg=None)
    assert set(losses) == {'loss_ce', 'acc_seg'}
    losses['loss_ce'].backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_lraspp_in_index_selects_from_longer_tuple():
    head = _lraspp(F=8, skip=4, high=6, num_classes=3, in_index=(2, 0)).eval()
    skip, x = _features(1, 4, 6, 64, 64)
    with torch.no_grad():
        out = head([x, torch.zeros(1, 1, 1, 1), skip])
    assert out.shape == (1, 3, 8, 8)


def test_lraspp_bad_arguments():
    with pytest.raises(ValueError, match='multiple_select'):
        _lraspp(input_transform='resize_concat')
    with pytest.raises(ValueError, match='in_channels and in_index'):
        LRASPPHead(in_channels=480, channels=128, num_classes=19, in_index=-1)
    with pytest.raises(ValueError, match='pool_stride'):
        _lraspp(pool_stride=(16, 0))
    with pytest.raises(ValueError, match='pool_kernel'):
        _lraspp(pool_kernel='49')


@pytest.mark.parametrize('h, w', [(1025, 2049), (769, 769), (65, 33), (16, 16)])
def test_raspp_shapes(h, w):
    head = RASPPHead(in_channels=320, channels=256, num_classes=19, norm_cfg=BN).eval()
    x = torch.randn(2, 320, -(-h // 16), -(-w // 16))
    with torch.no_grad():
        out = head([x])
    assert out.shape == (2, 19, x.shape[2], x.shape[3])  # R-ASPP predicts at 1/16


def test_raspp_construction_and_params():
    F, c, k = 256, 320, 19
    head = RASPPHead(in_channels=c, channels=F, num_classes=k, norm_cfg=BN, dropout_ratio=0.0).eval()
    n = sum(p.numel() for p in head.parameters())
    assert n == 2 * (c * F + 2 * F) + (2 * F * F + 2 * F) + (F * k + k)
    x = torch.randn(1, c, 5, 7)
    with torch.no_grad():
        b1 = head.conv_1x1(x)
        b2 = head.image_pool[1](x.mean(dim=(2, 3), keepdim=True)).expand_as(b1)
        ref = head.conv_seg(head.project(torch.cat([b1, b2], 1)))
        assert torch.allclose(head([x]), ref, atol=1e-5)


def test_raspp_multiple_select_and_backward():
    head = SEG_MODELS.build(
        dict(type='mmv3.RASPPHead', in_channels=(24, 40), in_index=(0, 1), input_transform='multiple_select',
             channels=16, num_classes=5, norm_cfg=BN))
    assert isinstance(head, RASPPHead)
    head.train()
    h, w = 65, 49
    losses = head.loss(tuple(_features(2, 24, 40, h, w)), _samples(2, h, w, 5), train_cfg=None)
    losses['loss_ce'].backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match='resize_concat'):
        RASPPHead(in_channels=(24, 40), in_index=(0, 1), input_transform='resize_concat', channels=16,
                  num_classes=5)
