"""Deployment: BN folding, ONNX export round-trips (cls / seg / det), int8 quantization, benchmark smoke."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmv3.apis import ToolError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_CFG = osp.join(ROOT, 'configs/cls/mobilenet-v3-small_8xb512_in1k.py')
SEG_CFG = osp.join(ROOT, 'configs/seg/lraspp_v3_small_cityscapes.py')
DET_CFG = osp.join(ROOT, 'configs/det/ssdlite_mobilenet-v3-small-reduced_8xb24-600e_coco.py')

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
from onnx import numpy_helper  # noqa: E402

from mmv3.deploy.onnx_export import onnx_op_counts  # noqa: E402


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine params, so that folding BN actually changes the convs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                    m.bias.copy_(torch.randn(n, generator=g) * 0.2)
    return model


def prepare_randomized(config, shape, cfg_options=None, conv_std=None):
    from mmv3.deploy.fuse import fold_bn
    from mmv3.deploy.pipeline import prepare
    torch.manual_seed(0)  # the random init does not depend on which tests ran before
    prep = prepare(config, shape=shape, cfg_options=cfg_options, fold=False)
    randomize_bn(prep.model)
    if conv_std is not None:  # spread the (near-constant at init) outputs so that rankings have no ties
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for m in prep.model.modules():
                if isinstance(m, nn.Conv2d):
                    fan_in = m.weight[0].numel()
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g) * conv_std / fan_in**0.5)
    prep.folded, prep.num_folded = fold_bn(prep.model, torch.randn(1, 3, *shape))
    return prep


# ----------------------------------------------------------------------------------------- BN folding
def test_fold_bn_torchvision_and_timm_match_eager():
    import timm
    import torchvision

    from mmv3.deploy.fuse import count_bn, fold_bn
    x = torch.randn(2, 3, 64, 64)
    for model in (torchvision.models.mobilenet_v3_small(), timm.create_model('mobilenetv3_small_100')):
        model = randomize_bn(model.eval())
        n_bn = count_bn(model)
        folded, n = fold_bn(model, x[:1])
        assert n == n_bn and count_bn(folded) == 0
        assert count_bn(model) == n_bn  # the original is untouched (deep copy)
        with torch.no_grad():
            ref, out = model(x), folded(x)
        assert torch.allclose(ref, out, atol=1e-5, rtol=1e-4), (ref - out).abs().max()


def test_fold_bn_skips_shared_conv_and_refuses_training_mode():
    from mmv3.deploy.fuse import fold_bn

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn1, self.bn2 = nn.BatchNorm2d(4), nn.BatchNorm2d(4)
            self.conv2 = nn.Conv2d(3, 4, 1)
            self.bn3 = nn.BatchNorm2d(4)

        def forward(self, x):  # conv feeds two BNs: folding either would break the other
            return self.bn1(self.conv(x)) + self.bn2(self.conv(x)) + self.bn3(self.conv2(x))

    m = randomize_bn(Shared().eval())
    x = torch.randn(1, 3, 8, 8)
    folded, n = fold_bn(m, x)
    assert n == 1 and isinstance(folded.bn3, nn.Identity) and isinstance(folded.bn1, nn.BatchNorm2d)
    with torch.no_grad():
        assert torch.allclose(m(x), folded(x), atol=1e-5)
    with pytest.raises(ValueError, match='eval mode'):
        fold_bn(m.train(), x)


# ----------------------------------------------------------------------------------------- ONNX round-trips
def test_export_cls_roundtrip(tmp_path):
    from mmv3.deploy.pipeline import export
    prep = prepare_randomized(CLS_CFG, (96, 96))
    assert prep.task == 'cls' and prep.num_folded > 30
    res = export(prep, str(tmp_path / 'cls.onnx'))
    assert res['bn_left'] == 0 and 'BatchNormalization' not in res['ops']
    assert res['ops'].get('HardSwish', 0) > 0 and res['outputs'] == ['logits']
    (check, ) = res['checks']
    assert check['ok'] and check['max_abs_diff'] < 1e-4, check
    # the folded model equals the original (unfolded) model on the same input
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(prep.model(x)[0], prep.folded(x)[0], atol=1e-4, rtol=1e-3)
    sess = ort.InferenceSession(res['path'], providers=['CPUExecutionProvider'])
    assert sess.get_outputs()[0].shape == [1, 1000]


def test_export_seg_dynamic_roundtrip(tmp_path):
    """Dynamic H/W: traced at 128x256 (features smaller than the 49x49 pool), checked at other sizes,
    including one whose 1/16 features exceed 49 so that the pool really slides (stride 16, 20)."""
    from mmv3.deploy.runtimes import ort_session, run_ort, run_torch
    from mmv3.deploy.pipeline import export
    prep = prepare_randomized(SEG_CFG, (128, 256))
    res = export(prep, str(tmp_path / 'seg.onnx'), dynamic=True, extra_shapes=[(160, 192), (832, 1056)])
    assert res['bn_left'] == 0 and res['outputs'] == ['seg_logits']
    assert [c['shape'][2:] for c in res['checks']] == [(128, 256), (160, 192), (832, 1056)]
    for c in res['checks']:
        assert c['ok'] and c['max_abs_diff'] < 1e-3, c
    # outputs are at the input resolution; batch is dynamic too
    sess = ort_session(res['path'])
    x = np.random.default_rng(0).standard_normal((2, 3, 96, 160)).astype(np.float32)
    (out, ) = run_ort(sess, x)
    assert out.shape == (2, 19, 96, 160)
    np.testing.assert_allclose(out, run_torch(prep.model, x)[0], atol=1e-3, rtol=1e-3)


def test_export_det_roundtrip_and_postprocess(tmp_path):
    from mmv3.deploy.detection import postprocess
    from mmv3.deploy.runtimes import ort_session, run_ort, run_torch
    from mmv3.deploy.pipeline import export
    prep = prepare_randomized(DET_CFG, (320, 320), {'model.test_cfg.score_thr': 0.0, 'model.test_cfg.max_per_img': 30},
                              conv_std=0.7)
    res = export(prep, str(tmp_path / 'det.onnx'))
    levels = len(res['outputs']) // 2
    assert levels == 6 and res['outputs'][0] == 'cls_score_0' and res['outputs'][-1] == 'bbox_pred_5'
    assert res['bn_left'] == 0 and res['checks'][0]['ok'], res['checks']
    x = np.random.default_rng(0).standard_normal((1, 3, 320, 320)).astype(np.float32)
    outs = run_ort(ort_session(res['path']), x)
    # SSDLite: 3 anchors on the 20x20 map, 6 on the others; 81 class slots (80 + background)
    assert outs[0].shape == (1, 3 * 81, 20, 20) and outs[levels].shape == (1, 3 * 4, 20, 20)
    assert outs[1].shape == (1, 6 * 81, 10, 10) and outs[levels - 1].shape[2:] == (1, 1)
    dets = postprocess(prep.model, outs, (320, 320))[0]
    ref = postprocess(prep.model, run_torch(prep.model, x), (320, 320))[0]
    assert len(dets) == len(ref) == 30
    # same ranking up to float noise: scores agree rank by rank; boxes/labels agree wherever the
    # score is separated from its neighbours (near-ties may swap between ONNX Runtime and PyTorch)
    assert torch.allclose(dets.scores, ref.scores, atol=1e-5, rtol=1e-4)
    s = ref.scores
    gap = torch.minimum(torch.cat([s[:1] * 0 + 1, s[:-1] - s[1:]]), torch.cat([s[:-1] - s[1:], s[:1] * 0 + 1]))
    sep = gap > 2e-6
    assert sep.sum() >= 10
    assert torch.allclose(dets.bboxes[sep], ref.bboxes[sep], atol=0.05, rtol=1e-3)
    assert torch.equal(dets.labels[sep], ref.labels[sep])


def test_export_cli_reports_diff(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('export_onnx', osp.join(ROOT, 'tools/deployment/export_onnx.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / 'm.onnx'
    mod.main([CLS_CFG, '--shape', '64', '64', '--out', str(out)])
    text = capsys.readouterr().out
    assert out.is_file() and 'max abs diff' in text and '-> OK' in text and 'BatchNormalization nodes left: 0' in text


# ----------------------------------------------------------------------------------------- int8
def test_agreement_metrics():
    from mmv3.deploy.metrics import agreement, confusion_miou, format_agreement
    f = [[np.array([[0., 1., 2.]])], [np.array([[3., 1., 2.]])], [np.array([[0., 5., 2.]])]]
    q = [[np.array([[0., 1., 2.5]])], [np.array([[1., 1., 2.]])], [np.array([[0., 5., 2.]])]]
    res = agreement('cls', f, q)
    assert res['top1_agreement'] == pytest.approx(2 / 3)
    # image 2 flipped (float margin 3 - 2 = 1); no image has its float top-2 within 0.1
    assert res['flipped_margins'] == [1.0] and res['near_ties'] == 0
    f[0][0][0, 1] = 1.95
    assert agreement('cls', f, q)['near_ties'] == 1
    assert 'top-1 changes, float margin of each: 1' in format_agreement('cls', res)
    pred = np.array([0, 0, 1, 1, 2, 255])
    ref = np.array([0, 1, 1, 1, 2, 255])
    # class 0: I=1 U=2; class 1: I=2 U=3; class 2: I=1 U=1
    assert confusion_miou(pred, ref, 3) == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)


def test_quantize_int8_cls_and_seg(tmp_path):
    from mmv3.deploy.calibration import read_images
    from mmv3.deploy.pipeline import export, quantize
    from mmv3.deploy.runtimes import ort_session, run_ort
    from mmv3.testing.sample_data import make_cityscapes, make_imagenet
    make_imagenet(str(tmp_path / 'imagenet'), num_train=10, num_val=20, img_size=(72, 72), num_classes=10)
    make_cityscapes(str(tmp_path / 'cityscapes'), num_train=2, num_val=4, img_size=(128, 256))
    city = tmp_path / 'cityscapes/leftImg8bit'
    # cls: calibrate on 6 of the 30 images, evaluate on the other 24; seg: calibrate on train, evaluate on val
    cases = [(CLS_CFG, (64, 64), str(tmp_path / 'imagenet'), str(tmp_path / 'imagenet'), 6, 24),
             (SEG_CFG, (128, 256), str(city / 'train'), str(city / 'val'), 2, 4)]
    for cfg, shape, calib_dir, eval_dir, n_calib, n_eval in cases:
        prep = prepare_randomized(cfg, shape)
        fpath, qpath = str(tmp_path / f'{prep.task}.onnx'), str(tmp_path / f'{prep.task}.int8.onnx')
        export(prep, fpath, verify=False)
        res = quantize(prep, fpath, qpath, calib_dir, eval_dir, num_calib=6)
        ops = res['ops']
        assert res['num_calib'] == n_calib and ops.get('QLinearConv', 0) > 20  # QOperator graph
        # every h-swish / SE gate between the float stem and (cls) the float last conv runs as an integer clip:
        # no hard-sigmoid reads a dequantized tensor; the graph quantizes once after the stem and (cls) once
        # after the last conv, which reads the one dequantized activation
        graph = onnx.load(qpath).graph
        producer = {o: n.op_type for n in graph.node for o in n.output}
        assert not [n for n in graph.node if n.op_type == 'HardSigmoid' and producer.get(n.input[0]) == 'DequantizeLinear']
        assert ops.get('Clip', 0) >= 10
        if prep.task == 'cls':  # V3-Small: stem h-swish + SE gate, the last conv's h-swish; logits in float
            assert ops['HardSigmoid'] == 3 and ops['QuantizeLinear'] == 2 and ops['DequantizeLinear'] == 1
            assert producer[graph.output[0].name] == 'QGemm'
        else:
            assert 0 < ops['HardSigmoid'] <= 2 and ops['QuantizeLinear'] == 1
        if prep.task == 'seg':  # the final upsampling runs in float, after dequantizing the small logits
            last = {o: n for n in graph.node for o in n.output}[graph.output[0].name]
            assert last.op_type == 'Resize' and producer[last.input[0]] == 'DequantizeLinear'
        assert res['padded_blocks'] > 0  # V3-Small's 72/88/96/120/144/288/576-wide bnecks -> multiples of 16
        agr = res['agreement']
        assert agr['n'] == n_eval
        if prep.task == 'cls':
            assert 0.0 <= agr['top1_agreement'] <= 1.0
        else:
            assert agr['pixel_agreement'] > 0.9 and 'miou_float_gt' in agr  # label maps were found
        # the int8 model tracks the float model closely (a broken scale or a wrong layout would not)
        _, arrays, _ = read_images(prep, eval_dir, 6)
        fs, qs = ort_session(fpath), ort_session(qpath)
        f = np.concatenate([run_ort(fs, a)[0].ravel() for a in arrays])
        q = np.concatenate([run_ort(qs, a)[0].ravel() for a in arrays])
        assert np.corrcoef(f, q)[0, 1] > 0.98


def test_pad_channels_is_the_same_function():
    from mmv3.deploy.fuse import fold_bn, pad_channels
    from mmv3.models.backbones import MobileNetV3
    torch.manual_seed(0)
    model = randomize_bn(MobileNetV3(arch='large', out_indices=(16, ))).eval()
    x = torch.randn(2, 3, 64, 64)
    for m in (model, fold_bn(model, x)[0]):  # with BN (padded too) and BN-folded
        with torch.no_grad():
            ref = m(x)[0]
        n_params = sum(p.numel() for p in m.parameters())
        assert pad_channels(m, 16) == 7  # 72, 72, 120, 120, 200, 184, 184
        mids = [b.mid_channels for b in m.modules() if hasattr(b, 'mid_channels')]
        assert all(c % 16 == 0 for c in mids[1:])  # the first bneck has no expansion conv (16 wide)
        with torch.no_grad():
            out = m(x)[0]
        assert torch.equal(out, ref)
        assert sum(p.numel() for p in m.parameters()) > n_params
        assert pad_channels(m, 16) == 0  # idempotent


def test_pad_channels_leaves_tapped_blocks_alone():
    from mmv3.deploy.fuse import pad_channels
    from mmv3.models.backbones import MobileNetV3
    m = MobileNetV3(arch='large', out_indices=('5.expand', '6.depthwise', 16)).eval()
    assert m.inner_taps == {5: ['expand'], 6: ['depthwise']} and m.int_taps == (16, )
    assert pad_channels(m, 16) == 5  # 72, 72, 200, 184, 184: bnecks 5 and 6 (120) are read by a head
    assert (m.layer5.mid_channels, m.layer6.mid_channels, m.layer8.mid_channels) == (120, 120, 208)
    assert m.out_channels == tuple(o.shape[1] for o in m(torch.rand(1, 3, 32, 32)))


def test_hard_sigmoid_runs_as_an_integer_clip(tmp_path):
    """The int8 hard-sigmoid rewrite: exact math, fewer float ops, and as accurate as the float gate."""
    from mmv3.deploy.graph_passes import hard_sigmoid_to_clip
    from mmv3.deploy.onnx_export import export_onnx
    from mmv3.deploy.runtimes import ort_session, quantize_onnx, run_ort
    from mmv3.models.layers import SELayer

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.Hardswish(), SELayer(32, 8),
                          nn.Conv2d(32, 16, 1)).eval()
    with torch.no_grad():
        model[0].weight.mul_(4.0)  # pre-activation range well past h-swish's knees at +-3
    fpath = str(tmp_path / 'f.onnx')
    export_onnx(model, fpath, (1, 3, 16, 16), ['out'])
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(8)]
    plain, clip = str(tmp_path / 'plain.onnx'), str(tmp_path / 'clip.onnx')
    quantize_onnx(fpath, plain, calib, int8_hard_sigmoid=False)
    quantize_onnx(fpath, clip, calib, int8_hard_sigmoid=False)
    assert hard_sigmoid_to_clip(clip) == 2  # the h-swish gate and the SE gate
    ops = {n.op_type for n in onnx.load(clip).graph.node}
    assert 'HardSigmoid' not in ops and 'Clip' in ops
    assert hard_sigmoid_to_clip(clip) == 0  # nothing left to rewrite
    xs = [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(8)]
    f = np.concatenate([run_ort(ort_session(fpath), x)[0] for x in xs])
    errs = {}
    for name, path in (('plain', plain), ('clip', clip)):
        q = np.concatenate([run_ort(ort_session(path), x)[0] for x in xs])
        errs[name] = np.abs(q - f).mean() / np.abs(f).mean()
    assert errs['clip'] < 0.05 and errs['clip'] < 1.5 * errs['plain'], errs


def test_float_stem_keeps_the_first_layers_in_float(tmp_path):
    from mmv3.deploy.runtimes import quantize_model
    prep = prepare_randomized(CLS_CFG, (64, 64))
    fpath, qpath = str(tmp_path / 'f.onnx'), str(tmp_path / 'q.onnx')
    from mmv3.deploy.onnx_export import export_onnx
    export_onnx(prep.deploy_model, fpath, (1, 3, 64, 64), prep.output_names)
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(4)]
    res = quantize_model(prep.deploy_model, fpath, qpath, calib, float_last_conv=False)  # float stem by default
    first = onnx.load(qpath).graph.node[0]
    assert first.op_type == 'Conv' and first.input[0] == 'input'  # the stem conv reads the float input
    # V3-Small's stem: the first conv and the first bneck (depthwise, SE 16->8->16, projection): 5 float convs
    assert res['ops'].get('Conv', 0) == 5 and res['ops'].get('QLinearConv', 0) > 20
    res = quantize_model(prep.deploy_model, fpath, qpath, calib, float_stem=False, float_last_conv=False)
    assert 'Conv' not in res['ops'] and onnx.load(qpath).graph.node[0].op_type == 'QuantizeLinear'


def test_ort_default_int8_mode_is_onnxruntimes_own_recipe(tmp_path):
    """ort-int8-default: quantize_static's defaults (QDQ, per-tensor, int8 activations), none of mmv3's passes."""
    from mmv3.deploy.runtimes import all_modes, build_runtime
    from mmv3.deploy.runtimes.onnxruntime import ORT_DEFAULTS
    name, opts = all_modes()['ort-int8-default']
    assert name == 'onnxruntime' and opts['quant'] == ORT_DEFAULTS and opts['tag'] == 'int8-default'
    prep = prepare_randomized(CLS_CFG, (64, 64))
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(4)]
    rt = build_runtime('onnxruntime')
    rt.prepare(prep.deploy_model, (1, 3, 64, 64), str(tmp_path), 'm', calib=calib,
               quant_options=dict(pad_multiple=16), **all_modes()['ort-int8-default'][1])
    ops = onnx_op_counts(str(tmp_path / 'm.int8-default.onnx'))
    assert ops.get('QuantizeLinear', 0) > 10 and ops.get('DequantizeLinear', 0) > 10  # QDQ
    assert 'QLinearConv' not in ops and 'Clip' not in ops  # no QOperator graph, no integer hard-sigmoid
    assert ops.get('HardSigmoid', 0) + ops.get('HardSwish', 0) > 0  # the float gates stay as exported
    m = onnx.load(str(tmp_path / 'm.int8-default.onnx'))
    scales = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer if i.name.endswith('_scale')}
    assert scales and all(v.size == 1 for v in scales.values())  # per-tensor weights and activations
    zps = [numpy_helper.to_array(i) for i in m.graph.initializer if i.name.endswith('_zero_point')]
    assert zps and not any(z.dtype == np.uint8 for z in zps)  # int8 activations (S8S8; biases int32)
    assert any(z.dtype == np.int8 for z in zps)


def test_last_conv_keep_float_patterns_and_float_logits(tmp_path):
    """The conv before the classifier's pooling stays float by default; --keep-float patterns keep more (a
    pattern matching nothing is refused); the logits come out of the QGemm in float."""
    from mmv3.deploy.graph_passes import float_output_gemm
    from mmv3.deploy.onnx_export import export_onnx
    from mmv3.deploy.runtimes import ort_session, quantize_model, run_ort
    prep = prepare_randomized(CLS_CFG, (64, 64), conv_std=1.0)
    fpath, qpath = str(tmp_path / 'f.onnx'), str(tmp_path / 'q.onnx')
    export_onnx(prep.deploy_model, fpath, (1, 3, 64, 64), prep.output_names)
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(4)]

    def float_convs(path):
        return [n.name for n in onnx.load(path).graph.node if n.op_type == 'Conv']
    quantize_model(prep.deploy_model, fpath, qpath, calib)  # defaults: float stem + float last conv
    convs = float_convs(qpath)
    # V3-Small: 5 stem convs and layer12, the 96 -> 576 conv before the global pooling
    assert len(convs) == 6 and convs[-1] == '/model/backbone/layer12/conv/Conv'
    graph = onnx.load(qpath).graph
    conv = next(n for n in graph.node if n.name == convs[-1])
    users = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    # its h-swish (x * HardSigmoid(x)) and the pooling are float too; the pooled features are quantized
    assert sorted(n.op_type for n in users[conv.output[0]]) == ['HardSigmoid', 'Mul']
    mul = next(n for n in users[conv.output[0]] if n.op_type == 'Mul')
    chain = [mul]
    while chain[-1].op_type != 'QGemm':
        (nxt, ) = users[chain[-1].output[0]]
        chain.append(nxt)
    assert [n.op_type for n in chain[1:]] == ['GlobalAveragePool', 'Reshape', 'QuantizeLinear', 'QGemm']
    quantize_model(prep.deploy_model, fpath, qpath, calib, float_last_conv=False)
    assert len(float_convs(qpath)) == 5
    res = quantize_model(prep.deploy_model, fpath, qpath, calib, keep_float=['*/layer10/*', '*/head/layers.1/*'])
    names = float_convs(qpath)
    assert len(names) == 6 + 5 and sum('/layer10/' in n for n in names) == 5  # expand, dw, SE x2, projection
    assert res['ops'].get('Gemm', 0) == 1 and res['ops'].get('QGemm', 0) == 1  # the classifier in float
    with pytest.raises(ValueError, match=r"'\*/layer99/\*' match no node"):
        quantize_model(prep.deploy_model, fpath, qpath, calib, keep_float=['*/layer99/*'])
    # float logits: the classifier QGemm writes the graph output; uint8 logits differ by < 1 output step
    q8 = str(tmp_path / 'q8.onnx')
    quantize_model(prep.deploy_model, fpath, q8, calib, float_output=False)
    quantize_model(prep.deploy_model, fpath, qpath, calib)
    g8 = onnx.load(q8).graph
    last8 = {o: n for n in g8.node for o in n.output}[g8.output[0].name]
    assert last8.op_type == 'DequantizeLinear'
    step = float(onnx.numpy_helper.to_array(next(i for i in g8.initializer if i.name == last8.input[1])))
    g = onnx.load(qpath).graph
    last = {o: n for n in g.node for o in n.output}[g.output[0].name]
    assert last.op_type == 'QGemm' and len(last.input) == 7  # no y_scale / y_zero_point: float output
    xs = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(4)]
    s8, sf = ort_session(q8), ort_session(qpath)
    for x in xs:
        a, b = run_ort(s8, x)[0], run_ort(sf, x)[0]
        assert np.abs(a - b).max() <= 0.5 * step + 1e-5 and np.abs(a - b).max() > 0  # rounding, no more
    assert float_output_gemm(qpath) == 0  # nothing left to rewrite


def test_quantize_refuses_bad_args(tmp_path):
    from mmv3.deploy.calibration import list_images
    from mmv3.deploy.runtimes import quantize_onnx
    with pytest.raises(FileNotFoundError, match='make_sample_data'):
        list_images(str(tmp_path / 'nope'))
    with pytest.raises(ValueError, match='quant_format'):
        quantize_onnx('x.onnx', str(tmp_path / 'y.onnx'), [np.zeros((1, 3, 8, 8), np.float32)], quant_format='fp8')


# ----------------------------------------------------------------------------------------- benchmark
def test_latency_stats():
    from mmv3.analysis.latency import latency_stats, time_fn
    s = latency_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s['median'] == 3.0 and s['min'] == 1.0 and s['max'] == 100.0 and s['iqr'] == pytest.approx(2.0)
    calls = []
    s = time_fn(lambda: calls.append(1), repeat=5, warmup=2)
    assert len(calls) == 7 and s['n'] == 5
    with pytest.raises(ValueError):
        time_fn(lambda: None, repeat=0)


def test_benchmark_cli_smoke(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('bench', osp.join(ROOT, 'tools/analysis_tools/benchmark.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / 'bench.md'
    mod.main([CLS_CFG, '--shape', '64', '64', '--repeat', '2', '--warmup', '1', '--compare', '--no-progress',
              '--modes', 'eager,fused,ort,ort-int8', '--work-dir', str(tmp_path), '--out', str(out)])
    text = capsys.readouterr().out
    assert 'torchvision mobilenet_v3_small' in text and 'timm mobilenetv3_small_100' in text
    assert 'fastest peer' in text and 'int8 speedup' in text
    stats = json.loads((tmp_path / 'bench.json').read_text())
    assert len(stats) == 3 * 4 and all(v['n'] == 2 and v['median'] > 0 for v in stats.values())
    with pytest.raises(ToolError, match='allowed'):
        mod.main([CLS_CFG, '--modes', 'eager,tensorrt'])
    with pytest.raises(ToolError, match='--pad-channels must be >= 0'):
        mod.main([CLS_CFG, '--pad-channels', '-1'])


def test_quantize_cli_refuses_negative_padding():
    import importlib.util
    spec = importlib.util.spec_from_file_location('quant', osp.join(ROOT, 'tools/deployment/quantize.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(ToolError, match='--pad-channels must be >= 0, got -2'):
        mod.main([CLS_CFG, '--calib-dir', 'unused', '--pad-channels', '-2'])
    with pytest.raises(ToolError, match='--num-calib must be >= 1, got 0'):
        mod.main([CLS_CFG, '--calib-dir', 'unused', '--num-calib', '0'])
    with pytest.raises(ToolError, match="--keep-float takes fnmatch patterns .* got ''"):
        mod.main([CLS_CFG, '--calib-dir', 'unused', '--keep-float', ''])


def test_quantize_cli_refuses_image_folders_before_writing(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location('quant', osp.join(ROOT, 'tools/deployment/quantize.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (tmp_path / 'empty').mkdir()
    out = tmp_path / 'out'
    with pytest.raises(ToolError, match=r"^--calib-dir: no images .* pass a folder with images") as e:
        mod.main([CLS_CFG, '--calib-dir', str(tmp_path / 'empty'), '--out-dir', str(out)])
    assert '\n' not in str(e.value)
    from PIL import Image
    (tmp_path / 'calib').mkdir()
    Image.new('RGB', (8, 8)).save(tmp_path / 'calib' / 'a.png')
    with pytest.raises(ToolError, match=r"^--eval-dir: image folder not found: .*missing"):
        mod.main([CLS_CFG, '--calib-dir', str(tmp_path / 'calib'), '--eval-dir', str(tmp_path / 'missing'),
                  '--out-dir', str(out)])
    assert not out.exists()
    spec = importlib.util.spec_from_file_location('bench', osp.join(ROOT, 'tools/analysis_tools/benchmark.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(ToolError, match=r"^--calib-dir: no images "):
        bench.main([CLS_CFG, '--modes', 'ort,ort-int8', '--calib-dir', str(tmp_path / 'empty'),
                    '--work-dir', str(out)])
    assert not out.exists()


def test_quantize_cli_keep_float_pattern_without_match_is_one_line(tmp_path):
    import importlib.util

    from mmv3.testing.sample_data import make_imagenet
    make_imagenet(str(tmp_path / 'imagenet'), num_train=10, num_val=4, img_size=(72, 72), num_classes=10)
    spec = importlib.util.spec_from_file_location('quant', osp.join(ROOT, 'tools/deployment/quantize.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(ToolError, match=r"'\*/layer99/\*' match no node of the graph") as e:
        mod.main([CLS_CFG, '--shape', '64', '64', '--calib-dir', str(tmp_path / 'imagenet/train'),
                  '--num-calib', '2', '--keep-float', '*/layer99/*', '--out-dir', str(tmp_path / 'out')])
    assert '\n' not in str(e.value)
    assert not (tmp_path / 'out' / 'mobilenet-v3-small_8xb512_in1k.int8.onnx').exists()


def test_layer_sensitivity_keeps_one_layer_float_at_a_time(tmp_path):
    from mmv3.deploy.pipeline import export
    from mmv3.deploy.sensitivity import format_sensitivity, layer_sensitivity, layer_units, module_pattern
    from mmv3.testing.sample_data import make_imagenet
    assert module_pattern('/model/backbone/layer7/expand_conv/conv/Conv') == '*/model/backbone/layer7/expand_conv/*'
    assert module_pattern('/model/backbone/layer7/expand_conv/conv/Conv/WithoutBiases') == \
        '*/model/backbone/layer7/expand_conv/*'  # OpenVINO's name of the same node
    assert module_pattern('/model/head/layers.1/fc/Gemm') == '*/model/head/layers.1/*'
    make_imagenet(str(tmp_path / 'imagenet'), num_train=10, num_val=6, img_size=(72, 72), num_classes=10)
    prep = prepare_randomized(CLS_CFG, (64, 64), conv_std=1.0)
    fpath = str(tmp_path / 'f.onnx')
    export(prep, fpath, verify=False)
    units = layer_units(fpath)
    # V3-Small: stem conv, 11 bnecks (expand where present, depthwise, SE x2 where present, projection), last conv,
    # the two head layers -- one unit per conv / linear node
    graph = onnx.load(fpath).graph
    assert len(units) == sum(n.op_type in ('Conv', 'Gemm') for n in graph.node)
    assert units[-1] == '*/model/head/layers.1/*'
    rows = layer_sensitivity(prep, fpath, str(tmp_path / 'trial.onnx'), str(tmp_path / 'imagenet/train'),
                             str(tmp_path / 'imagenet/val'), num_calib=4, units=units[-3:], progress=False)
    assert [r['unit'] for r in rows] == [None] + units[-3:] and all(r['agreement']['n'] == 6 for r in rows)
    # the last conv is already float in the recipe: keeping it float changes nothing; the head layers do
    assert rows[1]['unit'] == '*/model/backbone/layer12/*' and rows[1]['error'] == pytest.approx(rows[0]['error'])
    assert rows[3]['error'] != pytest.approx(rows[0]['error']) and 0 < rows[0]['error'] < 0.5
    assert not (tmp_path / 'trial.onnx').exists()
    text = format_sensitivity(rows)
    assert text.splitlines()[2].startswith('| (the recipe) |') and len(text.splitlines()) == 2 + 4


def test_probe_checkpoint_makes_a_working_classifier(tmp_path):
    """tools/deployment/make_probe_checkpoint.py: BN re-estimated + linear probe -> varied, data-driven predictions."""
    import importlib.util

    from mmv3.apis import build_from_config
    from mmv3.testing.sample_data import make_imagenet
    make_imagenet(str(tmp_path / 'in'), num_train=40, num_val=8, img_size=(72, 72), num_classes=4)
    spec = importlib.util.spec_from_file_location('probe', osp.join(ROOT, 'tools/deployment/make_probe_checkpoint.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ckpt = tmp_path / 'probe.pth'
    mod.main([CLS_CFG, '--data-root', str(tmp_path / 'in'), '--out', str(ckpt), '--shape', '64', '64'])
    state = torch.load(str(ckpt), weights_only=True)['state_dict']
    bn_vars = [v for k, v in state.items() if k.endswith('running_var')]
    assert bn_vars and not all(torch.allclose(v, torch.ones_like(v)) for v in bn_vars)  # re-estimated
    wrapper, _, _ = build_from_config(CLS_CFG, str(ckpt))  # loads strictly into the config's model
    from mmv3.deploy.calibration import read_images
    from mmv3.deploy.pipeline import Prepared
    prep = Prepared(wrapper, None, None, 'cls', (64, 64))
    _, arrays, labels = read_images(prep, str(tmp_path / 'in/train'))
    with torch.no_grad():
        pred = torch.cat([wrapper(torch.from_numpy(a))[0] for a in arrays]).argmax(1).numpy()
    assert len(set(pred.tolist())) >= 3  # not one class for every image
    assert (pred == np.asarray(labels)).mean() > 0.6  # fits its training images (chance: 0.25)


def test_deploy_loader_is_the_safe_loader(tmp_path):
    """Checkpoints given to the deployment tools go through mmv3.engine's weights_only loader."""
    import pickle

    from mmv3.apis import load_weights as load_checkpoint
    from mmv3.engine import CheckpointError

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    bad = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': Evil()}, bad, pickle_module=pickle)
    with pytest.raises(CheckpointError):
        load_checkpoint(torch.nn.Linear(2, 2), str(bad))
    good = tmp_path / 'ok.pth'
    src = torch.nn.Linear(2, 2)
    torch.save({'state_dict': src.state_dict()}, good)
    dst = torch.nn.Linear(2, 2)
    load_checkpoint(dst, str(good))
    assert torch.equal(dst.weight, src.weight)
