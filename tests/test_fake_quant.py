"""mmv3.deploy.fake_quant (issue 16, item 4): the weight / activation int8 model behind
tools/analysis_tools/int8_error_sources.py."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmv3.deploy.fake_quant import (error_sources, fake_quant_uint8, input_stats, mse_range, quant_layers,
                                    quantize_weight, simulate, stem_layers)

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import REPO, error_line, run_tool  # noqa: E402


def test_weights_on_the_per_channel_int8_grid():
    torch.manual_seed(0)
    w = torch.randn(8, 4, 3, 3)
    w[3] = 0
    q = quantize_weight(w)
    scale = w.abs().amax((1, 2, 3), keepdim=True) / 127
    steps = q[torch.arange(8) != 3] / scale[torch.arange(8) != 3]
    assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= 127 + 1e-4
    assert (q - w).abs().le(scale / 2 + 1e-7).all()
    assert torch.equal(q[3], w[3])  # an all-zero channel stays zero
    # the largest weight of each channel is exact
    assert torch.allclose(q.abs().amax((1, 2, 3)), w.abs().amax((1, 2, 3)))


def test_uint8_activations_256_levels_zero_exact():
    x = torch.linspace(-1, 5, 10001)
    q = fake_quant_uint8(x, -1.0, 5.0)
    assert len(torch.unique(q)) <= 256 and (q - x).abs().max() <= 6 / 255 / 2 + 1e-6
    assert fake_quant_uint8(torch.zeros(3), -1.0, 5.0).eq(0).all()
    assert fake_quant_uint8(torch.tensor([9.0]), -1.0, 5.0).item() == pytest.approx(5.0, abs=6 / 255)  # clipped
    # a long tail: MSE-optimal range clips it, and beats min / max on the squared error
    g = torch.Generator().manual_seed(0)
    t = torch.cat([torch.rand(100000, generator=g), torch.tensor([60.0])])
    lo, hi = mse_range(t)
    assert hi < 60 and ((fake_quant_uint8(t, lo, hi) - t)**2).mean() < ((fake_quant_uint8(t, 0, 60) - t)**2).mean()


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 1), nn.ReLU(),
                         nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, 10)).eval()


def test_simulate_off_is_identity_and_bias_correction_removes_the_mean_shift():
    net = _net()
    x = torch.rand(16, 3, 12, 12) + 0.5  # positive-mean inputs: the weight rounding shifts the outputs
    layers = quant_layers(net)
    assert layers == ['0', '2', '4', '8'] and stem_layers(net) == ['0']
    assert quant_layers(net, ['8']) == ['0', '2', '4']
    stats = input_stats(net, layers, x)
    with torch.no_grad():
        assert torch.equal(simulate(net, stats, weights=False, activations=False)(x), net(x))
        # the 1x1 conv alone (no padding): bias correction makes the mean output shift per channel vanish
        one = {'2': stats['2']}
        h = torch.relu(net[0](x))
        ref = net[2](h)
        plain = simulate(net, one, activations=False)[2](h)
        fixed = simulate(net, one, activations=False, bias_correction=True)[2](h)
    shift_plain = (plain - ref).mean((0, 2, 3)).abs().max().item()
    shift_fixed = (fixed - ref).mean((0, 2, 3)).abs().max().item()
    assert shift_plain > 1e-4 and shift_fixed < 1e-6 * max(1.0, ref.abs().max().item()), (shift_plain, shift_fixed)
    # activations: every quantized layer's input takes at most 256 values
    seen = []
    q = simulate(net, stats, weights=False)
    q[8].register_forward_pre_hook(lambda m, inp: seen.append(inp[0]))
    with torch.no_grad():
        q(x)
    assert len(torch.unique(seen[0])) <= 256


def test_error_sources_reports_every_variant():
    net = _net()
    rng = np.random.default_rng(0)
    calib = [rng.random((1, 3, 12, 12), dtype=np.float32) for _ in range(4)]
    evals = [rng.random((1, 3, 12, 12), dtype=np.float32) for _ in range(20)]
    res = error_sources(net, calib, evals, batch=7)
    assert set(res) == {'weights', 'weights + bias correction', 'activations (minmax)', 'activations (mse ranges)',
                        'weights + activations (minmax)', 'weights + bias correction + activations (mse ranges)'}
    for r in res.values():
        assert r['n'] == 20 and 0 <= r['top1_agreement'] <= 1 and r['mean_abs_logit_error'] > 0
        assert len(r['flipped_margins']) == round((1 - r['top1_agreement']) * 20)
    # nothing quantized -> no error; unknown variant refused
    res = error_sources(net, calib, evals, skip=['*'], variants=['weights + activations (minmax)'])
    assert res['weights + activations (minmax)']['mean_abs_logit_error'] == 0
    with pytest.raises(ValueError, match='unknown variants'):
        error_sources(net, calib, evals, variants=['bits'])


def test_cli_refuses_seg_config_in_one_line(tmp_path):
    from mmv3.testing.sample_data import make_cityscapes
    make_cityscapes(str(tmp_path / 'city'), num_train=1, num_val=1, img_size=(64, 128))
    cfg = osp.join(REPO, 'configs/seg/lraspp_v3_small_cityscapes.py')
    tool, prog = 'analysis_tools/int8_error_sources.py', 'int8_error_sources.py'
    p = run_tool(tool, [cfg, '--calib-dir', str(tmp_path / 'city/leftImg8bit/train'), '--shape', '64', '128'])
    assert p.returncode == 2 and 'takes classification configs' in error_line(p, prog)
    (tmp_path / 'empty').mkdir()
    p = run_tool(tool, [cfg, '--calib-dir', str(tmp_path / 'empty')])
    line = error_line(p, prog)
    assert p.returncode == 2 and 'no images' in line and 'pass a folder with images' in line
