"""SSDLite (Table 6): anchors, neck/head construction, every row's Params/MAdds, COCO end to end."""
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmdet.registry import MODELS as DET_MODELS
from mmdet.registry import TASK_UTILS as DET_TASK_UTILS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmv3.models.backbones  # noqa: F401
import mmv3.models.dense_heads  # noqa: F401
import mmv3.models.task_modules  # noqa: F401
from mmv3.analysis import count_model
from mmv3.models.dense_heads import SSDLiteHead
from mmv3.models.task_modules import SSDLiteAnchorGenerator

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG_DIR = osp.join(ROOT, 'configs', 'det')
STRIDES_320 = [16, 32, 64, 320 / 3, 160, 320]
MAPS_320 = [20, 10, 5, 3, 2, 1]


def _cfg(name):
    return Config.fromfile(osp.join(CFG_DIR, name))


def _build(cfg, num_classes=None):
    init_default_scope('mmdet')
    model_cfg = cfg.model.copy()
    if num_classes is not None:
        model_cfg.bbox_head.num_classes = num_classes
    return DET_MODELS.build(model_cfg)


# ---------------------------------------------------------------------------------------------
# Anchors: TensorFlow's create_ssd_anchors (num_layers 6, scales 0.2..0.95, aspect ratios
# 1, 2, 1/2, 3, 1/3 + interpolated square; 3 boxes on the lowest layer)
# ---------------------------------------------------------------------------------------------
def _wh(anchors):
    return torch.stack([anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]], 1)


def test_anchor_generator_tf_layout():
    gen = DET_TASK_UTILS.build(dict(type='mmv3.SSDLiteAnchorGenerator', strides=STRIDES_320))
    assert isinstance(gen, SSDLiteAnchorGenerator)
    assert gen.num_base_priors == [3, 6, 6, 6, 6, 6]
    scales = [0.2 + 0.75 * k / 5 for k in range(6)] + [1.0]
    # level 0: (0.1, 1), (0.2, 2), (0.2, 1/2); width = s * sqrt(a) * 320, height = s / sqrt(a) * 320
    expected0 = torch.tensor([[32., 32.], [64 * math.sqrt(2), 64 / math.sqrt(2)],
                              [64 / math.sqrt(2), 64 * math.sqrt(2)]])
    torch.testing.assert_close(_wh(gen.base_anchors[0]), expected0)
    for k in range(1, 6):
        s = scales[k]
        wh = [[s * math.sqrt(a) * 320, s / math.sqrt(a) * 320] for a in (1.0, 2.0, 0.5, 3.0, 0.3333)]
        si = math.sqrt(s * scales[k + 1]) * 320
        wh.append([si, si])
        torch.testing.assert_close(_wh(gen.base_anchors[k]), torch.tensor(wh), rtol=1e-5, atol=1e-3)
    # centres at (i + 0.5) * 320 / map_size
    anchors = gen.grid_priors([(s, s) for s in MAPS_320], device='cpu')
    for level, (a, size) in enumerate(zip(anchors, MAPS_320)):
        assert a.shape == (size * size * gen.num_base_priors[level], 4)
        centres = ((a[:, :2] + a[:, 2:]) / 2).reshape(size, size, -1, 2)
        grid = (torch.arange(size, dtype=torch.float32) + 0.5) * 320 / size
        torch.testing.assert_close(centres[0, :, 0, 0], grid)  # x along a row
        torch.testing.assert_close(centres[:, 0, 0, 1], grid)  # y down a column
        assert torch.allclose(centres[..., 0], centres[..., :1, 0].expand_as(centres[..., 0]))


def test_anchor_generator_options_and_errors():
    gen = SSDLiteAnchorGenerator(strides=[8, 16, 32], input_size=(200, 100),
                                 reduce_boxes_in_lowest_layer=False,
                                 interpolated_scale_aspect_ratio=0)
    assert gen.num_base_priors == [5, 5, 5]
    torch.testing.assert_close(_wh(gen.base_anchors[0])[0], torch.tensor([0.2 * 200, 0.2 * 100]))
    with pytest.raises(ValueError, match='strides'):
        SSDLiteAnchorGenerator(strides=[16])
    with pytest.raises(ValueError, match='min_scale'):
        SSDLiteAnchorGenerator(strides=[16, 32], min_scale=0.9, max_scale=0.2)
    with pytest.raises(ValueError, match='aspect_ratios'):
        SSDLiteAnchorGenerator(strides=[16, 32], aspect_ratios=[1.0, -2.0])


def test_head_checks_arguments():
    anchors = dict(type='mmv3.SSDLiteAnchorGenerator', strides=STRIDES_320)
    with pytest.raises(ValueError, match='anchor generator has 6 levels'):
        SSDLiteHead(num_classes=80, in_channels=(96, 320), anchor_generator=anchors)
    with pytest.raises(ValueError, match='num_classes'):
        SSDLiteHead(num_classes=0, in_channels=(8,) * 6, anchor_generator=anchors)
    with pytest.raises(ValueError, match='in_channels'):
        SSDLiteHead(num_classes=80, in_channels=512, anchor_generator=anchors)


# ---------------------------------------------------------------------------------------------
# Table 6: one config per row. Params / MAdds at 320x320 with 91 class slots (num_classes=90),
# paper convention (conv/linear multiply-adds). Exact counts pinned; paper within 2% / 2.5%
# except the residuals recorded in constructions.md.
# ---------------------------------------------------------------------------------------------
ROWS = [
    # row (configs/det/ssdlite_<row>_8xb24-600e_coco.py), alpha, (C4, C5), params, MAdds,
    # paper params, paper MAdds
    ('mobilenet-v1', 1.0, (512, 1024), 5246911, 1322426304, 5.1e6, 1.3e9),
    ('mobilenet-v2', 1.0, (576, 1280), 4500543, 804397504, 4.3e6, 0.80e9),
    ('mnasnet-a1', 1.0, (672, 1280), 4912181, 837819232, 4.88e6, 0.84e9),
    ('mobilenet-v3-large', 1.0, (672, 960), 5006735, 613143104, 4.97e6, 0.62e9),
    ('mobilenet-v3-large-reduced', 1.0, (672, 480), 3248255, 506563904, 3.22e6, 0.51e9),
    ('mobilenet-v2-035', 0.35, (192, 448), 947709, 166713786, 0.93e6, 0.16e9),
    ('mobilenet-v2-050', 0.5, (288, 640), 1562111, 272348896, 1.54e6, 0.27e9),
    ('mnasnet-a1-035', 0.35, (240, 448), 1032335, 177387738, 1.02e6, 0.18e9),
    ('mnasnet-a1-050', 0.5, (336, 640), 1690173, 290408224, 1.68e6, 0.29e9),
    ('mobilenet-v3-small', 1.0, (288, 576), 2518271, 210417856, 2.49e6, 0.21e9),
    ('mobilenet-v3-small-reduced', 1.0, (288, 288), 1785743, 162303424, 1.77e6, 0.16e9),
]
# Residuals (measured, documented): the V1 and V2 rows' params come from the MobileNetV2 paper
# and are 2.9% / 4.7% below our 91-slot count (see test_v1_v2_rows_match_81_class_slots);
# V2 0.35 MAdds +4.2% (constructions.md).
PARAMS_RESIDUAL = {'mobilenet-v1', 'mobilenet-v2'}
MADDS_RESIDUAL = {'mobilenet-v2-035'}


@pytest.mark.parametrize('row,alpha,c4c5,params,madds,paper_params,paper_madds', ROWS,
                         ids=[r[0] for r in ROWS])
def test_table6_row(row, alpha, c4c5, params, madds, paper_params, paper_madds):
    cfg = _cfg(f'ssdlite_{row}_8xb24-600e_coco.py')
    extra = tuple(max(int(d * alpha), 16) for d in (512, 256, 256, 128))
    assert tuple(cfg.model.neck.in_channels) == c4c5
    assert tuple(cfg.model.neck.out_channels) == c4c5 + extra
    assert tuple(cfg.model.bbox_head.in_channels) == c4c5 + extra
    assert cfg.model.bbox_head.num_classes == 80  # mmdet's CocoDataset
    model = _build(cfg, num_classes=90).eval()
    assert tuple(model.backbone.out_channels) == c4c5  # the config agrees with the backbone
    res = count_model(model, (1, 3, 320, 320))
    assert res['params'] == params
    assert res['madds'] == madds
    if row in PARAMS_RESIDUAL:
        assert params / paper_params - 1 > 0.02  # documented residual, value pinned above
    else:
        assert abs(params / paper_params - 1) <= 0.02
    if row in MADDS_RESIDUAL:
        assert 0.04 < madds / paper_madds - 1 < 0.045
    else:
        assert abs(madds / paper_madds - 1) <= 0.025


def test_v1_v2_rows_match_81_class_slots():
    """Counted with 80 COCO classes + background (81 slots), the V1 and V2 rows (figures taken
    from the MobileNetV2 paper) land within 1% of the paper's params: 5.10M vs 5.1M, 4.34M vs 4.3M."""
    for name, params, madds, paper_params, paper_madds in [
            ('ssdlite_mobilenet-v1_8xb24-600e_coco.py', 5100661, 1309162944, 5.1e6, 1.3e9),
            ('ssdlite_mobilenet-v2_8xb24-600e_coco.py', 4337013, 788830144, 4.3e6, 0.80e9)]:
        res = count_model(_build(_cfg(name)).eval(), (1, 3, 320, 320))
        assert (res['params'], res['madds']) == (params, madds)
        assert abs(params / paper_params - 1) <= 0.01
        assert abs(madds / paper_madds - 1) <= 0.025


def test_ssdlite_construction():
    """Extra layers, predictors, feature-map sizes and output shapes of the V3-Large model."""
    model = _build(_cfg('ssdlite_mobilenet-v3-large_8xb24-600e_coco.py'), num_classes=90).eval()
    chans = (672, 960, 512, 256, 256, 128)
    for i, layer in enumerate(model.neck.extra_layers):
        reduce, dwsep = layer
        assert isinstance(reduce, ConvModule) and isinstance(dwsep, DepthwiseSeparableConvModule)
        assert reduce.conv.kernel_size == (1, 1) and reduce.conv.in_channels == chans[i + 1]
        assert reduce.conv.out_channels == chans[i + 2] // 2 and reduce.conv.bias is None
        dw, pw = dwsep.depthwise_conv, dwsep.pointwise_conv
        assert dw.conv.groups == dw.conv.in_channels == chans[i + 2] // 2
        assert dw.conv.kernel_size == (3, 3) and dw.conv.stride == (2, 2)
        assert pw.conv.kernel_size == (1, 1) and pw.conv.out_channels == chans[i + 2]
        for m in (reduce, dw, pw):
            assert isinstance(m.bn, nn.BatchNorm2d) and isinstance(m.activate, nn.ReLU6)
    for level, (cls, reg) in enumerate(zip(model.bbox_head.cls_convs, model.bbox_head.reg_convs)):
        anchors = 3 if level == 0 else 6
        for branch, outs in ((cls, anchors * 91), (reg, anchors * 4)):
            dw, pred = branch
            assert dw.conv.groups == dw.conv.in_channels == chans[level]
            assert dw.conv.kernel_size == (3, 3) and isinstance(dw.activate, nn.ReLU6)
            assert isinstance(dw.bn, nn.BatchNorm2d)
            assert pred.kernel_size == (1, 1) and pred.out_channels == outs and pred.bias is not None
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 320, 320))
        cls_scores, bbox_preds = model.bbox_head(feats)
    assert [f.shape[-1] for f in feats] == MAPS_320
    assert [tuple(f.shape[1:3]) for f in feats] == [(c, s) for c, s in zip(chans, MAPS_320)]
    assert [c.shape[1] for c in cls_scores] == [3 * 91] + [6 * 91] * 5
    assert [b.shape[1] for b in bbox_preds] == [3 * 4] + [6 * 4] * 5


def test_recipe_and_pretrained_init(tmp_path):
    cfg = _cfg('ssdlite_mobilenet-v3-large-in1k-pre_8xb24-600e_coco.py')
    assert cfg.default_scope == 'mmdet'
    assert cfg.optim_wrapper.optimizer.type == 'SGD' and cfg.optim_wrapper.optimizer.lr == 0.015
    assert cfg.train_dataloader.batch_size == 24 and cfg.auto_scale_lr.base_batch_size == 192
    assert cfg.train_cfg.max_epochs * cfg.train_dataloader.dataset.times == 600
    assert cfg.val_evaluator.type == 'CocoMetric' and cfg.val_evaluator.metric == 'bbox'
    # an ImageNet classifier checkpoint in mmpretrain layout ('backbone.' + backbone keys)
    init_default_scope('mmdet')
    source = DET_MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    for p in source.parameters():
        nn.init.uniform_(p, -1, 1)
    ckpt = tmp_path / 'mobilenet-v3-large_in1k.pth'
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.layers.0.fc.weight'] = torch.zeros(2, 2)
    torch.save(dict(state_dict=state, meta=dict()), ckpt)
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = _build(cfg)
    model.init_weights()
    for k, v in source.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[k], v, msg=k)


SAMPLE_CFG = """
_base_ = [{base!r}]
size = 160
root = {root!r}
model = dict(
    backbone=dict(init_cfg=None),
    bbox_head=dict(anchor_generator=dict(  # maps 10, 5, 3, 2, 1, 1 at 160
        input_size=size, strides=[16, 32, size / 3, size / 2, size, size])))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(size, size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(size, size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(times=1, dataset=dict(data_root=root, pipeline=train_pipeline)))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=15, val_interval=100)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)]
optim_wrapper = dict(optimizer=dict(lr=0.05))
default_hooks = dict(checkpoint=dict(interval=100), logger=dict(interval=8))
randomness = dict(seed=0)
"""


@pytest.mark.slow
def test_train_and_evaluate_on_sample_coco(tmp_path):
    """tools/train.py then tools/test.py on the COCO-format sample, V3-Small row config (input
    160, 64 images, 15 epochs, SGD lr 0.05): the loss falls and COCO bbox AP is clearly > 0."""
    import json
    import os
    import re
    import subprocess
    import sys

    from mmv3.testing import make_coco

    data_root = str(tmp_path / 'coco') + '/'
    make_coco(data_root, num_train=64, num_val=16, img_size=(160, 160), seed=0)
    cfg_file = tmp_path / 'ssdlite_sample.py'
    cfg_file.write_text(SAMPLE_CFG.format(
        base=osp.join(CFG_DIR, 'ssdlite_mobilenet-v3-small_8xb24-600e_coco.py'), root=data_root))
    work = tmp_path / 'work'
    # one thread: far faster than two on a busy 2-core machine (no OpenMP spinning)
    env = dict(os.environ, OMP_NUM_THREADS='1')

    def tool(*args):
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    tool('tools/train.py', str(cfg_file), '--work-dir', str(work))
    scalars = sorted(work.glob('*/vis_data/scalars.json'))[-1].read_text().splitlines()
    losses = torch.tensor([json.loads(line)['loss'] for line in scalars if '"loss"' in line])
    assert len(losses) == 15  # 8 iterations per epoch, logged every 8
    assert losses[-3:].mean() < 0.3 * losses[0], losses

    out = tool('tools/test.py', str(cfg_file), str(work / 'epoch_15.pth'),
               '--work-dir', str(tmp_path / 'test'))
    ap = re.findall(r'coco/bbox_mAP: ([0-9.]+)\s+coco/bbox_mAP_50: ([0-9.]+)', out)
    assert ap, out[-3000:]
    bbox_map, bbox_map50 = map(float, ap[-1])
    assert bbox_map > 0.05 and bbox_map50 > 0.15, ap
