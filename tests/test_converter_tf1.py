"""TF1 checkpoints (slim classifiers, DeepLab LR-ASPP) -> mmv3: the converted models compute the reference outputs.

The fixtures in ``tests/data/tf1`` were written by ``tests/data/tf1/make_fixtures.py``, which runs the reference
TensorFlow code (``tensorflow/models`` slim / DeepLab) with random weights and BN statistics; no TensorFlow here.
Agreement is required to 1e-5 of the output range in float32 (what float32 rounding allows: the float64 mmv3
model is closer still).
"""
import json
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmv3.converters.common import ConversionError
from mmv3.converters.tf1 import (build_model, convert_checkpoint, convert_slim, read_variables,
                                 select_variables)
from mmv3.converters.tf_checkpoint import TFCheckpoint, read_tf_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(ROOT, 'tests', 'data', 'tf1')
CLI = osp.join(ROOT, 'tools', 'model_converters', 'tf2mmv3.py')
TOL = 1e-5  # of the output range
SLIM = ('slim_large_025', 'slim_small_035')


def _meta(name):
    with open(osp.join(DATA, name, 'meta.json')) as f:
        return json.load(f)


def _cases(name):
    io = np.load(osp.join(DATA, name, 'io.npz'))
    for k in sorted(io.files):
        if k.startswith('pixels_'):
            key = k[len('pixels_'):]
            yield key, torch.from_numpy(io[k]).float() / 127.5 - 1, io[f'logits_{key}']


# ----------------------------------------------------------------------------------------------------
# the checkpoint reader
# ----------------------------------------------------------------------------------------------------
def test_reader_equals_tensorflow():
    """A sharded checkpoint with a multi-block index: every tensor as TensorFlow's reader returns it."""
    ref = np.load(osp.join(DATA, 'reader_ref.npz'))
    ckpt = TFCheckpoint(osp.join(DATA, 'reader', 'model.ckpt'))
    assert ckpt.num_shards == 2 and len(ckpt.names) == len(ref.files) == 204
    got = ckpt.read_all()
    for k in ref.files:
        name = k.replace('|', '/')
        assert got[name].dtype == ref[k].dtype and got[name].shape == ref[k].shape
        np.testing.assert_array_equal(got[name], ref[k])
    assert got['global_step'] == 123456789012 and got['scope/b_float64'].dtype == np.float64
    # the prefix, its .index file and a .data shard all name the same checkpoint
    for p in ('model.ckpt.index', 'model.ckpt.data-00001-of-00002'):
        assert TFCheckpoint(osp.join(DATA, 'reader', p)).names == ckpt.names


def _copy(tmp_path, name='reader'):
    dst = tmp_path / name
    shutil.copytree(osp.join(DATA, name), dst)
    return dst


def test_reader_refusals(tmp_path):
    with pytest.raises(ConversionError, match="'label' has dtype string"):
        read_tf_checkpoint(osp.join(DATA, 'reader_string', 'model.ckpt'))
    with pytest.raises(ConversionError, match='does not exist'):
        read_tf_checkpoint(str(tmp_path / 'nothing' / 'model.ckpt'))
    d = _copy(tmp_path)
    index = (d / 'model.ckpt.index').read_bytes()
    (d / 'model.ckpt.index').write_bytes(index[:len(index) // 2])  # a truncated download
    with pytest.raises(ConversionError, match='not a TensorFlow V2 checkpoint index'):
        read_tf_checkpoint(str(d / 'model.ckpt'))
    # a compressed (Snappy) index block: the type byte after the index block
    ckpt = TFCheckpoint(osp.join(DATA, 'reader', 'model.ckpt'))
    from mmv3.converters.tf_checkpoint import FOOTER_SIZE, _varint
    footer = index[-FOOTER_SIZE:]
    pos = _varint(footer, _varint(footer, 0, '')[1], '')[1]
    off, pos = _varint(footer, pos, '')
    size, _ = _varint(footer, pos, '')
    snappy = bytearray(index)
    snappy[off + size] = 1
    (d / 'model.ckpt.index').write_bytes(bytes(snappy))
    with pytest.raises(ConversionError, match='compressed'):
        read_tf_checkpoint(str(d / 'model.ckpt'))
    (d / 'model.ckpt.index').write_bytes(index)
    shard = d / 'model.ckpt.data-00001-of-00002'
    data = shard.read_bytes()
    shard.write_bytes(data[:len(data) - 8])
    with pytest.raises(ConversionError, match='data-00001-of-00002 is truncated'):
        read_tf_checkpoint(str(d / 'model.ckpt'))
    corrupt = bytearray(data)
    corrupt[0] ^= 0xFF
    shard.write_bytes(bytes(corrupt))
    with pytest.raises(ConversionError, match='fails its CRC32C check'):
        read_tf_checkpoint(str(d / 'model.ckpt'))
    assert len(read_tf_checkpoint(str(d / 'model.ckpt'), verify_crc=False)) == len(ckpt.names)
    shard.unlink()
    with pytest.raises(ConversionError, match='data-00001-of-00002 does not exist'):
        read_tf_checkpoint(str(d / 'model.ckpt'))


# ----------------------------------------------------------------------------------------------------
# slim classification
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', SLIM)
def test_slim_outputs_equal_tensorflow(name):
    meta = _meta(name)
    out, cfg, report = convert_checkpoint(osp.join(DATA, name, 'model.ckpt'), 'slim', meta['arch'],
                                          keep_background=True)
    bb = cfg['backbone']
    assert bb['widen_factor'] == meta['depth_multiplier'] and bb['pad_type'] == 'same'
    assert cfg['head']['num_classes'] == meta['num_classes']
    model = build_model(cfg, out)
    model64 = build_model(cfg, out).double()
    for key, x, ref in _cases(name):
        with torch.no_grad():
            y = model(x, mode='tensor').numpy()
            y64 = model64(x.double(), mode='tensor').numpy()
        scale = np.abs(ref).max()
        assert np.abs(ref[0] - ref[1]).max() > 0.1 * scale  # the logits depend on the input
        assert np.abs(y - ref).max() <= TOL * scale, (key, np.abs(y - ref).max(), scale)
        assert np.abs(y64 - ref).max() <= TOL * scale, (key, np.abs(y64 - ref).max(), scale)


def test_slim_gate_constant_matters():
    """slim's SE gate is relu6(x + 3) * 0.16667, not / 6: with PyTorch's hard sigmoid the logits miss."""
    name = 'slim_small_035'
    out, cfg, _ = convert_checkpoint(osp.join(DATA, name, 'model.ckpt'), 'slim', 'small', keep_background=True)
    assert cfg['backbone']['se_gate_cfg'] == dict(type='mmv3.QSigmoid', scale=0.16667)
    cfg['backbone'].pop('se_gate_cfg')
    model = build_model(cfg, out)
    key, x, ref = next(_cases(name))
    with torch.no_grad():
        y = model(x, mode='tensor').numpy()
    assert np.abs(y - ref).max() > 20 * TOL * np.abs(ref).max()


def test_slim_every_variable_used_once_and_the_drop_rules():
    """Training checkpoints hold EMA shadows, optimizer slots and global_step: each dropped by its rule."""
    path = osp.join(DATA, 'slim_large_025', 'model.ckpt')
    ema_vars = _meta('slim_large_025')['ema_variables']
    everything = read_tf_checkpoint(path)
    variables, report = read_variables(path)
    assert sorted(report['ema']) == sorted(ema_vars) and len(ema_vars) == 7
    slots = [k for k in everything if k.endswith(('/RMSProp', '/RMSProp_1'))]
    assert len(slots) == 4
    assert sorted(report['dropped']) == sorted(slots + ['global_step'] + ema_vars)
    assert len(variables) + len(report['dropped']) == len(everything)  # shadows used under the raw names
    for v in ema_vars:  # the value used is the shadow's
        np.testing.assert_array_equal(variables[v], everything[v + '/ExponentialMovingAverage'])
    out, cfg = convert_slim(variables, 'large', keep_background=True)
    # every model variable has exactly one place (BN: 4 variables -> 4 tensors + num_batches_tracked)
    num_bn = sum(k.endswith('/gamma') for k in variables)
    assert len(out) == len(variables) + num_bn
    raw, report = read_variables(path, ema=False)
    assert report['ema'] == [] and sorted(report['dropped']) == sorted(slots + ['global_step'] +
                                                                          [v + '/ExponentialMovingAverage'
                                                                           for v in ema_vars])
    for v in ema_vars:
        np.testing.assert_array_equal(raw[v], everything[v])
    # one variable left over or missing: refused
    with pytest.raises(ConversionError, match='1 source tensors have no place'):
        convert_slim(dict(variables, **{'MobilenetV3/extra/weights': np.zeros(3)}), 'large')
    with pytest.raises(ConversionError, match="'MobilenetV3/expanded_conv_7/project/BatchNorm/beta' is missing"):
        convert_slim({k: v for k, v in variables.items() if k != 'MobilenetV3/expanded_conv_7/project/BatchNorm/beta'},
                     'large')


def test_slim_background_slot():
    variables, _ = read_variables(osp.join(DATA, 'slim_small_035', 'model.ckpt'))
    out, cfg = convert_slim(variables, 'small')
    full, _ = convert_slim(variables, 'small', keep_background=True)
    assert cfg['head']['num_classes'] == 10
    assert torch.equal(out['head.layers.1.fc.weight'], full['head.layers.1.fc.weight'][1:])
    assert torch.equal(out['head.layers.1.fc.bias'], full['head.layers.1.fc.bias'][1:])


def _fake_variables(manifest, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(shape).astype(np.float32) for k, shape in manifest['variables'].items()}


@pytest.mark.parametrize('name,width,head', [('v3-large_224_1.0_float', 1.0, 1280),
                                             ('v3-large_224_0.75_float', 0.75, 1280),
                                             ('v3-small_224_1.0_float', 1.0, 1024),
                                             ('v3-small_224_0.75_float', 0.75, 1024)])
def test_slim_released_variable_sets(name, width, head):
    """The released checkpoints' variables (as the reference graph names and shapes them) convert exactly."""
    with open(osp.join(DATA, 'manifests.json')) as f:
        manifest = json.load(f)[name]
    arch = manifest['arch']
    variables, report = select_variables(_fake_variables(manifest))
    assert report == dict(dropped=[], ema=[])
    out, cfg = convert_slim(variables, arch)
    assert cfg['backbone']['widen_factor'] == width and cfg['head']['mid_channels'] == [head]
    assert cfg['head']['num_classes'] == 1000
    model = build_model(cfg, out)
    assert sum(p.numel() for p in model.parameters()) == sum(
        int(np.prod(s)) for k, s in manifest['variables'].items()
        if not k.endswith(('moving_mean', 'moving_variance'))) - head - 1  # minus the classifier's background row
    other = {'large': 'small', 'small': 'large'}[arch]
    with pytest.raises(ConversionError, match=f'--arch {other} but the checkpoint is MobileNetV3-{arch.capitalize()}'):
        convert_slim(variables, other)


def test_refusals_of_other_checkpoints():
    variables, _ = read_variables(osp.join(DATA, 'slim_small_035', 'model.ckpt'))
    with pytest.raises(ConversionError, match='not a DeepLab MobileNetV3 checkpoint.*use --source slim'):
        convert_checkpoint(osp.join(DATA, 'slim_small_035', 'model.ckpt'), 'deeplab', 'small')
    v2 = {k.replace('MobilenetV3', 'MobilenetV2'): v for k, v in variables.items()}
    with pytest.raises(ConversionError, match=r"not a TF MobileNetV3 checkpoint.*\['MobilenetV2'\]"):
        convert_slim(v2, 'small')
    with pytest.raises(ConversionError, match="--source 'keras' is not one of"):
        convert_checkpoint(osp.join(DATA, 'slim_small_035', 'model.ckpt'), 'keras', 'small')
    with pytest.raises(ConversionError, match="--arch 'medium' is not one of"):
        convert_checkpoint(osp.join(DATA, 'slim_small_035', 'model.ckpt'), 'slim', 'medium')


def _run(*args):
    return subprocess.run([sys.executable, CLI, *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def _run_inprocess(capsys, *args):
    """The CLI's main through mmv3's run_cli, in this process: (exit code, stderr)."""
    sys.path.insert(0, osp.dirname(CLI))
    import tf2mmv3
    from mmv3.apis import run_cli
    with pytest.raises(SystemExit) as e:
        run_cli(tf2mmv3.main, 'tf2mmv3.py', [str(a) for a in args])
    return e.value.code, capsys.readouterr().err


def test_cli(tmp_path, capsys):
    src = osp.join(DATA, 'slim_small_035', 'model.ckpt')
    for args, msg in [(('--source', 'slim', '--arch', 'medium'), "--arch 'medium' is not one of"),
                      (('--source', 'keras', '--arch', 'small'), "--source 'keras' is not one of"),
                      (('--source', 'slim', '--arch', 'large'), '--arch large but the checkpoint is MobileNetV3-Small'),
                      (('--source', 'deeplab', '--arch', 'small'), 'not a DeepLab MobileNetV3 checkpoint'),
                      (('--source', 'slim', '--arch', 'small', '--image-pooling-stride', '4', '5'),
                       'need --source deeplab')]:
        code, err = _run_inprocess(capsys, src, tmp_path / 'bad.pth', *args)
        assert code == 2 and msg in err and err.count('\n') == 1 and 'Traceback' not in err, (args, err)
    assert not (tmp_path / 'bad.pth').exists()
    d = _copy(tmp_path, 'slim_small_035')
    data = d / 'model.ckpt.data-00000-of-00001'
    data.write_bytes(data.read_bytes()[:100000])  # a truncated download
    code, err = _run_inprocess(capsys, d / 'model.ckpt', tmp_path / 'cut.pth', '--source', 'slim', '--arch', 'small')
    assert code == 2 and 'is truncated' in err and err.count('\n') == 1
    assert not (tmp_path / 'cut.pth').exists()
    # the real command line: converts and prints the config
    res = _run(src, tmp_path / 'out.pth', '--source', 'slim', '--arch', 'small')
    assert res.returncode == 0, res.stderr
    ckpt = torch.load(tmp_path / 'out.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['model']['head']['num_classes'] == 10 and 'mmv3.QSigmoid' in res.stdout


# ----------------------------------------------------------------------------------------------------
# DeepLab LR-ASPP
# ----------------------------------------------------------------------------------------------------
DEEPLAB = ('deeplab_small', 'deeplab_large_050')


def _deeplab_convert(name):
    flags = _meta(name)['flags']
    return convert_checkpoint(osp.join(DATA, name, 'model.ckpt'), 'deeplab', _meta(name)['arch'],
                              image_pooling_crop_size=tuple(flags['image_pooling_crop_size']),
                              image_pooling_stride=tuple(flags['image_pooling_stride']))


@pytest.mark.parametrize('name', DEEPLAB)
def test_deeplab_outputs_equal_tensorflow(name):
    """DeepLab's eval graph: the 1/8 logits, and the logits resized to the input (align_corners=True)."""
    from mmseg.models.utils import resize
    meta = _meta(name)
    out, cfg, report = _deeplab_convert(name)
    assert cfg['backbone']['widen_factor'] == meta['depth_multiplier'] and report['dropped'] == []
    assert cfg['decode_head']['pool_kernel'] == (3, 3) and cfg['decode_head']['pool_stride'] == (1, 2)
    model = build_model(cfg, out, scope='mmseg')
    model64 = build_model(cfg, out, scope='mmseg').double()
    io = np.load(osp.join(DATA, name, 'io.npz'))
    for key, x, ref in _cases(name):
        with torch.no_grad():
            y = model(x, mode='tensor')
            y64 = model64(x.double(), mode='tensor').numpy()
            full = resize(y, size=x.shape[2:], mode='bilinear', align_corners=True)[0].numpy()
        scale = np.abs(ref).max()
        assert y.shape == ref.shape and np.abs(ref - ref.mean()).max() > 0.5 * scale
        assert np.abs(y.numpy() - ref).max() <= TOL * scale, (key, np.abs(y.numpy() - ref).max(), scale)
        assert np.abs(y64 - ref).max() <= TOL * scale, (key, np.abs(y64 - ref).max(), scale)
        ys, xs = io[f'full_yx_{key}']
        assert np.abs(full[:, ys, xs].T - io[f'full_logits_{key}']).max() <= TOL * scale
        labels = full.argmax(0)
        differ = labels != io[f'labels_{key}']
        top2 = np.sort(full, axis=0)[-2:]
        assert differ.mean() < 1e-3 and (top2[1] - top2[0])[differ].max(initial=0) < 10 * TOL * scale  # near-ties


def _config_model(path):
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, path)).model.to_dict()


@pytest.mark.parametrize('arch', ['large', 'small'])
def test_deeplab_released_variable_sets_and_configs(arch):
    """The released checkpoints' variables convert into exactly the configs' models."""
    from mmengine.config import Config
    with open(osp.join(DATA, 'manifests.json')) as f:
        manifest = json.load(f)[f'deeplab_mnv3_{arch}_cityscapes_trainfine']
    variables, _ = select_variables(_fake_variables(manifest))
    from mmv3.converters.tf1 import convert_deeplab
    out, cfg = convert_deeplab(variables, arch)
    file_cfg = _config_model(f'configs/seg/lraspp_v3_{arch}_tf-deeplab_cityscapes.py')
    file_cfg['data_preprocessor'].pop('test_cfg')  # the evaluation protocol's padding: the config's, not the model's
    assert Config(dict(model=file_cfg)).to_dict() == Config(dict(model=cfg)).to_dict()
    head = cfg['decode_head']
    assert head['pool_kernel'] == (25, 25) and head['pool_stride'] == (4, 5) and head['channels'] == 128
    assert cfg['backbone']['output_stride'] == 32 and cfg['backbone']['reduce_tail'] == 'rf2'
    model = build_model(cfg, out, scope='mmseg')
    assert sum(p.numel() for p in model.parameters()) == sum(
        int(np.prod(s)) for k, s in manifest['variables'].items() if not k.endswith(('moving_mean', 'moving_variance')))
    with pytest.raises(ConversionError, match='not a slim MobileNetV3 classification checkpoint.*--source deeplab'):
        convert_slim(variables, arch)


@pytest.mark.parametrize('name', ['v3-large_224_1.0_float', 'v3-large_224_0.75_float', 'v3-small_224_1.0_float',
                                  'v3-small_224_0.75_float'])
def test_slim_configs_are_the_converted_models(name):
    """configs/cls/mobilenet-v3-*_tf-slim_in1k.py build the converter's model: the converted state dict loads."""
    with open(osp.join(DATA, 'manifests.json')) as f:
        manifest = json.load(f)[name]
    out, cfg = convert_slim(select_variables(_fake_variables(manifest))[0], manifest['arch'])
    width = '' if '1.0' in name else '-075'
    file_cfg = _config_model(f"configs/cls/mobilenet-v3-{manifest['arch']}{width}_tf-slim_in1k.py")
    for key in ('arch', 'widen_factor', 'out_indices', 'pad_type', 'se_gate_cfg', 'norm_cfg'):
        assert file_cfg['backbone'][key] == cfg['backbone'][key], key
    for key in ('num_classes', 'in_channels', 'mid_channels', 'act_cfg', 'type'):
        assert file_cfg['head'][key] == cfg['head'][key], key
    build_model(file_cfg, out)  # strict: every tensor and shape
