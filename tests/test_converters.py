"""tools/model_converters/{torchvision,timm}2mmv3.py: randomly initialised torchvision / timm
MobileNetV3s (no downloads) -> mmv3 checkpoints with the same outputs (eval mode)."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmv3.testing.random_weights import randomize_weights

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONVERTERS = osp.join(ROOT, 'tools', 'model_converters')


def _load(name):
    sys.path.insert(0, CONVERTERS)
    try:
        spec = importlib.util.spec_from_file_location(name, osp.join(CONVERTERS, f'{name}.py'))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(CONVERTERS)
    return mod


tv2mmv3 = _load('torchvision2mmv3')
timm2mmv3 = _load('timm2mmv3')
common = _load('_mobilenetv3_common')


def _max_diff(src, mmv3_model, size=224, seed=1):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        a, b = src(x), mmv3_model(x, mode='tensor')
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@pytest.mark.parametrize('arch,kwargs,expect', [
    ('large', {}, dict(widen_factor=1.0, reduce_tail=None, mid=1280)),
    ('small', {}, dict(widen_factor=1.0, reduce_tail=None, mid=1024)),
    ('large', dict(reduced_tail=True), dict(widen_factor=1.0, reduce_tail='dagger', mid=640)),
    ('small', dict(reduced_tail=True, num_classes=10), dict(widen_factor=1.0, reduce_tail='dagger', mid=512)),
])
def test_torchvision_outputs_equal(arch, kwargs, expect):
    import torchvision
    torch.manual_seed(0)
    src = randomize_weights(getattr(torchvision.models, f'mobilenet_v3_{arch}')(weights=None, **kwargs))
    out, cfg, model = tv2mmv3.convert(src.state_dict())
    bb = cfg['backbone']
    assert (bb['arch'], bb['widen_factor'], bb.get('reduce_tail')) == (arch, expect['widen_factor'],
                                                                      expect['reduce_tail'])
    assert bb['norm_cfg']['eps'] == 0.001  # torchvision's BN eps (= TF's), as mmv3's default
    assert cfg['head']['mid_channels'] == [expect['mid']]
    assert cfg['head']['num_classes'] == kwargs.get('num_classes', 1000)
    # every source tensor landed somewhere and the keys are mmpretrain's ImageClassifier layout
    assert len(out) == len(src.state_dict())
    assert set(out) == set(model.state_dict())
    assert _max_diff(src, model) < 1e-5


def test_torchvision_width_mult_refused_with_reason():
    """torchvision rounds table expansion widths x alpha directly (not TF's rounding): refuse."""
    import torchvision
    src = torchvision.models.mobilenet_v3_large(weights=None, width_mult=0.75)
    with pytest.raises(tv2mmv3.ConversionError, match=r'rounds every width as TensorFlow'):
        tv2mmv3.convert(src.state_dict())


def test_torchvision_rejects_other_checkpoints():
    import torchvision
    with pytest.raises(tv2mmv3.ConversionError, match='not a torchvision MobileNetV3'):
        tv2mmv3.convert(torchvision.models.resnet18(weights=None).state_dict())
    with pytest.raises(tv2mmv3.ConversionError, match='not a torchvision MobileNetV3'):
        tv2mmv3.convert(torchvision.models.mobilenet_v2(weights=None).state_dict())
    sd = torchvision.models.mobilenet_v3_small(weights=None).state_dict()
    sd = {k: v for k, v in sd.items() if not k.startswith('features.11.')}  # 10 blocks
    with pytest.raises(tv2mmv3.ConversionError, match='15 \\(large\\) or 11 \\(small\\) blocks'):
        tv2mmv3.convert(sd)


@pytest.mark.parametrize('name', ['mobilenetv3_large_100', 'mobilenetv3_large_075',
                                  'mobilenetv3_small_100', 'mobilenetv3_small_075'])
def test_timm_outputs_equal(name):
    import timm
    torch.manual_seed(0)
    src = randomize_weights(timm.create_model(name, pretrained=False))
    out, cfg, model = timm2mmv3.convert(src.state_dict(), name)
    arch, width = timm2mmv3.SUPPORTED[name]
    assert (cfg['backbone']['arch'], cfg['backbone']['widen_factor']) == (arch, width)
    assert cfg['backbone']['norm_cfg']['eps'] == 1e-5  # timm's BN eps
    assert cfg['head']['mid_channels'] == [1280 if arch == 'large' else 1024]
    assert set(out) == set(model.state_dict())
    assert _max_diff(src, model) < 1e-5
    if name == 'mobilenetv3_large_100':
        # the eps matters: with mmv3's default eps 1e-3 the outputs would differ
        wrong = common.model_config(arch, width, None, 1e-3, 960, 1280, 1000)
        wrong_model = common.build_model(wrong)
        wrong_model.load_state_dict(out)
        assert _max_diff(src, wrong_model.eval()) > 1e-5


@pytest.mark.parametrize('name', ['tf_mobilenetv3_large_100', 'tf_mobilenetv3_small_075'])
def test_timm_tf_ports_equal_with_same_padding(name):
    """timm's ports of the TF checkpoints: TF 'SAME' padding (pad_type='same') and BN eps 1e-3."""
    import timm
    torch.manual_seed(0)
    src = randomize_weights(timm.create_model(name, pretrained=False))
    out, cfg, model = timm2mmv3.convert(src.state_dict(), name)
    bb = cfg['backbone']
    assert bb['pad_type'] == 'same' and bb['norm_cfg']['eps'] == 1e-3
    assert set(out) == set(model.state_dict()) and len(out) == len(src.state_dict())
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = src(x)
    scale = ref.abs().max().item()
    for size in (224, 225, 160):  # even sizes: asymmetric padding; odd: symmetric
        assert _max_diff(src, model, size=size) <= 1e-5 * max(scale, 1.0)
    # without TF padding the same weights differ at even sizes (and agree at odd ones)
    sym = common.model_config(bb['arch'], bb['widen_factor'], None, 1e-3, cfg['head']['in_channels'],
                              cfg['head']['mid_channels'][0], 1000)
    sym_model = common.build_model(sym)
    sym_model.load_state_dict(out)
    sym_model.eval()
    assert _max_diff(src, sym_model, size=224) > 1e-3 * scale
    assert _max_diff(src, sym_model, size=225) <= 1e-5 * max(scale, 1.0)


@pytest.mark.parametrize('name,reason', [
    ('tf_mobilenetv3_small_minimal_100', 'minimalistic'),
    ('mobilenetv3_small_050', 'fix_stem'),
    ('mobilenetv3_rw', 'different head'),
    ('resnet50', 'not a supported timm MobileNetV3'),
])
def test_timm_refuses_unsupported_models(name, reason):
    with pytest.raises(timm2mmv3.ConversionError, match=reason):
        timm2mmv3.check_model_name(name)


@pytest.mark.slow
def test_cli_roundtrip(tmp_path):
    """Both CLIs: checkpoint on disk -> mmv3 checkpoint that loads into the printed config."""
    import timm
    import torchvision
    src = randomize_weights(torchvision.models.mobilenet_v3_small(weights=None))
    torch.save(src.state_dict(), tmp_path / 'tv.pth')
    res = subprocess.run([sys.executable, osp.join(CONVERTERS, 'torchvision2mmv3.py'), str(tmp_path / 'tv.pth'),
                          str(tmp_path / 'tv_mmv3.pth'), '--verify'], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert 'verify: max |torchvision - mmv3|' in res.stdout
    ckpt = torch.load(tmp_path / 'tv_mmv3.pth', map_location='cpu', weights_only=False)
    model = common.build_model(ckpt['meta']['model'])
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert _max_diff(src, model.eval()) < 1e-5

    tsrc = timm.create_model('mobilenetv3_large_100', pretrained=False).eval()
    torch.save(tsrc.state_dict(), tmp_path / 'timm.pth')
    args = [sys.executable, osp.join(CONVERTERS, 'timm2mmv3.py'), str(tmp_path / 'timm.pth'),
            str(tmp_path / 'timm_mmv3.pth')]
    res = subprocess.run(args + ['--model-name', 'tf_mobilenetv3_large_minimal_100'], capture_output=True, text=True)
    assert res.returncode != 0 and 'minimalistic' in res.stderr and 'Traceback' not in res.stderr
    res = subprocess.run(args + ['--model-name', 'mobilenetv3_large_100', '--verify'], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert osp.isfile(tmp_path / 'timm_mmv3.pth')
