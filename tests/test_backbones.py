"""The MobileNet family: tables -> layers, taps, ablations, and argument checking."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmv3.analysis import count_model
from mmv3.models.backbones import (ARCHS, MnasNet, MobileNetV1, MobileNetV2, MobileNetV3, dilate,
                                   halve_last_stage, place_hswish)
from mmv3.models.layers import make_divisible


def cls_head(c_in, mid, classes=1001):
    """Params / MAdds of the efficient last stage: 1x1 conv to ``mid`` (bias) + classifier."""
    if mid is None:
        return c_in * classes + classes, c_in * classes
    return c_in * mid + mid + mid * classes + classes, c_in * mid + mid * classes


def test_make_divisible():
    assert make_divisible(16 * 0.75) == 16
    assert make_divisible(18) == 24  # 16 would be > 10% below 18
    assert make_divisible(20) == 24
    assert make_divisible(3, min_value=8) == 8
    assert make_divisible(960 * 0.35) == 336


# Exact backbone parameter counts (pinned) and Table 3 totals with the 1280/1024 head at 224
# and 1001 classes: within 2.5% of the paper (5.4M/219M, 4.0M/155M, 2.5M/56M, 2.0M/44M).
@pytest.mark.parametrize('arch,alpha,backbone_params,paper_params,paper_madds,mid', [
    ('large', 1.0, 2971952, 5.4e6, 219e6, 1280),
    ('large', 0.75, 1789648, 4.0e6, 155e6, 1280),
    ('small', 1.0, 927008, 2.5e6, 56e6, 1024),
    ('small', 0.75, 573480, 2.0e6, 44e6, 1024),
])
def test_table3_v3(arch, alpha, backbone_params, paper_params, paper_madds, mid):
    backbone = MobileNetV3(arch, widen_factor=alpha)
    res = count_model(backbone, (1, 3, 224, 224))
    assert res['params'] == backbone_params
    head_params, head_madds = cls_head(backbone.out_channels[-1], mid)
    assert abs(res['params'] + head_params - paper_params) / paper_params < 0.025
    assert abs(res['madds'] + head_madds - paper_madds) / paper_madds < 0.025


@pytest.mark.parametrize('cls,kwargs,backbone_params,paper_params,paper_madds,tol', [
    (MobileNetV2, {}, 2223872, 3.4e6, 300e6, 0.035),  # the V2 paper's 3.4M is low: 3.51M (+3.1%)
    (MobileNetV2, dict(widen_factor=0.35), 396128, 1.6e6, 59.2e6, 0.05),  # 1.68M (+4.9%)
    (MnasNet, {}, 2606038, 3.9e6, 315e6, 0.025),
    (MobileNetV1, {}, 3206976, 4.2e6, 569e6, 0.025),  # MobileNetV1 paper, Table 8
])
def test_baselines(cls, kwargs, backbone_params, paper_params, paper_madds, tol):
    backbone = cls(**kwargs)
    res = count_model(backbone, (1, 3, 224, 224))
    assert res['params'] == backbone_params
    head_params, head_madds = cls_head(backbone.out_channels[-1], None)
    assert abs(res['params'] + head_params - paper_params) / paper_params < tol
    assert abs(res['madds'] + head_madds - paper_madds) / paper_madds < 0.025


def test_small_has_no_se_on_final_conv():
    m = MobileNetV3('small')
    assert not any('se' in n for n, _ in m.layer12.named_modules())
    assert m.layer11.se is not None


def test_taps_channels_and_strides():
    m = MobileNetV3('large', out_indices=('13.expand', 16, '6.depthwise', 0, 15))
    assert m.out_channels == (672, 960, 120, 16, 160)
    assert [f['reduction'] for f in m.feature_info] == [16, 32, 8, 2, 32]
    outs = m(torch.rand(1, 3, 320, 320))
    assert [tuple(o.shape[1:]) for o in outs] == [(672, 20, 20), (960, 10, 10), (120, 40, 40),
                                                    (16, 160, 160), (160, 10, 10)]
    small = MobileNetV3('small', out_indices=('9.expand', 12, '3.depthwise'))
    assert small.out_channels == (288, 576, 88)
    v2 = MobileNetV2(out_indices=('14.expand', 18, '6.depthwise', 17))
    assert v2.out_channels == (576, 1280, 192, 320)
    v1 = MobileNetV1(out_indices=(11, 13))
    assert v1.out_channels == (512, 1024)
    assert [o.shape[-1] for o in v1(torch.rand(1, 3, 320, 320))] == [20, 10]


def test_expand_tap_equals_submodule_output():
    m = MobileNetV3('large', out_indices=('13.expand', 16)).eval()
    seen = {}
    m.layer13.expand_conv.register_forward_hook(lambda mod, i, o: seen.setdefault('e', o))
    x = torch.rand(1, 3, 96, 96)
    c4, c5 = m(x)
    assert torch.equal(c4, seen['e'])
    full = MobileNetV3('large').eval()
    full.load_state_dict(m.state_dict())
    assert torch.allclose(full(x)[0], c5)


def test_layers_after_deepest_tap_are_not_built():
    m = MobileNetV2(out_indices=('6.depthwise', 17))
    assert m.layer_names[-1] == 'layer17' and not hasattr(m, 'layer18')


@pytest.mark.parametrize('os_,sizes', [(32, [20, 10]), (16, [20, 20]), (8, [40, 40])])
def test_output_stride(os_, sizes):
    m = MobileNetV3('large', out_indices=(12, 16), output_stride=os_)
    outs = m(torch.rand(1, 3, 320, 320))
    assert [o.shape[-1] for o in outs] == sizes
    assert [f['reduction'] for f in m.feature_info] == [min(16, os_), os_]


def test_dilation_placement_tf_convention():
    rows = ARCHS['mobilenet_v3_large'].rows
    plan = dilate(rows, 16)
    # bneck 13 (the last stage's stride-2 block) runs at stride 1 with rate 1; later layers rate 2
    assert plan[13] == (1, 1) and plan[14] == (1, 2) and plan[15] == (1, 2)
    assert plan[7] == (2, 1)
    m = MobileNetV3('large', output_stride=16)
    assert m.layer13.depthwise_conv.conv.dilation == (1, 1)
    assert m.layer14.depthwise_conv.conv.dilation == (2, 2)
    assert m.layer14.depthwise_conv.conv.padding == (4, 4)  # 5x5 kernel, rate 2
    plan8 = dilate(rows, 8)
    assert plan8[7] == (1, 1) and plan8[8] == (1, 2) and plan8[13] == (1, 2) and plan8[14] == (1, 4)


def test_rf2_and_dagger_follow_constructions():
    rows = ARCHS['mobilenet_v3_large'].rows
    rf2 = halve_last_stage(rows, 'rf2', first_expansion=True)
    assert [(r.exp, r.out) for r in rf2[13:]] == [(336, 80), (480, 80), (480, 80), (None, 480)]
    dagger = halve_last_stage(rows, 'dagger')
    assert [(r.exp, r.out) for r in dagger[13:]] == [(672, 80), (480, 80), (480, 80), (None, 480)]
    assert rf2[:13] == rows[:13]
    m = MobileNetV3('large', reduce_tail='rf2', out_indices=(16, ))
    assert (m.layer13.mid_channels, m.layer13.out_channels, m.layer16.out_channels) == (336, 80, 480)
    d = MobileNetV3('large', reduce_tail='dagger', out_indices=('13.expand', 16))
    assert d.out_channels == (672, 480)
    s_rf2 = MobileNetV3('small', reduce_tail='rf2')
    assert (s_rf2.layer9.mid_channels, s_rf2.layer10.mid_channels, s_rf2.layer12.out_channels) == (144, 288, 288)
    s_d = MobileNetV3('small', reduce_tail='dagger', out_indices=('9.expand', 12))
    assert s_d.out_channels == (288, 288) and s_d.layer10.mid_channels == 288
    # MobileNetV2 RF2 (best fit of Table 7): first 160-block keeps exp 576
    v2 = MobileNetV2(reduce_tail='rf2', out_indices=(17, ))
    assert [(getattr(v2, f'layer{i}').mid_channels, getattr(v2, f'layer{i}').out_channels)
            for i in (14, 15, 16, 17)] == [(576, 80), (480, 80), (480, 80), (480, 160)]


def test_nonlinearity_placement_table5():
    def acts(m):
        return [type(getattr(m, n).depthwise_conv.activate).__name__ if i else
                type(getattr(m, n).activate).__name__ for i, n in enumerate(m.layer_names[:16])]
    default = acts(MobileNetV3('large'))
    assert default[0] == 'Hardswish' and set(default[1:7]) == {'ReLU'} and set(default[7:]) == {'Hardswish'}
    assert set(acts(MobileNetV3('large', hswish_from=16))) == {'Hardswish'}
    at112 = acts(MobileNetV3('large', hswish_from=112))
    assert set(at112[1:11]) == {'ReLU'} and set(at112[11:]) == {'Hardswish'}
    all_relu = MobileNetV3('large', act_cfg=dict(HS=dict(type='ReLU')))
    assert set(acts(all_relu)) == {'ReLU'}
    # the ablation changes nonlinearities only, not the parameter count
    assert count_model(all_relu)['params'] == 2971952
    with pytest.raises(ValueError, match='hswish_from=100 matches no layer width'):
        place_hswish(ARCHS['mobilenet_v3_large'].rows, 100)


def test_frozen_stages_and_norm_eval():
    m = MobileNetV3('small', frozen_stages=3, norm_eval=True)
    m.train()
    assert all(not p.requires_grad for n, p in m.named_parameters() if n.startswith(('layer0.', 'layer3.')))
    assert all(p.requires_grad for n, p in m.named_parameters() if n.startswith('layer4.'))
    assert not m.layer0.training and not m.layer5.depthwise_conv.bn.training


def test_with_cp_same_output_and_grad():
    torch.manual_seed(0)
    a = MobileNetV3("small", out_indices=(3, 12)).eval()
    b = MobileNetV3("small", out_indices=(3, 12), with_cp=True).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    sa, sb = sum(o.sum() for o in a(x)), sum(o.sum() for o in b(x))
    assert torch.allclose(sa, sb)
    ga, = torch.autograd.grad(sa, x)
    gb, = torch.autograd.grad(sb, x)
    assert torch.allclose(ga, gb, atol=1e-6)


def test_pretrained_init_with_prefix(tmp_path):
    src = MobileNetV3('small')
    ckpt = tmp_path / 'cls.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, ckpt)
    dst = MobileNetV3('small', init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k


def test_state_dict_keys_match_mmpretrain():
    from mmpretrain.models import MobileNetV3 as MMPretrainV3
    ours = MobileNetV3('large')
    theirs = MMPretrainV3(arch='large', out_indices=(16, ))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(ours(x)[0], theirs(x)[0], atol=1e-5)


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='medium'), r"unknown arch='medium'; allowed: \['large', 'small'\]"),
    (dict(widen_factor=0), 'widen_factor must be a number > 0'),
    (dict(widen_factor=-1.0), 'widen_factor must be a number > 0'),
    (dict(out_indices=(17, )), r'out_indices entry 17 is out of range: this network has layers 0..16'),
    (dict(out_indices=('1.expand', )), 'layer 1 has no expand conv'),
    (dict(out_indices=('13.squeeze', )), "is not a layer index"),
    (dict(output_stride=4), 'output_stride must be 8, 16 or 32'),
    (dict(reduce_tail='rf4'), r"reduce_tail='rf4' is not one of \('rf2', 'dagger'\)"),
    (dict(frozen_stages=17), r'frozen_stages must be in \[-1, 16\]'),
    (dict(act_cfg=dict(XX=dict(type='ReLU'))), 'act_cfg keys must be table codes'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MobileNetV3(**kwargs)


def test_rf2_incompatible_with_v1():
    with pytest.raises(ValueError, match="reduce_tail='rf2' needs inverted-residual blocks"):
        MobileNetV1(reduce_tail='rf2')


@settings(max_examples=25, deadline=None)
@given(arch=st.sampled_from(['large', 'small']),
       alpha=st.floats(min_value=0.2, max_value=1.5),
       output_stride=st.sampled_from([8, 16, 32]),
       reduce_tail=st.sampled_from([None, 'rf2', 'dagger']),
       taps=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=3))
def test_any_valid_arguments_build_and_run(arch, alpha, output_stride, reduce_tail, taps):
    m = MobileNetV3(arch, widen_factor=alpha, output_stride=output_stride, reduce_tail=reduce_tail,
                    out_indices=tuple(taps)).eval()
    outs = m(torch.rand(1, 3, 64, 64))
    assert len(outs) == len(taps)
    for o, c, f in zip(outs, m.out_channels, m.feature_info):
        assert o.shape[1] == c and c % 8 == 0
        assert o.shape[-1] == -(-64 // f['reduction'])


@settings(max_examples=40, deadline=None)
@given(alpha=st.one_of(st.floats(max_value=0.0, allow_nan=False), st.just(float('nan')), st.text(max_size=3)),
       output_stride=st.integers(min_value=-64, max_value=64).filter(lambda s: s not in (8, 16, 32)))
def test_invalid_arguments_always_refused(alpha, output_stride):
    with pytest.raises(ValueError, match='widen_factor'):
        MobileNetV3('small', widen_factor=alpha)
    with pytest.raises(ValueError, match='output_stride must be 8, 16 or 32'):
        MobileNetV3('small', output_stride=output_stride)


def test_residual_block_gradients_match_reference():
    from mmv3.models.layers import InvertedResidual
    torch.manual_seed(0)
    block = InvertedResidual(16, 64, 16, 3, 1, se_channels=16).train()
    x = torch.rand(2, 16, 8, 8, requires_grad=True)
    ours, = torch.autograd.grad(block(x).square().sum(), x)
    ref_out = block.linear_conv(block.se(block.depthwise_conv(block.expand_conv(x)))) + x
    ref, = torch.autograd.grad(ref_out.square().sum(), x)
    assert torch.allclose(ours, ref, atol=1e-6)
