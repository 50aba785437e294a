"""pad_type='same': TensorFlow's 'SAME' padding of strided convs (Conv2dSame), in the layers,
the backbone, and through BN folding + ONNX export (static and dynamic shapes)."""
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmv3.models.backbones import MobileNetV3
from mmv3.models.layers import Conv2dSame, ConvModule, InvertedResidual, same_pad_total

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _tf_same_reference(x, conv):
    """TF 'SAME' written out: pad_total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0),
    total // 2 before, the rest after; then a VALID conv with the same weights."""
    pads = []
    for n, k, s, d in zip(x.shape[-2:], conv.kernel_size, conv.stride, conv.dilation):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    (t, b), (left, r) = pads
    return F.conv2d(F.pad(x, (left, r, t, b)), conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


def test_same_pad_total_is_tf_formula():
    for k in (1, 3, 5, 7):
        for s in (1, 2, 3):
            for d in (1, 2, 4):
                for n in range(1, 50):
                    want = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
                    assert same_pad_total(n, k, s, d) == want, (n, k, s, d)


@pytest.mark.parametrize('k,s,d,groups', [(3, 2, 1, 1), (5, 2, 1, 8), (3, 2, 2, 8), (1, 2, 1, 1), (3, 1, 1, 8)])
def test_conv2d_same_equals_tf_reference(k, s, d, groups):
    import timm.layers
    torch.manual_seed(0)
    conv = Conv2dSame(8, 8, k, s, 0, d, groups, bias=True)
    ref_timm = timm.layers.create_conv2d(8, 8, k, stride=s, dilation=d, groups=groups, padding='same', bias=True)
    ref_timm.load_state_dict(conv.state_dict())
    for h, w in [(16, 16), (17, 17), (16, 17), (9, 30)]:
        x = torch.randn(2, 8, h, w)
        with torch.no_grad():
            out = conv(x)
            assert torch.equal(out, _tf_same_reference(x, conv))
            assert torch.allclose(out, ref_timm(x), atol=1e-6)
            assert out.shape[-2:] == (math.ceil(h / s), math.ceil(w / s))


def test_pad_type_threads_to_strided_convs_only():
    m = ConvModule(3, 16, 3, 2, pad_type='same')
    assert type(m.conv) is Conv2dSame and m.conv.padding == (0, 0)
    assert type(ConvModule(16, 16, 3, 1, pad_type='same').conv) is nn.Conv2d  # stride 1: symmetric = SAME
    assert type(ConvModule(3, 16, 3, 2).conv) is nn.Conv2d
    blk = InvertedResidual(16, 64, 24, 5, 2, pad_type='same')
    assert type(blk.depthwise_conv.conv) is Conv2dSame and type(blk.expand_conv.conv) is nn.Conv2d
    bb = MobileNetV3('large', pad_type='same', output_stride=16, out_indices=(16, ))
    same = [n for n, mod in bb.named_modules() if isinstance(mod, Conv2dSame)]
    strided = [n for n, mod in bb.named_modules() if isinstance(mod, nn.Conv2d) and mod.stride != (1, 1)]
    assert same == strided and len(same) == 4  # stem + 3 strided bnecks (the 4th stage is atrous)
    # the parameter names are unchanged
    assert list(bb.state_dict()) == list(MobileNetV3('large', output_stride=16, out_indices=(16, )).state_dict())
    with pytest.raises(ValueError, match="pad_type must be one of"):
        MobileNetV3('large', pad_type='SAME')


def test_same_backbone_differs_from_symmetric_at_even_sizes_only():
    from test_deploy import randomize_bn
    torch.manual_seed(0)
    a = randomize_bn(MobileNetV3('small', pad_type='same', out_indices=(12, )).eval())
    b = MobileNetV3('small', out_indices=(12, )).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        x = torch.randn(1, 3, 225, 225)
        ref = a(x)[0]
        assert (ref - b(x)[0]).abs().max() <= 1e-5 * ref.abs().max()
        x = torch.randn(1, 3, 224, 224)
        ref = a(x)[0]
        assert (ref - b(x)[0]).abs().max() > 1e-2 * ref.abs().max()


def test_same_padding_survives_fold_and_dynamic_onnx(tmp_path):
    """BN folding keeps Conv2dSame; the ONNX graph pads per input size (dynamic export, odd + even)."""
    pytest.importorskip('onnxruntime')
    from test_deploy import SEG_CFG, prepare_randomized

    from mmv3.deploy.pipeline import export
    prep = prepare_randomized(SEG_CFG, (128, 256), {'model.backbone.pad_type': 'same'})
    # stem + the 3 strided bnecks of V3-Small at output stride 16
    assert sum(isinstance(m, Conv2dSame) for m in prep.folded.modules()) == 4
    res = export(prep, str(tmp_path / 'seg.onnx'), dynamic=True, extra_shapes=[(97, 130), (161, 193)])
    assert res['ops'].get('Pad', 0) == 4 + 1 and res['bn_left'] == 0  # + the head's pool Pad (without: 1)
    assert [c['shape'][2:] for c in res['checks']] == [(128, 256), (97, 130), (161, 193)]
    for c in res['checks']:
        assert c['ok'] and c['max_abs_diff'] < 1e-4, c
