"""OpenVINO runtime: IR export of cls / seg / det verified against PyTorch, bf16 and NNCF int8 agreement on
sample images, the benchmark modes, the export tool's --backend, and the one-line refusal when it is missing."""
import importlib
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmv3.apis import ToolError

ov = pytest.importorskip('openvino', reason='openvino not installed: pip install openvino==2026.4.1 nncf==3.4.0')
pytest.importorskip('nncf', reason='nncf not installed: pip install nncf==3.4.0')
pytest.importorskip('onnx')

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_CFG = osp.join(ROOT, 'configs/cls/mobilenet-v3-small_8xb512_in1k.py')
SEG_CFG = osp.join(ROOT, 'configs/seg/lraspp_v3_small_cityscapes.py')
DET_CFG = osp.join(ROOT, 'configs/det/ssdlite_mobilenet-v3-small-reduced_8xb24-600e_coco.py')


def prepare_spread(config, shape, spread=True):
    """A config's model with non-trivial BN statistics and (``spread``) spread conv weights (no ties in
    rankings), folded."""
    from mmv3.deploy.fuse import fold_bn
    from mmv3.deploy.pipeline import prepare
    torch.manual_seed(0)
    prep = prepare(config, shape=shape, fold=False)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in prep.model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
            elif isinstance(m, nn.Conv2d) and spread:
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 1.5 / m.weight[0].numel()**0.5)
    prep.folded, prep.num_folded = fold_bn(prep.model, torch.randn(1, 3, *shape))
    return prep


def test_openvino_modes_registered():
    from mmv3.deploy.runtimes import all_modes
    modes = all_modes()
    assert modes['ov'] == ('openvino', {'precision': 'fp32'})
    assert modes['ov-bf16'] == ('openvino', {'precision': 'bf16'})
    assert modes['ov-int8'] == ('openvino', {'precision': 'int8'})
    assert modes['ov-int8-nncf'] == ('openvino', {'precision': 'int8', 'tag': 'int8-nncf', 'quant': dict(
        preset='performance', activation_range='mean_minmax', int8_eltwise=True)})


def test_se_gates_run_as_hsigmoid_in_the_ir_and_the_compiled_graph(tmp_path):
    """The export turns the SE gates' HardSigmoid (a reference f32 kernel with reorders) into HSigmoid: visible
    in the IR and in the compiled runtime graph; outputs still equal PyTorch."""
    from mmv3.deploy.pipeline import export
    from mmv3.deploy.runtimes import build_runtime
    prep = prepare_spread(CLS_CFG, (64, 64))
    num_se = sum(type(m).__name__ == 'SELayer' for m in prep.model.modules())
    assert num_se == 9  # V3-Small
    rt = build_runtime('openvino')
    layer_types = {}
    for hsig in (True, False):
        path = str(tmp_path / f'm{int(hsig)}.xml')
        rt.export(prep.deploy_model, path, (1, 3, 64, 64), ['logits'], hsigmoid=hsig)
        ops = ov.Core().read_model(path).get_ordered_ops()
        kinds = [op.get_type_name() for op in ops]
        assert kinds.count('HSigmoid' if hsig else 'HardSigmoid') == num_se
        assert kinds.count('HardSigmoid' if hsig else 'HSigmoid') == 0
        compiled = rt.load(path, precision='bf16').compiled
        runtime_ops = compiled.get_runtime_model().get_ordered_ops()
        layer_types[hsig] = [op.get_rt_info()['layerType'].astype(str) for op in runtime_ops]
    assert layer_types[True].count('Math') == 0 and layer_types[False].count('Math') == num_se
    assert layer_types[True].count('Reorder') < layer_types[False].count('Reorder')
    res = export(prep, str(tmp_path / 'v.xml'), backend='openvino')  # the default export, checked against PyTorch
    assert res['ops'].get('HSigmoid') == num_se and res['checks'][0]['ok']


def test_nncf_recipe_quantization_points_and_refusals(tmp_path):
    """mmv3's NNCF recipe leaves residual-add / SE-multiply inputs unquantized (NNCF's default quantizes them);
    --keep-float patterns reach NNCF's ignored scope; bad values are refused in one line."""
    from mmv3.deploy.runtimes import build_runtime, quantize_openvino
    prep = prepare_spread(CLS_CFG, (64, 64), spread=False)
    rt = build_runtime('openvino')
    fpath = str(tmp_path / 'f.xml')
    rt.export(prep.deploy_model, fpath, (1, 3, 64, 64), ['logits'])
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(4)]

    def fq_consumers(path):
        out = {}
        for op in ov.Core().read_model(path).get_ordered_ops():
            if op.get_type_name() == 'FakeQuantize':
                for t in op.output(0).get_target_inputs():
                    kind = t.get_node().get_type_name()
                    out.setdefault(kind, []).append(t.get_node().get_friendly_name())
        return out
    q = str(tmp_path / 'q.xml')
    quantize_openvino(fpath, q, calib)
    ours = fq_consumers(q)
    assert 'Add' not in ours and 'Multiply' not in ours and len(ours['Convolution']) > 20
    quantize_openvino(fpath, q, calib, preset='performance', activation_range='mean_minmax', int8_eltwise=True)
    nncf = fq_consumers(q)
    assert len(nncf['Add']) >= 2 * 6 and len(nncf['Multiply']) >= 9  # V3-Small: 6 residual adds, 9 SE products
    quantize_openvino(fpath, q, calib, keep_float=['*/layer12/*'])
    kept = fq_consumers(q)
    assert not [n for n in kept['Convolution'] if '/layer12/' in n]
    assert len(kept['Convolution']) == len(ours['Convolution']) - 1
    with pytest.raises(ToolError, match="keep-float pattern '\\*/layer99/\\*' matches no node"):
        quantize_openvino(fpath, q, calib, keep_float=['*/layer99/*'])
    with pytest.raises(ToolError, match='activation range must be one of minmax, mean_minmax'):
        quantize_openvino(fpath, q, calib, activation_range='max')
    with pytest.raises(ToolError, match='NNCF preset must be one of'):
        quantize_openvino(fpath, q, calib, preset='fast')


def test_openvino_export_cls_seg_det_match_pytorch(tmp_path):
    """The IR of each task equals PyTorch at f32 (seg: dynamic H/W, checked at a second size; det: raw head outputs)."""
    from mmv3.deploy.pipeline import export
    from mmv3.deploy.runtimes import build_runtime, run_torch
    rt = build_runtime('openvino')
    cases = [(CLS_CFG, (64, 64), False, [], ['logits']), (SEG_CFG, (96, 160), True, [(128, 192)], ['seg_logits']),
             (DET_CFG, (128, 128), False, [], None)]
    for cfg, shape, dynamic, extra, names in cases:
        prep = prepare_spread(cfg, shape)
        out = str(tmp_path / f'{prep.task}.xml')
        res = export(prep, out, dynamic=dynamic, extra_shapes=extra, backend='openvino')
        assert osp.isfile(out) and osp.isfile(out[:-4] + '.bin')
        assert not [p for p in tmp_path.iterdir() if p.suffix == '.onnx']  # the intermediate ONNX is removed
        assert res['bn_left'] == 0 and res['ops'].get('Convolution', 0) + res['ops'].get('GroupConvolution', 0) > 20
        if names:
            assert res['outputs'] == names
        else:
            assert res['outputs'][0].startswith('cls_score') and len(res['outputs']) == 12
        assert len(res['checks']) == 1 + len(extra)
        for c in res['checks']:
            assert c['ok'] and c['max_abs_diff'] <= 1e-4 + 1e-4 * c['max_abs_ref'], c
        if dynamic:  # batch and size are dynamic in the IR too
            x = np.random.default_rng(0).standard_normal((2, 3, 96, 160)).astype(np.float32)
            (o, ) = rt.run(rt.load(out), x)
            assert o.shape == (2, 19, 96, 160)
            ref = run_torch(prep.deploy_model, x)[0]
            assert np.abs(o - ref).max() <= 1e-4 * np.abs(ref).max()


def test_openvino_bf16_and_int8_agree_with_float_on_sample_images(tmp_path):
    from mmv3.deploy.calibration import read_images
    from mmv3.deploy.metrics import agreement
    from mmv3.deploy.pipeline import export, quantize
    from mmv3.deploy.runtimes import build_runtime
    from mmv3.testing.sample_data import make_imagenet
    make_imagenet(str(tmp_path / 'imagenet'), num_train=10, num_val=30, img_size=(72, 72), num_classes=10)
    prep = prepare_spread(CLS_CFG, (64, 64))
    rt = build_runtime('openvino')
    fpath, qpath = str(tmp_path / 'cls.xml'), str(tmp_path / 'cls.int8.xml')
    export(prep, fpath, backend='openvino')
    res = quantize(prep, fpath, qpath, str(tmp_path / 'imagenet/train'), str(tmp_path / 'imagenet/val'),
                   num_calib=10, backend='openvino')
    assert res['num_calib'] == 10 and res['ops'].get('FakeQuantize', 0) > 30  # int8 quantization points
    assert res['agreement']['n'] == 30 and 0.0 <= res['agreement']['top1_agreement'] <= 1.0
    # bf16: the hint reaches the compiled model; outputs within ~1e-2 relative, same top-1 on the sample images
    fh, bh = rt.load(fpath), rt.load(fpath, precision='bf16')
    assert bh.compiled.get_property('INFERENCE_PRECISION_HINT') == ov.Type.bf16
    assert fh.compiled.get_property('INFERENCE_PRECISION_HINT') == ov.Type.f32
    _, arrays, _ = read_images(prep, str(tmp_path / 'imagenet/val'), 30)
    f_outs = [rt.run(fh, a) for a in arrays]
    b_outs = [rt.run(bh, a) for a in arrays]
    scale = max(np.abs(o[0]).max() for o in f_outs)
    err = max(np.abs(f[0] - b[0]).max() for f, b in zip(f_outs, b_outs)) / scale
    assert err < 3e-2, err
    caps = ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
    if 'BF16' in caps:  # really ran in bf16 (not f32 under another name)
        assert err > 1e-5, err
    assert agreement('cls', f_outs, b_outs)['top1_agreement'] >= 0.9
    # int8 tracks the float logits (random weights: near-tied top-1s, so correlation is the robust check;
    # with the spread weights above activations grow layer by layer, so this uses the default init)
    plain = prepare_spread(CLS_CFG, (64, 64), spread=False)
    ppath, pq = str(tmp_path / 'plain.xml'), str(tmp_path / 'plain.int8.xml')
    export(plain, ppath, backend='openvino')
    quantize(plain, ppath, pq, str(tmp_path / 'imagenet/train'), num_calib=10, backend='openvino')
    fh, qh = rt.load(ppath), rt.load(pq, precision='int8')
    assert qh.compiled.get_property('INFERENCE_PRECISION_HINT') == ov.Type.bf16  # float layers of int8: bf16
    f = np.concatenate([rt.run(fh, a)[0].ravel() for a in arrays])
    q = np.concatenate([rt.run(qh, a)[0].ravel() for a in arrays])
    assert np.corrcoef(f, q)[0, 1] > 0.99, np.corrcoef(f, q)[0, 1]


def test_export_tool_backend_openvino_and_refusals(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('exp', osp.join(ROOT, 'tools/deployment/export_onnx.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / 'm.xml'
    mod.main([CLS_CFG, '--backend', 'openvino', '--shape', '64', '64', '--out', str(out)])
    text = capsys.readouterr().out
    assert 'OpenVINO vs PyTorch at 1x3x64x64' in text and '-> OK' in text and out.is_file()
    with pytest.raises(ToolError, match=r'--out for --backend openvino must end with \.xml'):
        mod.main([CLS_CFG, '--backend', 'openvino', '--out', str(tmp_path / 'm.onnx')])
    with pytest.raises(ToolError, match=r'--out for --backend litert must end with \.tflite'):
        mod.main([CLS_CFG, '--backend', 'litert', '--out', str(tmp_path / 'm.onnx')])
    assert not (tmp_path / 'm.onnx').exists()


def test_missing_openvino_is_a_one_line_refusal_naming_the_extra(monkeypatch):
    from mmv3.deploy.runtimes import build_runtime
    real = importlib.import_module

    def fake(name, *a, **k):
        if name == 'openvino':
            raise ImportError('No module named openvino')
        return real(name, *a, **k)
    monkeypatch.setattr(importlib, 'import_module', fake)
    with pytest.raises(ToolError, match=r"needs the Python package 'openvino'.*pip install 'mmv3\[optional\]'") as e:
        build_runtime('openvino')
    assert '\n' not in str(e.value)


def test_benchmark_cli_openvino_modes(tmp_path, capsys):
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location('bench', osp.join(ROOT, 'tools/analysis_tools/benchmark.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / 'bench.md'
    mod.main([CLS_CFG, '--shape', '64', '64', '--repeat', '2', '--warmup', '1', '--compare', '--no-progress',
              '--modes', 'ort,ov,ov-bf16,ov-int8,ov-int8-nncf', '--work-dir', str(tmp_path), '--out', str(out)])
    text = capsys.readouterr().out
    assert 'int8 speedup (OpenVINO float / int8 median)' in text and 'Ratio to ONNX Runtime float' in text
    stats = json.loads((tmp_path / 'bench.json').read_text())
    # ours + torchvision + timm, each through the same five paths
    modes = {'ort', 'ov', 'ov-bf16', 'ov-int8', 'ov-int8-nncf'}
    assert len(stats) == 3 * 5 and {k.split('|')[1] for k in stats} == modes
    # two int8 IRs per model: mmv3's recipe (no FakeQuantize before an Add) and NNCF's defaults (some)
    ours, nncf = (tmp_path / f'torchvision_mobilenet_v3_small.{t}.xml' for t in ('int8', 'int8-nncf'))
    fq_add = [sum(op.get_type_name() == 'FakeQuantize' and any(t.get_node().get_type_name() == 'Add'
                                                               for t in op.output(0).get_target_inputs())
                  for op in ov.Core().read_model(str(p)).get_ordered_ops()) for p in (ours, nncf)]
    assert fq_add[0] == 0 and fq_add[1] > 0


def test_quantize_tool_openvino_seg_pixel_agreement(tmp_path, capsys):
    """quantize.py --backend openvino: NNCF int8 IR + the bf16 hint, pixel agreement with f32 on sample images."""
    import importlib.util
    import json

    from mmv3.testing.sample_data import make_cityscapes
    make_cityscapes(str(tmp_path / 'cityscapes'), num_train=2, num_val=3, img_size=(128, 256))
    city = tmp_path / 'cityscapes/leftImg8bit'
    spec = importlib.util.spec_from_file_location('q', osp.join(ROOT, 'tools/deployment/quantize.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    mod.main([SEG_CFG, '--backend', 'openvino', '--shape', '128', '256', '--calib-dir', str(city / 'train'),
              '--eval-dir', str(city / 'val'), '--out-dir', str(tmp_path / 'out')])
    text = capsys.readouterr().out
    res = json.loads(text.strip().splitlines()[-1])
    assert res['int8'].endswith('.int8.xml') and osp.isfile(res['int8']) and osp.isfile(res['float'])
    assert 'OpenVINO vs PyTorch max abs diff' in text
    assert 'NNCF, preset mixed, minmax ranges, bf16 adds/multiplies, 2 calibration images' in text
    assert res['agreement']['n'] == 3 and res['agreement']['pixel_agreement'] > 0.9, res['agreement']
    assert res['agreement_bf16']['pixel_agreement'] > 0.98, res['agreement_bf16']
    with pytest.raises(SystemExit):  # an unknown backend: argparse refuses it
        mod.main([SEG_CFG, '--backend', 'tensorrt', '--calib-dir', str(city / 'train')])
