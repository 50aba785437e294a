"""tools/train.py --auto-scale-lr (issue 14 item 1): as upstream, it turns on the config's
``auto_scale_lr`` and the lr actually used is lr x (world size x batch) / base_batch_size."""
import glob
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import CONFIGS, REPO, run_tool  # noqa: E402

TINY_SEG = osp.join(CONFIGS, 'tiny_seg.py')


def _config(tmp_path, extra=''):
    path = tmp_path / 'cfg.py'
    path.write_text(f"_base_ = [{TINY_SEG!r}]\n{extra}")
    return str(path)


def _logged_lrs(work):
    files = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    return [json.loads(line)['lr'] for line in open(files[0]) if '"lr"' in line]


def test_auto_scale_lr_scales_the_lr_used_in_training(tmp_path):
    from mmv3.testing import make_cityscapes
    root = str(tmp_path / 'cityscapes')
    make_cityscapes(root, num_train=2, num_val=1, img_size=(64, 128))
    # tiny_seg: lr 0.01 at batch 2 per process, 1 process; the config says its lr is for 8 images
    cfg = _config(tmp_path, "auto_scale_lr = dict(enable=False, base_batch_size=8)\n"
                  "train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)\n")
    work = str(tmp_path / 'work')
    p = run_tool('train.py', [cfg, '--work-dir', work, '--auto-scale-lr', '--cfg-options',
                              f'train_dataloader.dataset.data_root={root}',
                              f'test_dataloader.dataset.data_root={root}'])
    assert p.returncode == 0, p.stderr[-4000:]
    assert 'Scaling the original LR by 0.25' in p.stdout + p.stderr
    lrs = _logged_lrs(work)
    assert len(lrs) == 1 and abs(lrs[0] - 0.01 * 2 / 8) < 1e-12, lrs  # 0.0025, not 0.01


def test_auto_scale_lr_refused_without_base_batch_size(tmp_path):
    import importlib.util

    import pytest

    from mmv3.apis import ToolError
    spec = importlib.util.spec_from_file_location('mmv3_train_tool', osp.join(REPO, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    work = tmp_path / 'work'
    with pytest.raises(ToolError, match=r'^--auto-scale-lr needs auto_scale_lr = dict\(base_batch_size=N\)'):
        train.main([TINY_SEG, '--work-dir', str(work), '--auto-scale-lr'])
    assert not work.exists()  # refused before anything is written
