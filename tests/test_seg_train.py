"""Training smoke test of the main segmentation config (Table 7 row 8) with mmengine's Runner.

The paper's config, unchanged except for a tiny schedule, crop and image size (the same kind of
``--cfg-options`` overrides ``make demo`` uses), trains on generated Cityscapes-format data: the
loss falls and the val mIoU beats predicting the most frequent class everywhere.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmv3  # noqa: F401
from mmv3.testing import make_cityscapes

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ITERS = 60
MAIN = osp.join(ROOT, 'configs', 'seg', 'lraspp_v3_large_cityscapes.py')


def demo_options(data_root, iters, img_hw, crop, batch_size, lr):
    """The short-schedule overrides of the main config (keys as for ``--cfg-options``)."""
    h, w = img_hw
    return {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_dataloader.dataset.pipeline.2.scale': (w, h),
        'train_dataloader.dataset.pipeline.3.crop_size': (crop, crop),
        'model.data_preprocessor.size': (crop, crop),
        'val_dataloader.dataset.pipeline.1.scale': (w, h),
        'test_dataloader.dataset.pipeline.1.scale': (w, h),
        'train_dataloader.batch_size': batch_size,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': iters,
        'param_scheduler.0.end': iters,
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.logger.interval': 5,
        'optim_wrapper.optimizer.lr': lr,
        'randomness.seed': 0,
    }


def constant_class_miou(data_root, split='val'):
    """mIoU (mmseg's IoUMetric definition) of predicting the most frequent class everywhere."""
    import glob
    counts = np.zeros(256, np.int64)
    for f in glob.glob(osp.join(data_root, 'gtFine', split, '*', '*_labelTrainIds.png')):
        counts += np.bincount(np.asarray(Image.open(f)).ravel(), minlength=256)
    valid = counts[:19]
    present = (valid > 0).sum()
    return 100.0 * valid.max() / valid.sum() / present


@pytest.mark.slow
def test_main_config_learns_on_sample_cityscapes(tmp_path):
    data_root = str(tmp_path / 'cityscapes')
    make_cityscapes(data_root, num_train=8, num_val=4, img_size=(64, 128), seed=0)
    cfg = Config.fromfile(MAIN)
    cfg.merge_from_dict(demo_options(data_root, iters=ITERS, img_hw=(64, 128), crop=65, batch_size=4, lr=0.05))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convs: one thread is fastest, and immune to a busy machine
    try:
        runner = Runner.from_cfg(cfg)
        runner.train()
    finally:
        torch.set_num_threads(threads)
    losses = np.asarray(runner.message_hub.get_scalar('train/loss').data[0])
    assert len(losses) == ITERS and np.isfinite(losses).all()
    assert losses[-5:].mean() < 0.6 * losses[:5].mean(), losses
    # the val loop ran after the last iteration (val_interval = ITERS)
    miou = runner.message_hub.get_scalar('val/mIoU').current()
    baseline = constant_class_miou(data_root)
    print(f'losses {losses[:5].mean():.3f} -> {losses[-5:].mean():.3f}; val mIoU {miou:.2f} '
          f'vs constant-class {baseline:.2f}')
    assert miou > 4 * baseline, (miou, baseline)
    assert osp.isfile(osp.join(cfg.work_dir, f'iter_{ITERS}.pth'))
