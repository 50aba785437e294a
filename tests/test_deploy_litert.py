"""LiteRT runtime: the modes, the one-line refusals (interpreter or converter environment missing), the
h-swish graph passes that let XNNPACK run an int8 MobileNetV3 whole (on a committed int8 fixture), and,
with the converter environment (``python tools/deployment/install_litert_env.py``; skipped without it),
float exports of cls / seg / det equal to PyTorch and int8 agreement on a fitted model."""
import importlib
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmv3.apis import ToolError

pytest.importorskip('ai_edge_litert', reason='ai-edge-litert not installed: pip install ai-edge-litert==2.3.0')

from mmv3.deploy import litert_env  # noqa: E402
from mmv3.deploy import tflite_graph as tg  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_CFG = osp.join(ROOT, 'configs/cls/mobilenet-v3-small_8xb512_in1k.py')
SEG_CFG = osp.join(ROOT, 'configs/seg/lraspp_v3_small_cityscapes.py')
DET_CFG = osp.join(ROOT, 'configs/det/ssdlite_mobilenet-v3-small-reduced_8xb24-600e_coco.py')
FIXTURE = osp.join(ROOT, 'tests/data/litert/hswish_int8.tflite')
converter = pytest.mark.skipif(not litert_env.status()['ok'],
                               reason=f'no LiteRT converter environment: {litert_env.INSTALL_CMD}')


def load_tool(rel):
    spec = importlib.util.spec_from_file_location(osp.basename(rel)[:-3], osp.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_int8_fixture(path, x, xnnpack=True):
    """Run a model of the fixture family on float input ``x`` (quantizing / dequantizing int8 IO)."""
    from mmv3.deploy.runtimes import build_runtime
    rt = build_runtime('litert')
    return rt.run(rt.load(path, xnnpack=xnnpack), x)[0]


def test_litert_modes_registered():
    from mmv3.deploy.runtimes import all_modes
    modes = all_modes()
    assert modes['litert'] == ('litert', {'precision': 'fp32'})
    assert modes['litert-int8'] == ('litert', {'precision': 'int8'})
    assert modes['litert-int8-asis'] == ('litert', {'precision': 'int8', 'tag': 'int8-asis',
                                                    'quant': {'hard_swish': 'keep'}})


def test_int8_hard_swish_is_what_xnnpack_leaves_out_and_the_passes_bring_it_back(tmp_path):
    """Issue 16 item 3 on a committed fixture (a bneck quantized by litert-torch's PT2E quantizer): the int8
    HARD_SWISH runs outside XNNPACK and splits the delegated graph; both rewrites give one partition and the
    same outputs (within int8 rounding); float_io gives a float32 interface with the same numbers."""
    before = tg.xnnpack_partitions(FIXTURE)
    assert before['cpu_ops'] == {'HARD_SWISH(int8)': 1} and before['partitions'] == 2
    assert tg.op_counts(FIXTURE)['HARD_SWISH(int8)'] == 1
    x = np.random.default_rng(0).standard_normal((4, 1, 3, 16, 16)).astype(np.float32)
    ref = np.concatenate([run_int8_fixture(FIXTURE, xi, xnnpack=False) for xi in x])
    m = tg.read_model(FIXTURE)
    out_scale = float(m.subgraphs[0].tensors[m.subgraphs[0].outputs[0]].quantization.scale[0])
    for name, fn in (('float', tg.hard_swish_to_float), ('int8', tg.hard_swish_to_int8_ops)):
        m = tg.read_model(FIXTURE)
        assert fn(m) == 1
        assert tg.float_io(m) == 2  # one input, one output
        path = str(tmp_path / f'{name}.tflite')
        tg.write_model(m, path)
        after = tg.xnnpack_partitions(path)
        assert after['partitions'] == 1 and after['cpu_ops'] == {}, after
        assert 'HARD_SWISH(int8)' not in tg.op_counts(path)
        from mmv3.deploy.runtimes import build_runtime
        rt = build_runtime('litert')
        h = rt.load(path)
        assert h.input['dtype'] == np.float32 and h.outputs[0]['dtype'] == np.float32
        out = np.concatenate([rt.run(h, xi)[0] for xi in x])
        # the same function: a few output quantization steps at most (rounding of one h-swish differs)
        assert np.abs(out - ref).max() <= 4 * out_scale + 1e-6, (name, np.abs(out - ref).max(), out_scale)
        assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.99


def test_restore_dead_channels_keeps_the_bias_of_zero_weight_channels(tmp_path):
    """An all-zero int8 weight channel gets a usable scale and its float bias back (ai-edge-quantizer's
    ~1e-13 bias scale saturates it)."""
    f = tg.read_model(FIXTURE)
    q = tg.read_model(FIXTURE)
    g, fg = q.subgraphs[0], f.subgraphs[0]
    fc = next(op for op in g.operators if tg._opcode_name(q, op.opcodeIndex) == 'FULLY_CONNECTED')
    w, b = g.tensors[fc.inputs[1]], g.tensors[fc.inputs[2]]
    s_in = tg._qparams(g.tensors[fc.inputs[0]])[0]
    # channel 2: zero weights, a tiny scale and a saturated bias, as ai-edge-quantizer writes it
    wq = tg._buffer_array(q, w, np.int8).reshape(tuple(w.shape)).copy()
    wq[2] = 0
    q.buffers[w.buffer].data = np.frombuffer(wq.tobytes(), np.uint8)
    scales = list(w.quantization.scale)
    scales[2] = 7.9e-12
    w.quantization.scale = scales
    bq = tg._buffer_array(q, b, np.int32).copy()
    bq[2] = -2**31
    q.buffers[b.buffer].data = np.frombuffer(bq.tobytes(), np.uint8)
    # the float model the quantizer read: the same tensors, the bias in float32
    fb = fg.tensors[fc.inputs[2]]
    from ai_edge_litert import schema_py_generated as schema
    fb.type = schema.TensorType.FLOAT32
    fb.quantization = None
    bias_f = np.array([0.1, -0.2, -3.0, 0.3, 0.0], np.float32)
    f.buffers[fb.buffer].data = np.frombuffer(bias_f.tobytes(), np.uint8)
    assert tg.restore_dead_channels(q, f) == 1
    assert w.quantization.scale[2] == 1.0
    assert tg._buffer_array(q, b, np.int32)[2] == round(-3.0 / s_in)
    assert b.quantization.scale[2] == pytest.approx(s_in)
    assert list(tg._buffer_array(q, b, np.int32)[[0, 1, 3, 4]]) == list(bq[[0, 1, 3, 4]])  # others untouched


def test_missing_converter_environment_is_a_one_line_refusal(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('MMV3_LITERT_ENV', str(tmp_path / 'nowhere'))
    assert not litert_env.status()['ok']
    with pytest.raises(ToolError, match=r'litert-torch 0\.10\.0 \(numpy 2\).*install_litert_env\.py') as e:
        litert_env.converter_python()
    assert '\n' not in str(e.value)
    mod = load_tool('tools/deployment/export_onnx.py')
    out = tmp_path / 'm.tflite'
    with pytest.raises(ToolError, match='install_litert_env.py'):
        mod.main([CLS_CFG, '--backend', 'litert', '--out', str(out)])
    assert not out.exists()
    q = load_tool('tools/deployment/quantize.py')
    with pytest.raises(ToolError, match='install_litert_env.py'):
        q.main([CLS_CFG, '--backend', 'litert', '--calib-dir', str(tmp_path)])
    with pytest.raises(ToolError, match='install_litert_env.py'):
        load_tool('tools/analysis_tools/benchmark.py').main([CLS_CFG, '--modes', 'ort,litert'])
    tool = load_tool('tools/deployment/install_litert_env.py')
    with pytest.raises(ToolError, match='not ready'):
        tool.main(['--check'])
    assert 'no litert-torch environment at' in capsys.readouterr().out


def test_stale_converter_environment_is_refused(tmp_path, monkeypatch):
    env = tmp_path / 'env'
    (env / 'bin').mkdir(parents=True)
    (env / 'bin' / 'python').write_text('')
    stamp = dict(litert_env._wanted_stamp(), torch='0.0.1')
    (env / litert_env.STAMP).write_text(json.dumps(stamp))
    monkeypatch.setenv('MMV3_LITERT_ENV', str(env))
    st = litert_env.status()
    assert not st['ok'] and 'stale (torch changed)' in st['reason']
    (env / litert_env.STAMP).write_text(json.dumps(litert_env._wanted_stamp()))
    assert litert_env.status()['ok']


def test_missing_interpreter_is_a_one_line_refusal_naming_the_extra(monkeypatch):
    from mmv3.deploy.runtimes import build_runtime
    real = importlib.import_module

    def fake(name, *a, **k):
        if name == 'ai_edge_litert':
            raise ImportError('No module named ai_edge_litert')
        return real(name, *a, **k)
    monkeypatch.setattr(importlib, 'import_module', fake)
    with pytest.raises(ToolError, match=r"needs the Python package 'ai_edge_litert'.*ai-edge-litert==2\.3\.0") as e:
        build_runtime('litert')
    assert '\n' not in str(e.value)


def test_litert_refuses_dynamic_shapes(tmp_path):
    mod = load_tool('tools/deployment/export_onnx.py')
    with pytest.raises(ToolError, match='fixed input size: drop --dynamic'):
        mod.main([SEG_CFG, '--backend', 'litert', '--dynamic', '--out', str(tmp_path / 's.tflite')])


def prepare_spread(config, shape):
    """A config's model with non-trivial BN statistics, folded (as tests/test_deploy_openvino.py)."""
    from mmv3.deploy.fuse import fold_bn
    from mmv3.deploy.pipeline import prepare
    torch.manual_seed(0)
    prep = prepare(config, shape=shape, fold=False)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in prep.model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
    prep.folded, prep.num_folded = fold_bn(prep.model, torch.randn(1, 3, *shape))
    return prep


@converter
def test_litert_export_seg_det_match_pytorch(tmp_path):
    """The float .tflite of seg (fixed size) and det (the 12 raw head outputs, in order) equals PyTorch
    (classification: the benchmark and quantize tests below export and verify it)."""
    from mmv3.deploy.pipeline import export
    from mmv3.deploy.runtimes import build_runtime, run_torch
    rt = build_runtime('litert')
    cases = [(SEG_CFG, (64, 128), ['seg_logits']), (DET_CFG, (96, 96), None)]
    for cfg, shape, names in cases:
        prep = prepare_spread(cfg, shape)
        out = str(tmp_path / f'{prep.task}.tflite')
        res = export(prep, out, backend='litert')
        assert osp.isfile(out) and not [p for p in tmp_path.iterdir() if p.suffix == '.pt2']
        ops = res['ops']
        assert ops.get('CONV_2D', 0) + ops.get('DEPTHWISE_CONV_2D', 0) > 20 and 'HARD_SWISH' in ops
        if names:
            assert res['outputs'] == names
        else:
            assert res['outputs'][0].startswith('cls_score') and len(res['outputs']) == 12
        (c, ) = res['checks']
        assert c['ok'] and c['max_abs_diff'] <= 1e-4 + 1e-4 * c['max_abs_ref'], c
        # every output in PyTorch's order and shape, on a second input
        x = np.random.default_rng(1).standard_normal((1, 3) + shape).astype(np.float32)
        outs, refs = rt.run(rt.load(out), x), run_torch(prep.deploy_model, x)
        assert [o.shape for o in outs] == [r.shape for r in refs]
        for o, r in zip(outs, refs):
            assert np.abs(o - r).max() <= 1e-4 + 1e-4 * np.abs(r).max()


@converter
def test_litert_int8_agrees_on_a_fitted_model_and_runs_in_one_xnnpack_partition(tmp_path, capsys):
    """quantize.py --backend litert on a probe classifier (BN re-estimated on sample images, linear probe
    fitted: data-driven predictions): int8 top-1 agrees with float on held-out images, the logits of the
    fitted classes correlate, and XNNPACK runs the whole int8 graph (no int8 HARD_SWISH left)."""
    from mmv3.analysis.probe import make_probe_model
    from mmv3.deploy.calibration import read_images
    from mmv3.deploy.fuse import fold_bn
    from mmv3.deploy.pipeline import prepare
    from mmv3.deploy.runtimes import build_runtime
    from mmv3.testing.sample_data import make_imagenet
    make_imagenet(str(tmp_path / 'in'), num_train=40, num_val=30, img_size=(72, 72), num_classes=4)
    torch.manual_seed(0)
    prep = prepare(CLS_CFG, shape=(64, 64), fold=False)
    make_probe_model(prep, str(tmp_path / 'in'), 40, seed=0)
    ckpt = tmp_path / 'probe.pth'
    torch.save(dict(state_dict=prep.model.model.state_dict()), str(ckpt))
    mod = load_tool('tools/deployment/quantize.py')
    mod.main([CLS_CFG, str(ckpt), '--backend', 'litert', '--shape', '64', '64', '--calib-dir',
              str(tmp_path / 'in/train'), '--eval-dir', str(tmp_path / 'in/val'), '--num-calib', '16',
              '--out-dir', str(tmp_path / 'out')])
    text = capsys.readouterr().out
    res = json.loads(text.strip().splitlines()[-1])
    assert 'LiteRT vs PyTorch max abs diff' in text and 'XNNPACK partitions: 1' in text
    assert res['xnnpack']['partitions'] == 1 and res['xnnpack']['cpu_ops'] == {}
    assert res['agreement']['n'] == 30 and res['agreement']['top1_agreement'] >= 0.8, res['agreement']
    # the fitted classes' logits (the others are a constant -30) track the float ones
    rt = build_runtime('litert')
    fh, qh = rt.load(res['float']), rt.load(res['int8'], precision='int8')
    assert 'HARD_SWISH(int8)' not in tg.op_counts(res['int8']) and tg.op_counts(res['int8'])['CONV_2D(int8)'] > 30
    prep.folded, _ = fold_bn(prep.model, torch.randn(1, 3, 64, 64))
    _, arrays, _ = read_images(prep, str(tmp_path / 'in/val'), 30)
    f = np.concatenate([rt.run(fh, a)[0] for a in arrays])
    q = np.concatenate([rt.run(qh, a)[0] for a in arrays])
    fitted = np.where(f.max(0) > -29)[0]
    assert 2 <= len(fitted) <= 4
    # (a random backbone blows a few images up to logits ~100, far outside what calibration saw: left out)
    usual = np.abs(f[:, fitted]).max(1) < 20
    corr = np.corrcoef(f[usual][:, fitted].ravel(), q[usual][:, fitted].ravel())[0, 1]
    assert usual.sum() >= 20 and corr > 0.95, (usual.sum(), corr)
    assert np.abs(q[:, np.setdiff1d(np.arange(f.shape[1]), fitted)] + 30).max() < 1.0  # -30 kept (dead channels)


@converter
def test_benchmark_cli_litert_modes(tmp_path, capsys):
    mod = load_tool('tools/analysis_tools/benchmark.py')
    out = tmp_path / 'bench.md'
    mod.main([CLS_CFG, '--shape', '64', '64', '--repeat', '2', '--warmup', '1', '--no-progress',
              '--modes', 'ort,litert,litert-int8-asis,litert-int8', '--work-dir', str(tmp_path), '--out', str(out)])
    text = capsys.readouterr().out
    assert 'int8 speedup (LiteRT float / int8 median)' in text and 'Ratio to ONNX Runtime float' in text
    stats = json.loads((tmp_path / 'bench.json').read_text())
    assert {k.split('|')[1] for k in stats} == {'ort', 'litert', 'litert-int8-asis', 'litert-int8'}
    stem = 'mobilenet_v3_small_8xb512_in1k'
    asis, fixed = tmp_path / f'{stem}.int8-asis.tflite', tmp_path / f'{stem}.int8.tflite'
    assert asis.is_file() and fixed.is_file()
    p = tg.xnnpack_partitions(str(tmp_path / f'{stem}.tflite'))
    assert p['partitions'] == 1 and p['cpu_ops'] == {}  # XNNPACK runs the whole float graph (verified in prepare)
    assert tg.xnnpack_partitions(str(asis))['partitions'] > 1 and tg.xnnpack_partitions(str(fixed))['partitions'] == 1


def test_hard_swish_only_models_and_the_breakdown_table(tmp_path):
    """tools/analysis_tools/litert_int8_breakdown.py's pieces on the fixture: a model of only the int8 HARD_SWISH
    ops (outside XNNPACK), its rewrite (inside), and the interleaved timing rows."""
    from mmv3.analysis.litert_breakdown import int8_breakdown
    for rewrite, cpu in ((False, {'HARD_SWISH(int8)': 1}), (True, {})):
        m = tg.read_model(FIXTURE)
        assert tg.int8_hard_swish_only(m, rewrite) == 1
        path = tg.write_model(m, str(tmp_path / f'only{int(rewrite)}.tflite'))
        assert tg.xnnpack_partitions(path)['cpu_ops'] == cpu
        assert len(m.subgraphs[0].operators) == (3 if rewrite else 1)
    m = tg.read_model(FIXTURE)
    tg.hard_swish_to_float(m)
    fixed = tg.write_model(m, str(tmp_path / 'fixed.tflite'))
    x = np.zeros((1, 3, 16, 16), np.float32)
    rows = int8_breakdown(FIXTURE, FIXTURE, fixed, x, repeat=2, warmup=1, work_dir=str(tmp_path))
    assert len(rows) == 7 and rows[3][0] == 'the 1 int8 HARD_SWISH alone, TFLite kernel'
    assert all(r['median'] > 0 and r['min'] <= r['median'] for _, r in rows)
