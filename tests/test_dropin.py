"""Drop-in: mmv3's backbone inside UNMODIFIED upstream configs of mmpretrain, mmdet and mmseg.

Each test loads a config shipped in ``site-packages/<pkg>/.mim/configs`` with mmengine's
``Config``, adds ``custom_imports=['mmv3']``, swaps in ``type='mmv3.MobileNetV3'`` (neck / head
input channels read from the backbone's declared ``out_channels``), builds the model the way
mmengine's Runner does, and runs one training step (loss, backward, optimizer step of the
config's own optimizer) and one inference step on CPU with tiny inputs.
"""
import copy
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings


def upstream(pkg, rel):
    root = osp.join(osp.dirname(importlib.import_module(pkg).__file__), '.mim', 'configs')
    cfg = Config.fromfile(osp.join(root, rel))
    cfg.custom_imports = dict(imports=['mmv3'], allow_failed_imports=False)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    return cfg


def declared_channels(backbone_cfg):
    """The channels the mmv3 backbone declares for its taps (what a user reads off)."""
    from mmv3.registry import MODELS
    return MODELS.build(copy.deepcopy(backbone_cfg)).out_channels


def train_and_infer(model, cfg, data):
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = [p.detach().clone() for p in model.backbone.parameters()]
    model.train()
    losses = model.train_step(copy.deepcopy(data), optim)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    changed = sum(not torch.equal(a, b.detach()) for a, b in zip(before, model.backbone.parameters()))
    assert changed > 0.5 * len(before)  # gradients reached the mmv3 backbone and were applied
    model.eval()
    with torch.no_grad():
        return model.test_step(copy.deepcopy(data))


def test_mmpretrain_mobilenet_v3_config():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = upstream('mmpretrain', 'mobilenet_v3/mobilenet-v3-small_8xb128_in1k.py')
    upstream_model_cfg = copy.deepcopy(cfg.model)
    cfg.model.backbone = dict(type='mmv3.MobileNetV3', arch='small')  # same default tap: the last layer
    cfg.model.head.in_channels = declared_channels(cfg.model.backbone)[-1]
    assert cfg.model.head.in_channels == 576
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # as Runner does
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__module__.startswith('mmv3.')
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in range(2)],
                data_samples=[DataSample().set_gt_label(i) for i in (1, 7)])
    preds = train_and_infer(model, cfg, data)
    assert len(preds) == 2 and preds[0].pred_score.shape == (1000, )

    # mmpretrain's own MobileNetV3 weights load into mmv3's unchanged and give the same outputs
    ref = MODELS.build(upstream_model_cfg).eval()
    ours = MODELS.build(cfg.model).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), ref(x, mode='tensor'), rtol=1e-5, atol=1e-6)


def test_mmdet_ssdlite_config():
    from mmdet.registry import MODELS
    cfg = upstream('mmdet', 'ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py')
    # SSDLite on V3-Large as in the paper: C4 = expansion of bneck 13, C5 = the final 1x1 conv
    cfg.model.backbone = dict(type='mmv3.MobileNetV3', arch='large', out_indices=('13.expand', 16),
                              norm_cfg=cfg.model.backbone.norm_cfg)
    chans = tuple(declared_channels(cfg.model.backbone))
    assert chans == (672, 960)
    cfg.model.neck.in_channels = chans
    cfg.model.neck.out_channels = chans + tuple(cfg.model.neck.out_channels[2:])
    cfg.model.bbox_head.in_channels = cfg.model.neck.out_channels
    model = MODELS.build(cfg.model)
    # mmdet 3.3.0's SSDHead cannot predict (open-mmlab/mmdetection#11063, #11780: it never sets
    # the `loss_cls` that BaseDenseHead._predict_by_feat_single reads); unrelated to the backbone.
    if not hasattr(model.bbox_head, 'loss_cls'):
        model.bbox_head.loss_cls = None
    preds = train_and_infer(model, cfg, det_batch(128))
    assert len(preds) == 2 and preds[0].pred_instances.bboxes.shape[-1] == 4


def det_batch(size):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    samples = []
    for i in range(2):
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                                        scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[10., 12., 70., 90.], [40., 30., 120., 100.]]),
                                      labels=torch.tensor([i, 5]))
        samples.append(s)
    return dict(inputs=[torch.randint(0, 255, (3, size, size), dtype=torch.uint8) for _ in range(2)],
                data_samples=samples)


def test_mmdet_retinanet_config():
    from mmdet.registry import MODELS
    cfg = upstream('mmdet', 'retinanet/retinanet_r50_fpn_1x_coco.py')
    # ResNet's C2-C5 (strides 4, 8, 16, 32) -> V3-Large's last layers at those strides;
    # FPN's start_level / num_outs / add_extra_convs stay as shipped.
    cfg.model.backbone = dict(type='mmv3.MobileNetV3', arch='large', out_indices=(3, 6, 12, 16),
                              norm_cfg=cfg.model.backbone.norm_cfg)
    cfg.model.neck.in_channels = list(declared_channels(cfg.model.backbone))
    assert cfg.model.neck.in_channels == [24, 40, 112, 960]
    model = MODELS.build(cfg.model)
    preds = train_and_infer(model, cfg, det_batch(128))
    assert len(preds) == 2 and preds[0].pred_instances.bboxes.shape[-1] == 4


def test_mmseg_deeplabv3plus_config():
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    cfg = upstream('mmseg', 'deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py')
    # the ResNet's four taps (1/4, 1/8, 1/8, 1/8 at output stride 8) -> V3-Large taps
    cfg.model.pretrained = None  # the ImageNet ResNet weights do not apply to another backbone
    cfg.model.backbone = dict(type='mmv3.MobileNetV3', arch='large', out_indices=(3, 6, 12, 16),
                              output_stride=8, norm_cfg=cfg.model.backbone.norm_cfg)
    chans = declared_channels(cfg.model.backbone)
    cfg.model.decode_head.in_channels = chans[cfg.model.decode_head.in_index]
    cfg.model.decode_head.c1_in_channels = chans[0]
    cfg.model.auxiliary_head.in_channels = chans[cfg.model.auxiliary_head.in_index]
    crop = (64, 64)  # a small crop instead of 512x1024
    cfg.model.data_preprocessor.size = crop
    model = revert_sync_batchnorm(MODELS.build(cfg.model))  # SyncBN -> BN on one CPU process
    assert (model.decode_head.in_channels, model.decode_head.c1_bottleneck.conv.in_channels) == (960, 24)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=crop, ori_shape=crop, pad_shape=crop, scale_factor=(1.0, 1.0)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, ) + crop))
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, ) + crop, dtype=torch.uint8) for _ in range(2)],
                data_samples=samples)
    preds = train_and_infer(model, cfg, data)
    assert len(preds) == 2 and tuple(preds[0].pred_sem_seg.data.shape) == (1, ) + crop


@pytest.mark.parametrize('bad', [dict(arch='medium'), dict(out_indices=(17, ))])
def test_bad_backbone_args_in_a_config_name_the_field(bad):
    from mmpretrain.registry import MODELS
    cfg = upstream('mmpretrain', 'mobilenet_v3/mobilenet-v3-small_8xb128_in1k.py')
    cfg.model.backbone = dict(type='mmv3.MobileNetV3', **bad)
    with pytest.raises(Exception, match='arch|out_indices'):
        MODELS.build(cfg.model)
