"""Per-layer widths as data (``arch_overrides``, NetAdapt's output): exact layers, residual groups, refusals."""
import pytest
import torch
from mmengine.config import Config

from mmv3.models.backbones import MnasNet, MobileNetV1, MobileNetV2, MobileNetV3, residual_groups
from mmv3.registry import MODELS


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def bneck_params(cin, mid, cout, k, se=None):
    """Params of one bneck with an expansion conv: convs without bias + BN, SE convs with bias."""
    p = cin * mid + 2 * mid + k * k * mid + 2 * mid + mid * cout + 2 * cout
    if se:
        p += mid * se + se + se * mid + mid
    return p


def shapes(m):
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


def test_empty_overrides_build_the_same_model():
    ref = MobileNetV3('large', out_indices=('13.expand', 16))
    for empty in ({}, None):
        m = MobileNetV3('large', out_indices=('13.expand', 16), arch_overrides=empty)
        assert shapes(m) == shapes(ref)
        assert m.feature_info == ref.feature_info and m.plan == ref.plan


def test_exp_override_changes_exactly_that_block():
    ref, m = MobileNetV3('large'), MobileNetV3('large', arch_overrides={3: dict(exp=48)})
    assert (m.layer3.in_channels, m.layer3.mid_channels, m.layer3.out_channels) == (24, 48, 24)
    assert m.layer3.expand_conv.conv.out_channels == 48 and m.layer3.depthwise_conv.conv.groups == 48
    assert n_params(ref) - n_params(m) == bneck_params(24, 72, 24, 3) - bneck_params(24, 48, 24, 3) == 1464
    a, b = shapes(ref), shapes(m)
    changed = {k for k in a if a[k] != b[k]}
    assert changed and all(k.startswith('layer3.') for k in changed) and a.keys() == b.keys()
    assert m.layer3.with_res_shortcut  # a residual block keeps its residual


def test_se_follows_the_new_expansion():
    ref, m = MobileNetV3('large'), MobileNetV3('large', arch_overrides={5: dict(exp=96)})
    assert ref.layer5.se.conv1.conv.out_channels == 32
    assert m.layer5.se.conv1.conv.out_channels == 24  # make_divisible(96 / 4, 8)
    assert n_params(ref) - n_params(m) == bneck_params(40, 120, 40, 5, 32) - bneck_params(40, 96, 40, 5, 24)
    # MnasNet squeezes the block's input: the SE of bneck 5 follows the group's new width
    mn = MnasNet(arch_overrides={i: dict(out=32) for i in (4, 5, 6)})
    assert (mn.layer5.in_channels, mn.layer5.se.conv1.conv.out_channels) == (32, 8)  # int(32 / 4)
    assert MnasNet().layer5.se.conv1.conv.out_channels == 10


def test_residual_group_must_change_together():
    assert MobileNetV3('large').residual_groups() == [(0, 1), (2, 3), (4, 5, 6), (7, 8, 9, 10), (11, 12),
                                                      (13, 14, 15)]
    assert MobileNetV3('small').residual_groups() == [(2, 3), (4, 5, 6), (7, 8), (9, 10, 11)]
    assert MobileNetV2().residual_groups() == [(2, 3), (4, 5, 6), (7, 8, 9, 10), (11, 12, 13), (14, 15, 16)]
    assert MobileNetV1().residual_groups() == []
    with pytest.raises(ValueError, match=r"^arch_overrides: rows 4, 5, 6 share a residual connection "
                                         r"\(stage output 40\): give them the same 'out' \(got 4: 32\)$"):
        MobileNetV3('large', arch_overrides={4: dict(out=32)})
    with pytest.raises(ValueError, match=r"rows 4, 5, 6 share .* \(got 5: 32, 6: 32\)"):
        MobileNetV3('large', arch_overrides={5: dict(out=32), 6: dict(out=32)})
    m = MobileNetV3('large', out_indices=(6, '7.expand'), arch_overrides={i: dict(out=32) for i in (4, 5, 6)}).eval()
    assert m.out_channels == (32, 240) and m.layer7.in_channels == 32 and m.layer7.mid_channels == 240
    assert m.residual_groups() == MobileNetV3('large').residual_groups()
    assert [m.layer4.with_res_shortcut, m.layer5.with_res_shortcut, m.layer6.with_res_shortcut] == [False, True, True]
    seen = {}
    m.layer5.register_forward_hook(lambda mod, i, o: seen.update(x=i[0].clone(), out=o.clone()))
    m.layer5.linear_conv.register_forward_hook(lambda mod, i, o: seen.update(lin=o.clone()))
    with torch.no_grad():
        m(torch.rand(1, 3, 64, 64))
    assert seen['out'].shape[1] == 32 and torch.allclose(seen['out'], seen['lin'] + seen['x'])
    # the stem and bneck 1 (no expansion conv: it runs on its new input) change together
    s = MobileNetV3('large', arch_overrides={0: dict(out=24), 1: dict(out=24)})
    assert (s.layer1.in_channels, s.layer1.mid_channels, s.layer1.out_channels) == (24, 24, 24)
    assert s.layer1.expand_conv is None and s.layer1.with_res_shortcut and s.layer2.in_channels == 24


def test_out_override_outside_residual_groups():
    # V3-Small bneck 1 (stride 2, no expansion conv) and the final conv belong to no group
    ref = MobileNetV3('small', out_indices=(1, 12))
    m = MobileNetV3('small', out_indices=(1, 12), arch_overrides={1: dict(out=24), 12: dict(out=512)})
    assert m.out_channels == (24, 512)
    assert m.feature_info == [dict(num_chs=24, reduction=4, module='layer1', index=1),
                              dict(num_chs=512, reduction=32, module='layer12', index=12)]
    assert (m.layer2.in_channels, m.layer2.mid_channels) == (24, 72)  # an expansion is a final count: kept
    assert m.layer1.se.conv1.conv.out_channels == 8  # SE of bneck 1 squeezes its unchanged 16 expansion
    delta = (16 * 8 + 2 * 8  # bneck 1's projection: 16 -> 24 outputs (+ BN)
             + 8 * 72  # bneck 2's expansion conv: 16 -> 24 inputs
             - (96 * 64 + 2 * 64))  # final conv: 576 -> 512 outputs (+ BN)
    assert n_params(m) - n_params(ref) == delta == -5552
    assert [o.shape[1] for o in m(torch.rand(1, 3, 64, 64))] == [24, 512]


def test_with_width_multiplier_rf2_output_stride_and_taps():
    kw = dict(widen_factor=0.75, reduce_tail='rf2', output_stride=16, out_indices=('13.expand', '13.depthwise', 16))
    ref = MobileNetV3('large', **kw)
    assert ref.out_channels == (264, 264, 360)  # 88 x 336 / 112 (the RF2 ratio over the rounded input)
    m = MobileNetV3('large', arch_overrides={13: dict(exp=200), 16: dict(out=400)}, **kw).eval()
    assert m.out_channels == (200, 200, 400)
    assert [f['reduction'] for f in m.feature_info] == [16, 16, 16]
    assert m.layer14.in_channels == ref.layer14.in_channels == 64 and m.layer14.depthwise_conv.conv.dilation == (2, 2)
    outs = m(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(200, 4, 4), (200, 4, 4), (400, 4, 4)]
    # rows after the deepest tap are not built, but their overrides are still checked
    short = MobileNetV3('large', out_indices=(5, ), arch_overrides={13: dict(exp=200)})
    assert short.layer_names[-1] == 'layer5' and short.plan[13].mid == 200
    with pytest.raises(ValueError, match='rows 13, 14, 15 share'):
        MobileNetV3('large', out_indices=(5, ), arch_overrides={14: dict(out=64)})


@pytest.mark.parametrize('cls,overrides,match', [
    (MobileNetV3, {0: dict(exp=8)}, r"^arch_overrides: row 0 has no expansion conv \(it is a 'conv' layer\); "
                                    r"only 'out' can be set there$"),
    (MobileNetV3, {1: dict(exp=32)}, r"row 1 has no expansion conv \(it is a bneck whose expansion equals its input\)"),
    (MobileNetV3, {16: dict(exp=32)}, r"row 16 has no expansion conv \(it is a 'conv' layer\)"),
    (MobileNetV1, {3: dict(exp=64)}, r"row 3 has no expansion conv \(it is a 'dwsep' layer\)"),
    (MobileNetV3, {3: dict(exp=48, mid=48)}, r"^arch_overrides: row 3: unknown keys \['mid'\]; allowed: 'exp'"),
    (MobileNetV3, {17: dict(out=8)}, r"^arch_overrides: row 17 is not a layer of this network: rows are the ints "
                                     r"0\.\.16"),
    (MobileNetV3, {-1: dict(out=8)}, r"row -1 is not a layer"),
    (MobileNetV3, {'3': dict(exp=48)}, r"row '3' is not a layer"),  # what --cfg-options writes
    (MobileNetV3, {3: dict(exp=0)}, r"^arch_overrides: row 3 'exp' must be a positive int \(a final channel "
                                    r"count\), got 0$"),
    (MobileNetV3, {3: dict(exp=40.0)}, r"row 3 'exp' must be a positive int"),
    (MobileNetV3, {16: dict(out=True)}, r"row 16 'out' must be a positive int"),
    (MobileNetV3, {3: 48}, r"row 3 must map to dict\(exp=\.\.\., out=\.\.\.\), got 48"),
    (MobileNetV3, [(3, dict(exp=48))], r"^arch_overrides must be a dict"),
    (MobileNetV3, {3: dict(exp=24)}, r"^arch_overrides: row 3 would expand to 24 channels, its input width, which "
                                     r"removes its expansion conv"),
    (MobileNetV3, {11: dict(out=80), 12: dict(out=80)}, r"^arch_overrides: row 11 would output 80 channels, its input "
                                                        r"width, at stride 1, which adds a residual connection"),
    (MobileNetV2, {1: dict(out=32)}, r"row 1 would output 32 channels, its input width, at stride 1"),
])
def test_bad_overrides_are_named(cls, overrides, match):
    with pytest.raises(ValueError, match=match):
        cls(arch_overrides=overrides)


def test_residual_groups_over_rows():
    plan = MobileNetV3('small').plan
    assert residual_groups(plan) == [(2, 3), (4, 5, 6), (7, 8), (9, 10, 11)]
    assert [i for i, p in enumerate(plan) if p.residual] == [3, 5, 6, 8, 10, 11]


def test_config_route_with_int_keys(tmp_path):
    m = MODELS.build(dict(type='mmv3.MobileNetV3', arch='large', arch_overrides={3: dict(exp=48)}))
    assert m.layer3.mid_channels == 48
    src = tmp_path / 'adapted.py'
    src.write_text("model = dict(type='mmv3.MobileNetV3', arch='small', out_indices=(12, ),\n"
                   "             arch_overrides={9: dict(exp=240), 12: dict(out=512)})\n")
    cfg = Config.fromfile(str(src))
    assert sorted(cfg.model.arch_overrides) == [9, 12]  # int keys survive
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    again = Config.fromfile(str(dumped))
    assert again.model.arch_overrides == {9: dict(exp=240), 12: dict(out=512)}
    for c in (cfg, again):
        b = MODELS.build(c.model)
        assert b.out_channels == (512, ) and b.layer9.mid_channels == 240
        assert b.layer9.se.conv1.conv.out_channels == 64  # make_divisible(240 / 4, 8)
