"""Keras applications' MobileNetV3 -> mmv3: the converted model computes Keras' outputs.

The references are stored fixtures written by Keras itself (``tests/data/keras/make_keras_fixtures.py``,
run in TensorFlow environments; no TensorFlow here): weight files in Keras' real layouts with random
weights and random BN statistics, input images and Keras' outputs on them."""
import lzma
import os.path as osp
import subprocess
import sys

import h5py  # requirements/tests.txt (and optional.txt: the converter reads Keras files with it)
import numpy as np
import pytest
import torch

from mmv3.converters.common import ConversionError
from mmv3.converters.keras import build_classifier, convert_keras, model_config, read_keras_h5

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(ROOT, 'tests', 'data', 'keras')
CLI = osp.join(ROOT, 'tools', 'model_converters', 'keras2mmv3.py')
# fixture -> (file, --arch)
FIXTURES = {
    'keras2_large_100': ('keras2_large_100.h5', 'large'),
    'keras2_small_075_notop': ('keras2_small_075_notop.weights.h5', 'small'),
    'keras3_small_100': ('keras3_small_100.weights.h5', 'small'),
    'keras3_small_minimalistic_c10': ('keras3_small_minimalistic_c10.h5', 'small'),
}
TOL = 1e-5  # max abs diff / output range (float32)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """The Keras files, decompressed (they are stored xz-compressed, byte for byte as Keras wrote them)."""
    d = tmp_path_factory.mktemp('keras')
    out = {}
    for name, (fn, _) in FIXTURES.items():
        with open(osp.join(DATA, fn + '.xz'), 'rb') as f:
            (d / fn).write_bytes(lzma.decompress(f.read()))
        out[name] = str(d / fn)
    return out


@pytest.fixture(scope='module')
def inputs():
    z = np.load(osp.join(DATA, 'inputs.npz'))
    return {k: z[k] for k in z.files}


@pytest.fixture(scope='module')
def converted(files):
    return {name: convert_keras(files[name], arch) for name, (_, arch) in FIXTURES.items()}


def _nchw(x):
    """uint8 RGB NHWC -> Keras' Rescaling: float NCHW in [-1, 1]."""
    return (torch.from_numpy(x).float().permute(0, 3, 1, 2) - 127.5) / 127.5


def _forward(model, x, top):
    with torch.no_grad():
        return model(x, mode='tensor') if top else model.neck(model.backbone(x))[0]


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def _count_datasets(path):
    n = []
    with h5py.File(path, 'r') as f:
        f.visititems(lambda name, obj: n.append(name) if isinstance(obj, h5py.Dataset) else None)
    return len(n)


@pytest.mark.parametrize('name', list(FIXTURES))
def test_keras_outputs_equal(name, files, converted, inputs):
    ref = np.load(osp.join(DATA, name + '.npz'))
    out, cfg, info = converted[name]
    # what the file is, read from it (the generator's record of how it was built)
    assert (info['alpha'], info['minimalistic'], info['include_top']) == (
        float(ref['alpha']), bool(ref['minimalistic']), bool(ref['include_top']))
    assert info['num_classes'] == (int(ref['classes']) if info['include_top'] else None)
    # every dataset of the file read exactly once (TrackedStateDict refuses leftovers and second reads)
    assert info['variables'] == _count_datasets(files[name])
    top = info['include_top']
    model = build_classifier(cfg, out)  # strict: every mmv3 tensor present, every shape checked
    x224, x_odd = _nchw(inputs['x224']), _nchw(inputs['x_odd'])
    r224, r_odd, r_static = (torch.from_numpy(ref[k]) for k in ('out224', 'out_odd', 'out_odd_static'))
    got224, got_odd = _forward(model, x224, top), _forward(model, x_odd, top)
    assert got224.shape == r224.shape and got_odd.shape == r_odd.shape
    assert _rel(got224, r224) <= TOL and _rel(got_odd, r_odd) <= TOL
    # the outputs depend on the image (a wrong stem or padding would show)
    assert (r224[0] - r224[1]).abs().max() > 0.05 * r224.abs().max()
    # pad_type='same' is the Keras model built with a fixed input_shape: equal at 224, at the odd size equal
    # to that model and not to the default one; symmetric padding is wrong at 224 (first images only: time)
    cfg_same = dict(cfg, backbone=dict(cfg['backbone'], pad_type='same'))
    same = build_classifier(cfg_same, out)
    assert _rel(_forward(same, x224[:1], top), r224[:1]) <= TOL
    got_static = _forward(same, x_odd[:1], top)
    assert _rel(got_static, r_static[:1]) <= TOL and _rel(got_static, r_odd[:1]) > 1e-3
    sym = build_classifier(dict(cfg, backbone=dict(cfg['backbone'], pad_type='')), out)
    assert _rel(_forward(sym, x224[:1], top), r224[:1]) > 1e-3


@pytest.mark.parametrize('name,arch', [('keras2_large_100', 'large'), ('keras3_small_100', 'small')])
def test_config_files_are_the_keras_model(name, arch, converted, inputs):
    """configs/cls/mobilenet-v3-{large,small}_keras-in1k.py, data_preprocessor included, on BGR images as
    mmcv loads them, compute Keras' logits."""
    from mmengine.config import Config
    out, cfg, info = converted[name]
    file_cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cls', f'mobilenet-v3-{arch}_keras-in1k.py'))
    model_cfg = file_cfg.model.to_dict()
    for part in ('backbone', 'head'):
        assert {k: v for k, v in model_cfg[part].items() if k in cfg[part]} == cfg[part], part
    assert model_cfg['neck'] == cfg['neck']
    model_cfg['data_preprocessor'] = file_cfg.data_preprocessor.to_dict()
    assert model_cfg['data_preprocessor'] == cfg['data_preprocessor']
    model = build_classifier(model_cfg, out)
    ref = torch.from_numpy(np.load(osp.join(DATA, name + '.npz'))['out224'])
    bgr = [torch.from_numpy(np.ascontiguousarray(img[..., ::-1])).permute(2, 0, 1) for img in inputs['x224']]
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=bgr), False)
        got = model(data['inputs'], mode='tensor')
    assert _rel(got, ref) <= TOL


def test_refusals(files, tmp_path):
    small, large = files['keras3_small_100'], files['keras2_large_100']
    with pytest.raises(ConversionError, match='holds a MobileNetV3Large .*pass --arch large'):
        convert_keras(large, 'small')
    with pytest.raises(ConversionError, match='holds a MobileNetV3Small .*pass --arch small'):
        convert_keras(small, 'large')
    cut = tmp_path / 'cut.h5'
    cut.write_bytes(open(large, 'rb').read()[:1_000_000])
    with pytest.raises(ConversionError, match='truncated file'):
        read_keras_h5(str(cut))
    garbage = tmp_path / 'garbage.h5'
    garbage.write_bytes(b'\x00' * 4096)
    with pytest.raises(ConversionError, match='not a readable HDF5 file'):
        read_keras_h5(str(garbage))
    other = tmp_path / 'other.h5'
    with h5py.File(other, 'w') as f:
        f['data'] = np.zeros(3)
    with pytest.raises(ConversionError, match='an HDF5 file but not Keras weights'):
        read_keras_h5(str(other))
    pth = tmp_path / 'x.pth'
    torch.save({'a': torch.zeros(1)}, pth)
    with pytest.raises(ConversionError, match='a zip archive .*not a Keras HDF5'):
        read_keras_h5(str(pth))
    # a file named as Keras' published weights must have their md5 (a damaged download is refused)
    named = tmp_path / 'weights_mobilenet_v3_small_224_1.0_float.h5'
    named.write_bytes(open(small, 'rb').read())
    with pytest.raises(ConversionError, match='Keras publishes .* with md5 8768d4c2e7dee89b9d02b2d03d65d862'):
        read_keras_h5(str(named))
    with pytest.raises(ConversionError, match='--arch must be one of'):
        convert_keras(small, 'medium')


def _copy(src, dst, edit):
    import shutil
    shutil.copy(src, dst)
    with h5py.File(dst, 'r+') as f:
        edit(f)
    return str(dst)


def test_every_variable_used_once_and_every_shape_checked(files, tmp_path):
    small, large = files['keras3_small_100'], files['keras2_large_100']
    # an extra variable in a layer: no place for it
    extra = _copy(small, tmp_path / 'extra.weights.h5',
                  lambda f: f['layers/batch_normalization_3/vars'].create_dataset('4', data=np.zeros(16, 'f4')))
    with pytest.raises(ConversionError, match='has 5 variables, expected BatchNormalization'):
        convert_keras(extra, 'small')
    stray = _copy(small, tmp_path / 'stray.weights.h5', lambda f: f['vars'].create_dataset('0', data=np.zeros(1)))
    with pytest.raises(ConversionError, match="1 source tensors have no place .* \\['vars/0'\\]"):
        convert_keras(stray, 'small')

    # a kernel of another shape (a 5x5 depthwise kernel cut to 3x3): refused, with the layer named
    def cut_kernel(f):
        k = f['layers/depthwise_conv2d_3/vars/0'][()]
        del f['layers/depthwise_conv2d_3/vars/0']
        f['layers/depthwise_conv2d_3/vars'].create_dataset('0', data=k[1:4, 1:4])
    bad = _copy(small, tmp_path / 'bad.weights.h5', cut_kernel)
    with pytest.raises(ConversionError, match=r'has a variable of shape \(3, 3, 96, 1\), this MobileNetV3 needs '
                                              r'\(5, 5, 96, 1\)'):
        convert_keras(bad, 'small')

    # a legacy file that lost a layer from its layer list: a layer is missing, refused
    def drop_layer(f):
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs['layer_names']]
        assert 'expanded_conv_3/squeeze_excite/Conv_1' in names  # Keras 2's layer names
        f.attrs['layer_names'] = np.array([n.encode() for n in names if n != 'expanded_conv_3/squeeze_excite/Conv_1'])
    dropped = _copy(large, tmp_path / 'dropped.h5', drop_layer)
    with pytest.raises(ConversionError, match=r"'expanded_conv_3/project' \(bneck 4 SE excite\) has 1 variables, "
                                              r'expected 2 \(kernel and bias\)'):
        convert_keras(dropped, 'large')


def _cli_main():
    import importlib.util
    sys.path.insert(0, osp.dirname(CLI))
    spec = importlib.util.spec_from_file_location('keras2mmv3', CLI)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_cli_writes_checkpoint_or_refuses_in_one_line(files, tmp_path, capsys):
    from mmv3.apis import run_cli
    main = _cli_main()
    dst = tmp_path / 'out.pth'
    run_cli(main, 'keras2mmv3.py', [files['keras2_large_100'], str(dst), '--arch', 'large'])
    printed = capsys.readouterr().out
    assert 'read 266 variables of 110 layers' in printed and 'each used once' in printed
    assert 'configs/cls/mobilenet-v3-large_keras-in1k.py' in printed
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    model = build_classifier(model_config('large', 1.0))
    assert set(ckpt['state_dict']) == set(model.state_dict())
    for args, msg in [([files['keras2_large_100'], str(tmp_path / 'a.pth'), '--arch', 'small'], 'pass --arch large'),
                      ([files['keras3_small_100'], str(tmp_path / 'b.pth'), '--arch', 'large'], 'pass --arch small')]:
        with pytest.raises(SystemExit) as e:
            run_cli(main, 'keras2mmv3.py', args)
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err and err.count('\n') == 1 and not osp.exists(args[1]), err


@pytest.mark.slow
def test_cli_script_refuses_a_truncated_file(files, tmp_path):
    cut = tmp_path / 'cut.h5'
    cut.write_bytes(open(files['keras2_large_100'], 'rb').read()[:2_000_000])
    res = subprocess.run([sys.executable, CLI, str(cut), str(tmp_path / 'b.pth'), '--arch', 'large'],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and 'truncated file' in res.stderr and res.stderr.count('\n') == 1, res.stderr
    assert 'Traceback' not in res.stderr and not osp.exists(tmp_path / 'b.pth')


def test_backbone_only_checkpoint_loads_as_pretrained(converted, tmp_path):
    """include_top=False (the *_no_top_v2.h5 files): a backbone checkpoint for init_cfg=Pretrained."""
    out, cfg, info = converted['keras2_small_075_notop']
    assert not info['include_top'] and all(k.startswith('backbone.') for k in out)
    ckpt = tmp_path / 'notop.pth'
    torch.save(dict(state_dict=out), ckpt)
    from mmpretrain.registry import MODELS
    bb_cfg = dict(cfg['backbone'], init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    bb = MODELS.build(bb_cfg)
    bb.init_weights()
    for k, v in bb.state_dict().items():
        assert torch.equal(v, out['backbone.' + k]), k


def test_minimalistic_rows_and_params():
    """Keras' minimalistic models: 3x3 kernels, no SE, ReLU everywhere; Keras' docstring counts 3.9M / 2.0M
    parameters for the two minimalistic 1.0 models with their 1000-class top."""
    from mmv3.models.backbones import MobileNetV3
    for arch, params in (('large', 3.9e6), ('small', 2.0e6)):
        bb = MobileNetV3(arch, minimalistic=True)
        assert all(r.k <= 3 and not r.se and r.nl == 'RE' for r in bb.rows)
        model = build_classifier(model_config(arch, 1.0, minimalistic=True))
        assert isinstance(model.head.layers[0].act, torch.nn.ReLU)
        n = sum(p.numel() for p in model.parameters())
        assert abs(n / params - 1) < 0.03, n


def test_keras_padding_is_correct_pad_of_an_unknown_size():
    """pad_type='keras': strided depthwise convs padded (k//2 - 1, k//2) whatever the size (Keras'
    ZeroPadding2D(correct_pad) in a model built with input_shape=None), the stem TF SAME."""
    import torch.nn.functional as F

    from mmv3.models.layers import Conv2dSame, Conv2dSameEven, ConvModule
    for k in (3, 5):
        m = ConvModule(8, 8, k, 2, groups=8, pad_type='keras')
        assert type(m.conv) is Conv2dSameEven
        for hw in ((16, 16), (17, 17), (17, 16)):
            x = torch.randn(1, 8, *hw)
            p = (k // 2 - 1, k // 2)
            ref = F.conv2d(F.pad(x, (*p, *p)), m.conv.weight, None, 2, 0, 1, 8)
            assert torch.equal(m.conv(x), ref)
    assert type(ConvModule(3, 16, 3, 2, pad_type='keras').conv) is Conv2dSame  # dense strided conv: TF SAME


@pytest.mark.slow
def test_converted_config_runs_tools_test(converted, tmp_path):
    """configs/cls/mobilenet-v3-small_keras-in1k.py + the converted checkpoint evaluate with tools/test.py on the
    ImageNet-format sample (labels are real ImageNet-1k indices, so the 1000-class head applies as is)."""
    sys.path.insert(0, osp.join(ROOT, 'tests', 'data'))
    from mmv3_tool_helpers import run_tool

    from mmv3.testing.sample_data import make_imagenet
    root = make_imagenet(str(tmp_path / 'imagenet'), num_train=0, num_val=4, img_size=(64, 80))['root']
    out, cfg, info = converted['keras3_small_100']
    ckpt = tmp_path / 'mobilenet-v3-small_keras_mmv3.pth'
    torch.save(dict(state_dict=out, meta=dict(source='test')), ckpt)
    config = osp.join(ROOT, 'configs', 'cls', 'mobilenet-v3-small_keras-in1k.py')
    p = run_tool('test.py', [config, ckpt, '--work-dir', tmp_path / 'w', '--cfg-options',
                             f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0',
                             'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=2'])
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'accuracy/top1' in p.stdout + p.stderr
