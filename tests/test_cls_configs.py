"""configs/cls: every config is the paper's model (Table 3, Table 5, Figure 7) trained with
the paper's protocol, and builds, runs and trains through mmpretrain."""
import glob
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from mmv3.analysis import count_model

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_DIR = osp.join(ROOT, 'configs', 'cls')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CLS_DIR, '*.py')))

WIDTHS = ('035', '050', '075', '125')
# configs of trained weights converted from another framework -> the paper config they inherit (its protocol,
# for fine-tuning; tests/test_converter_keras.py / test_converter_tf1.py check that they compute the source's outputs)
CONVERTED_FROM = {'mobilenet-v3-large_keras-in1k.py': 'mobilenet-v3-large_8xb512_in1k.py',
                  'mobilenet-v3-small_keras-in1k.py': 'mobilenet-v3-small_8xb512_in1k.py',
                  'mobilenet-v3-large_tf-slim_in1k.py': 'mobilenet-v3-large_8xb512_in1k.py',
                  'mobilenet-v3-large-075_tf-slim_in1k.py': 'mobilenet-v3-large-075_8xb512_in1k.py',
                  'mobilenet-v3-small_tf-slim_in1k.py': 'mobilenet-v3-small_8xb512_in1k.py',
                  'mobilenet-v3-small-075_tf-slim_in1k.py': 'mobilenet-v3-small-075_8xb512_in1k.py'}
RESOLUTIONS = (96, 128, 160, 192, 256)
EXPECTED = (
    ['mobilenet-v3-large_8xb512_in1k.py', 'mobilenet-v3-small_8xb512_in1k.py',
     'mobilenet-v2_8xb512_in1k.py', 'mobilenet-v2-035_8xb512_in1k.py', 'mnasnet-a1_8xb512_in1k.py',
     'mobilenet-v3-large-relu_8xb512_in1k.py', 'mobilenet-v3-large-hswish16_8xb512_in1k.py',
     'mobilenet-v3-large-hswish112_8xb512_in1k.py']
    + [f'mobilenet-v3-{a}-{w}_8xb512_in1k.py' for a in ('large', 'small') for w in WIDTHS]
    + [f'mobilenet-v3-large_8xb512_in1k-{r}px.py' for r in RESOLUTIONS]
    + list(CONVERTED_FROM))

# name -> (params with 1000 classes, params with 1001 classes, MAdds at 224 with 1001 classes),
# measured with mmv3.analysis.count_model (paper convention). Pinned: any change of the
# architecture or the configs shows up here.
PINNED = {
    'mnasnet-a1_8xb512_in1k.py': (3887038, 3888319, 311580352),
    'mobilenet-v2-035_8xb512_in1k.py': (1677128, 1678409, 59287088),
    'mobilenet-v2_8xb512_in1k.py': (3504872, 3506153, 300775552),
    'mobilenet-v3-large-035_8xb512_in1k.py': (2131832, 2133113, 39473616),
    'mobilenet-v3-large-050_8xb512_in1k.py': (2689520, 2690801, 69248880),
    'mobilenet-v3-large-075_8xb512_in1k.py': (3993528, 3994809, 154561904),
    'mobilenet-v3-large-125_8xb512_in1k.py': (7551976, 7553257, 355223200),
    'mobilenet-v3-large-hswish112_8xb512_in1k.py': (5483032, 5484313, 216591040),
    'mobilenet-v3-large-hswish16_8xb512_in1k.py': (5483032, 5484313, 216591040),
    'mobilenet-v3-large-relu_8xb512_in1k.py': (5483032, 5484313, 216591040),
    'mobilenet-v3-large_8xb512_in1k.py': (5483032, 5484313, 216591040),
    'mobilenet-v3-small-035_8xb512_in1k.py': (1358288, 1359313, 12816864),
    'mobilenet-v3-small-050_8xb512_in1k.py': (1592704, 1593729, 21053584),
    'mobilenet-v3-small-075_8xb512_in1k.py': (2041872, 2042897, 43400368),
    'mobilenet-v3-small-125_8xb512_in1k.py': (3205384, 3206409, 90801888),
    'mobilenet-v3-small_8xb512_in1k.py': (2542856, 2543881, 56511424),
}
PINNED.update({f'mobilenet-v3-large_8xb512_in1k-{r}px.py': PINNED['mobilenet-v3-large_8xb512_in1k.py']
               for r in RESOLUTIONS})
PINNED.update({name: PINNED[base] for name, base in CONVERTED_FROM.items()})  # the same model (padding aside)

# Table 3 (params, MAdds) and how close we must be.
TABLE3 = {
    'mobilenet-v3-large_8xb512_in1k.py': (5.4e6, 219e6),
    'mobilenet-v3-large-075_8xb512_in1k.py': (4.0e6, 155e6),
    'mobilenet-v3-small_8xb512_in1k.py': (2.5e6, 56e6),
    'mobilenet-v3-small-075_8xb512_in1k.py': (2.0e6, 44e6),
    'mobilenet-v2_8xb512_in1k.py': (3.4e6, 300e6),
    'mobilenet-v2-035_8xb512_in1k.py': (1.6e6, 59.2e6),
    'mnasnet-a1_8xb512_in1k.py': (3.9e6, 315e6),
}


def load(name):
    cfg = Config.fromfile(osp.join(CLS_DIR, name))
    import_modules_from_strings(**cfg.custom_imports)  # exactly what mmengine's Runner does
    init_default_scope(cfg.default_scope)
    return cfg


def build(cfg, num_classes=None):
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    if num_classes is not None:
        model_cfg.head.num_classes = num_classes
    return MODELS.build(model_cfg)


def resolution(cfg):
    crop = [t for t in cfg.test_pipeline if t['type'] == 'CenterCrop'][0]
    return crop['crop_size']


def test_the_paper_rows_are_all_there():
    assert sorted(EXPECTED) == CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_training_protocol(name):
    """Section 6.1.1: RMSProp 0.9, lr 0.1 @ 4096, x0.99 / 3 epochs, wd 1e-5, dropout 0.2,
    EMA 0.9999, BN momentum 0.01; batch layout as the name states; Inception preprocessing."""
    cfg = load(name)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['mmv3'], allow_failed_imports=False)
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)_', CONVERTED_FROM.get(name, name)).groups())
    assert cfg.train_dataloader.batch_size == per_gpu
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'RMSprop' and opt.momentum == 0.9 and opt.alpha == 0.9
    assert opt.lr == pytest.approx(0.1 * gpus * per_gpu / 4096)
    assert opt.weight_decay == 1e-5
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                                   dwconv_decay_mult=0.0)
    assert cfg.auto_scale_lr.base_batch_size == 4096
    sched = cfg.param_scheduler
    assert (sched.type, sched.by_epoch, sched.step_size, sched.gamma) == ('StepLR', True, 3, 0.99)
    ema = [h for h in cfg.custom_hooks if h['type'] == 'EMAHook']
    assert len(ema) == 1 and ema[0]['momentum'] == pytest.approx(1 - 0.9999)
    assert cfg.model.backbone.norm_cfg == dict(type='BN', eps=0.001, momentum=0.01)
    assert cfg.model.head.dropout_rate == 0.2
    assert cfg.train_dataloader.dataset.data_root == 'data/imagenet'
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.data_preprocessor.mean == [127.5] * 3 and cfg.data_preprocessor.std == [127.5] * 3
    # Inception crop at the config's resolution; eval: central 87.5 %
    r = resolution(cfg)
    m = re.search(r'-(\d+)px\.py$', name)
    assert r == (int(m.group(1)) if m else 224)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipe = cfg[loader].dataset.pipeline
        types = [t['type'] for t in pipe]
        if loader == 'train_dataloader':
            rrc = pipe[types.index('RandomResizedCrop')]
            assert rrc['scale'] == r and rrc['crop_ratio_range'] == (0.05, 1.0)
            assert 'RandomFlip' in types
        else:
            assert pipe[types.index('ResizeEdge')]['scale'] == round(r / 0.875)
            assert pipe[types.index('CenterCrop')]['crop_size'] == r


@pytest.mark.parametrize('name', CONFIGS)
def test_builds_forward_and_pinned_params(name):
    cfg = load(name)
    model = build(cfg).eval()
    bb, head = model.backbone, model.head
    # the head reads what the backbone declares
    assert cfg.model.head.in_channels == bb.out_channels[-1]
    if 'v3' in name:
        # the 1280 / 1024 conv is never width-scaled (TF finegrain_classification_mode)
        assert head.layers[0].fc.out_features == (1280 if 'large' in name else 1024)
        assert isinstance(head.layers[0].act, torch.nn.Hardswish) != ('relu' in name)
    r = resolution(cfg)
    with torch.no_grad():
        out = model(torch.randn(1, 3, r, r), mode='tensor')
    assert out.shape == (1, 1000)
    assert sum(p.numel() for p in model.parameters()) == PINNED[name][0]


def test_table5_nonlinearity_variants():
    """all ReLU / h-swish @16 / @112: same weights as V3-Large, only the activations move."""
    acts = {}
    for name in ('mobilenet-v3-large_8xb512_in1k.py', 'mobilenet-v3-large-relu_8xb512_in1k.py',
                 'mobilenet-v3-large-hswish16_8xb512_in1k.py', 'mobilenet-v3-large-hswish112_8xb512_in1k.py'):
        bb = build(load(name)).backbone
        acts[name.split('_')[0]] = [
            'HS' if isinstance(getattr(bb, f'layer{i}').depthwise_conv.activate, torch.nn.Hardswish) else 'RE'
            for i in range(1, 16)] + [
            'HS' if isinstance(bb.layer0.activate, torch.nn.Hardswish) else 'RE']
    base = ['RE'] * 6 + ['HS'] * 9 + ['HS']
    assert acts['mobilenet-v3-large'] == base
    assert acts['mobilenet-v3-large-relu'] == ['RE'] * 16
    assert acts['mobilenet-v3-large-hswish16'] == ['HS'] * 16
    assert acts['mobilenet-v3-large-hswish112'] == ['RE'] * 10 + ['HS'] * 5 + ['HS']


@pytest.mark.parametrize('name', sorted(TABLE3))
def test_table3_params_and_madds(name):
    """Table 3 at 224, 1001 classes, paper convention (mmv3.analysis.count_model).

    V3 rows and MnasNet-A1 are within 2.5 % in both columns. MobileNetV2's MAdds are too;
    its params are +3.1 % (1.0) / +4.9 % (0.35) off the table, but equal (1000 classes) to
    torchvision's mobilenet_v2 (3,504,872 / 1,677,128): the V2 paper's own figure is low.
    """
    cfg = load(name)
    res = count_model(build(cfg, num_classes=1001), (1, 3, 224, 224), convention='paper')
    assert (res['params'], res['madds']) == PINNED[name][1:]
    paper_params, paper_madds = TABLE3[name]
    assert abs(res['madds'] / paper_madds - 1) < 0.025
    if 'mobilenet-v2' in name:
        assert 0.025 < res['params'] / paper_params - 1 < 0.05
    else:
        assert abs(res['params'] / paper_params - 1) < 0.025


def test_baselines_equal_reference_implementations():
    """Param counts (1000 classes) equal torchvision's MobileNetV2 (1.0, 0.35) and timm's
    MnasNet-A1 (semnasnet_100), built locally."""
    import timm
    import torchvision

    def n(m):
        return sum(p.numel() for p in m.parameters())

    assert PINNED['mobilenet-v2_8xb512_in1k.py'][0] == n(torchvision.models.mobilenet_v2())
    assert PINNED['mobilenet-v2-035_8xb512_in1k.py'][0] == n(torchvision.models.mobilenet_v2(width_mult=0.35))
    assert PINNED['mnasnet-a1_8xb512_in1k.py'][0] == n(timm.create_model('semnasnet_100'))
    for name in ('mobilenet-v2_8xb512_in1k.py', 'mobilenet-v2-035_8xb512_in1k.py', 'mnasnet-a1_8xb512_in1k.py'):
        assert sum(p.numel() for p in build(load(name)).parameters()) == PINNED[name][0]


def test_figure7_resolution_madds_scale():
    """Figure 7's resolution sweep: same params, MAdds grow ~ with the pixel count."""
    madds = {}
    for r in (96, 128, 160, 192, 224, 256):
        name = f'mobilenet-v3-large_8xb512_in1k-{r}px.py' if r != 224 else 'mobilenet-v3-large_8xb512_in1k.py'
        cfg = load(name)
        assert resolution(cfg) == r
        madds[r] = count_model(build(cfg, 1001), (1, 3, r, r), device='meta')['madds']
    assert sorted(madds.values()) == [madds[r] for r in sorted(madds)]
    assert madds[224] == PINNED['mobilenet-v3-large_8xb512_in1k.py'][2]
    # the head (2.5M MAdds) does not scale with resolution; the rest does, up to pooling edges
    head = 960 * 1280 + 1280 * 1001
    for r in (96, 128, 160, 192, 256):
        ratio = (madds[r] - head) / (madds[224] - head)
        assert ratio == pytest.approx((r / 224) ** 2, rel=0.06)


# Figure 7 rows: MAdds (1001 classes, paper convention) at each config's own resolution, pinned.
FIGURE7_MADDS = {96: 43061440, 128: 73429120, 160: 112473280, 192: 160193920, 256: 281664640}


@pytest.mark.parametrize('r', RESOLUTIONS)
def test_figure7_config_states_its_resolution_once(r):
    """A resolution config states `resolution = r` and nothing else: its pipelines are the 224
    config's with only the sizes changed (mmv3.datasets.resolution.at_resolution)."""
    name = f'mobilenet-v3-large_8xb512_in1k-{r}px.py'
    with open(osp.join(CLS_DIR, name)) as f:
        text = f.read()
    assert re.findall(r'^resolution = (\d+)$', text, flags=re.M) == [str(r)]
    assert 'RandomResizedCrop' not in text and 'LoadImageFromFile' not in text
    cfg, base = load(name), load('mobilenet-v3-large_8xb512_in1k.py')
    assert cfg.resolution == r
    sizes = {'RandomResizedCrop': ('scale', r), 'ResizeEdge': ('scale', round(r / 0.875)),
             'CenterCrop': ('crop_size', r)}
    for key in ('train_pipeline', 'test_pipeline'):
        expected = [dict(t, **{sizes[t['type']][0]: sizes[t['type']][1]}) if t['type'] in sizes else dict(t)
                    for t in base[key]]
        assert [dict(t) for t in cfg[key]] == expected
    for loader, key in (('train_dataloader', 'train_pipeline'), ('val_dataloader', 'test_pipeline'),
                        ('test_dataloader', 'test_pipeline')):
        assert cfg[loader].dataset.pipeline == cfg[key]
        assert {k: v for k, v in cfg[loader].items() if k != 'dataset'} == \
            {k: v for k, v in base[loader].items() if k != 'dataset'}
    assert cfg.model == base.model
    assert count_model(build(cfg, 1001), (1, 3, r, r), device='meta')['madds'] == FIGURE7_MADDS[r]


def test_at_resolution_refuses_what_it_cannot_derive():
    from mmv3.datasets.resolution import at_resolution
    base = load('mobilenet-v3-large_8xb512_in1k.py')
    assert at_resolution(base.test_pipeline, 224) == [dict(t) for t in base.test_pipeline]
    with pytest.raises(ValueError, match='Resize.*not derived'):
        at_resolution(list(base.test_pipeline) + [dict(type='Resize', scale=(224, 224))], 160)
    with pytest.raises(ValueError, match='no RandomResizedCrop'):
        at_resolution([dict(type='LoadImageFromFile')], 160)
    with pytest.raises(ValueError, match='positive int'):
        at_resolution(base.test_pipeline, 160.0)

@pytest.mark.parametrize('name', ['mobilenet-v3-large_8xb512_in1k-96px.py', 'mobilenet-v3-small_8xb512_in1k.py'])
def test_pipelines_produce_the_resolution(name, tmp_path):
    import mmcv
    from mmengine.dataset import Compose
    cfg = load(name)
    r = resolution(cfg)
    img = (np.random.RandomState(0).rand(300, 400, 3) * 255).astype(np.uint8)
    path = str(tmp_path / 'img.jpg')
    mmcv.imwrite(img, path)
    for pipe in (cfg.train_pipeline, cfg.test_pipeline):
        out = Compose(pipe)(dict(img_path=path, gt_label=3))
        assert tuple(out['inputs'].shape) == (3, r, r)


def _fake_imagenet(root, n_train=4, n_val=4, classes=2):
    import mmcv
    rng = np.random.RandomState(0)
    for split, n in (('train', n_train), ('val', n_val)):
        lines = []
        for i in range(n):
            rel = f'{split}/c{i % classes}/img{i}.jpg'
            mmcv.imwrite((rng.rand(64, 80, 3) * 255).astype(np.uint8), osp.join(root, rel))
            lines.append(f'{rel[len(split) + 1:]} {i % classes}')
        os.makedirs(osp.join(root, 'meta'), exist_ok=True)
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


@pytest.mark.slow
def test_runner_trains_and_validates_with_ema(tmp_path):
    """tools/train.py's path: Runner.from_cfg on the unmodified protocol (EMA, RMSProp,
    StepLR, Inception pipelines), only data root / batch / epochs shrunk."""
    from mmengine.runner import Runner
    cfg = load('mobilenet-v3-small-035_8xb512_in1k.py')
    data_root = str(tmp_path / 'imagenet')
    _fake_imagenet(data_root)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=4, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.data_root = data_root
    cfg.model.head.num_classes = 2
    cfg.data_preprocessor.num_classes = 2
    cfg.model.head.topk = (1, )
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg.max_epochs = 4
    cfg.train_cfg.val_interval = 2
    cfg.auto_scale_lr.enable = True  # what tools/train.py --auto-scale-lr does
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.launcher = 'none'
    runner = Runner.from_cfg(cfg)
    assert any(type(h).__name__ == 'EMAHook' for h in runner.hooks)
    runner.train()
    # lr linearly scaled from 0.1 @ 4096 to the batch of 4, then x0.99 after epoch 3
    assert runner.optim_wrapper.get_lr()['lr'][0] == pytest.approx(0.1 * 4 / 4096 * 0.99)
    ckpt = torch.load(osp.join(cfg.work_dir, 'epoch_4.pth'), map_location='cpu', weights_only=False)
    assert 'ema_state_dict' in ckpt
    metrics = runner.val_loop.run()
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0


def test_loss_falls_with_the_protocol_optimizer():
    """A few steps of the config's own optimizer (RMSProp + paramwise decay, lr scaled to
    the batch) on a fixed batch: the loss falls."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    cfg = load('mobilenet-v3-small_8xb512_in1k.py')
    cfg.model.head.num_classes = 4
    torch.manual_seed(0)
    model = build(cfg)
    model.init_weights()
    batch = 4
    cfg.optim_wrapper.optimizer.lr = 0.1 * batch / 4096 * 20  # linear scaling, x20 to be quick
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    # depthwise kernels, BN and biases are not decayed (TF slim's regulariser)
    decays = {}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            decays[id(p)] = group['weight_decay']
    bb = model.backbone
    assert decays[id(bb.layer2.depthwise_conv.conv.weight)] == 0
    assert decays[id(bb.layer2.depthwise_conv.bn.weight)] == 0
    assert decays[id(model.head.layers[0].fc.bias)] == 0
    assert decays[id(bb.layer2.expand_conv.conv.weight)] == 1e-5
    assert decays[id(model.head.layers[1].fc.weight)] == 1e-5
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in range(batch)],
                data_samples=[DataSample().set_gt_label(i % 4) for i in range(batch)])
    model.train()
    losses = [model.train_step(data, optim)['loss'].item() for _ in range(10)]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3]), losses
