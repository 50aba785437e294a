"""torchvision's dense models -> mmv3 configs: the converted model computes torchvision's outputs.

The reference is built live with random weights and random BN statistics (no downloads)."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmv3.converters import ConversionError, convert_lraspp
from mmv3.converters.torchvision_dense import LRASPP_CONFIG, build_lraspp
from mmv3.testing.random_weights import randomize_weights

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLI = osp.join(ROOT, 'tools', 'model_converters', 'torchvision2mmv3.py')
LRASPP_CFG = osp.join(ROOT, 'configs', 'seg', 'lraspp_mobilenet-v3-large_torchvision_coco-voc.py')


@pytest.fixture(scope='module')
def tv_lraspp():
    import torchvision
    torch.manual_seed(0)
    # conv gain 1.5: torchvision's init gives near-constant logits, which would hide a wrong mapping
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
    return randomize_weights(model, conv_gain=1.5)


def _logits(model, x):
    """What mmseg's whole-image inference computes: decode head logits resized to the input."""
    metas = [dict(img_shape=x.shape[2:])] * x.shape[0]
    with torch.no_grad():
        return model.encode_decode(x, metas)


def _model_from_config_file():
    from mmengine.config import Config
    cfg = Config.fromfile(LRASPP_CFG)
    return cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)


def test_lraspp_config_file_is_the_converter_config():
    from mmengine.config import Config
    assert Config(dict(model=_model_from_config_file())).to_dict() == Config(dict(model=LRASPP_CONFIG)).to_dict()


def test_torchvision_lraspp_outputs_equal(tv_lraspp):
    sd = tv_lraspp.state_dict()
    out, cfg = convert_lraspp(sd)
    assert len(out) == len(sd)  # every source tensor used once (TrackedStateDict refuses a leftover)
    model = build_lraspp(_model_from_config_file(), out)  # strict load: every shape checked
    for hw in [(224, 224), (225, 301)]:
        x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            ref = tv_lraspp(x)['out']
        got = _logits(model, x)
        assert got.shape == ref.shape == (2, 21, *hw)
        assert (ref - got).abs().max() <= 1e-5 * ref.abs().max()
        assert ref.std(dim=(2, 3)).min() > 0.05 * ref.abs().max()  # the logits vary over the image
    # the variant's arguments matter: TF DeepLab's atrous placement gives other outputs
    cfg['backbone']['atrous_rate_first'] = False
    other = build_lraspp(cfg, out)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ref = tv_lraspp(x)['out']
    assert (ref - _logits(other, x)).abs().max() > 1e-3 * ref.abs().max()


def test_torchvision_lraspp_refusals(tv_lraspp):
    import torchvision
    sd = tv_lraspp.state_dict()
    with pytest.raises(ConversionError, match='not a torchvision lraspp_mobilenet_v3_large'):
        convert_lraspp(torchvision.models.mobilenet_v3_large(weights=None).state_dict())
    with pytest.raises(ConversionError, match="'backbone.9.block.1.1.running_var' is missing"):
        convert_lraspp({k: v for k, v in sd.items() if k != 'backbone.9.block.1.1.running_var'})
    with pytest.raises(ConversionError, match='1 source tensors have no place'):
        convert_lraspp(dict(sd, **{'aux_classifier.0.weight': torch.zeros(1)}))
    bad = dict(sd, **{'classifier.low_classifier.weight': torch.zeros(21, 24, 1, 1)})
    out, cfg = convert_lraspp(bad)
    with pytest.raises(ConversionError, match='do not fit the mmv3 model'):
        build_lraspp(cfg, out)


@pytest.mark.slow
def test_torchvision_lraspp_cli(tv_lraspp, tmp_path):
    src = tmp_path / 'lraspp.pth'
    torch.save(tv_lraspp.state_dict(), src)
    res = subprocess.run([sys.executable, CLI, str(src), str(tmp_path / 'out.pth'), '--model',
                          'lraspp_mobilenet_v3_large', '--verify'], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert 'verify: max |torchvision - mmv3|' in res.stdout
    ckpt = torch.load(tmp_path / 'out.pth', map_location='cpu', weights_only=False)
    assert set(ckpt['state_dict']) == set(build_lraspp(LRASPP_CONFIG).state_dict())
    # a truncated download: one line, no traceback, nothing written
    (tmp_path / 'cut.pth').write_bytes(src.read_bytes()[:100000])
    res = subprocess.run([sys.executable, CLI, str(tmp_path / 'cut.pth'), str(tmp_path / 'cut_out.pth'), '--model',
                          'lraspp_mobilenet_v3_large'], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and 'is truncated' in res.stderr and res.stderr.count('\n') == 1
    assert 'Traceback' not in res.stderr and not (tmp_path / 'cut_out.pth').exists()
    res = subprocess.run([sys.executable, CLI, str(src), str(tmp_path / 'x.pth'), '--model', 'lraspp_resnet50'],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and "invalid choice: 'lraspp_resnet50'" in res.stderr


def _make_voc_sample(root, num=2, size=(96, 128), seed=0):
    """A tiny Pascal VOC 2012 layout (JPEGImages, SegmentationClass palette PNGs, val.txt)."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    voc = root / 'VOCdevkit' / 'VOC2012'
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (voc / d).mkdir(parents=True)
    names = [f'2007_{i:06d}' for i in range(num)]
    palette = [0] * 768
    for c in range(21):
        palette[3 * c:3 * c + 3] = [(c * 37) % 256, (c * 91) % 256, (c * 53) % 256]
    for n in names:
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(voc / 'JPEGImages' / f'{n}.jpg')
        lab = Image.fromarray(rng.integers(0, 21, size, dtype=np.uint8), mode='P')
        lab.putpalette(palette)
        lab.save(voc / 'SegmentationClass' / f'{n}.png')
    (voc / 'ImageSets' / 'Segmentation' / 'val.txt').write_text('\n'.join(names) + '\n')
    return voc


@pytest.mark.slow
def test_converted_lraspp_runs_tools_test(tv_lraspp, tmp_path):
    """The converted checkpoint + config evaluate with tools/test.py (on a tiny VOC-layout sample)."""
    sys.path.insert(0, osp.join(ROOT, 'tests', 'data'))
    from mmv3_tool_helpers import run_tool
    voc = _make_voc_sample(tmp_path)
    out, cfg = convert_lraspp(tv_lraspp.state_dict())
    ckpt = tmp_path / 'lraspp_tv_mmv3.pth'
    torch.save(dict(state_dict=out, meta=dict(source='test')), ckpt)
    p = run_tool('test.py', [LRASPP_CFG, ckpt, '--work-dir', tmp_path / 'w', '--cfg-options',
                             f'test_dataloader.dataset.data_root={voc}', 'test_dataloader.num_workers=0',
                             'test_dataloader.persistent_workers=False'])
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'mIoU' in p.stdout + p.stderr
