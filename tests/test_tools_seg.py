"""tools/train.py and tools/test.py --show-dir / --out on a segmentation (mmseg) config with
the Cityscapes-format sample data; the classification cases live in test_tools_cli.py."""
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import CONFIGS, run_tool  # noqa: E402

CFG = osp.join(CONFIGS, 'tiny_seg.py')


def test_seg_train_then_test_with_show_dir(tmp_path):
    from mmv3.testing import make_cityscapes
    root = str(tmp_path / 'cityscapes')
    make_cityscapes(root, num_train=2, num_val=2, img_size=(64, 128))
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']
    work = str(tmp_path / 'work')
    p = run_tool('train.py', [CFG, '--work-dir', work] + opts)
    assert p.returncode == 0, p.stderr[-4000:]
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)

    show, out = str(tmp_path / 'show'), str(tmp_path / 'pred_png')
    p = run_tool('test.py', [CFG, ckpt, '--work-dir', work, '--show-dir', show, '--out', out]
                 + opts)
    assert p.returncode == 0, p.stderr[-4000:]
    assert 'mIoU' in p.stdout + p.stderr
    drawn = [f for _, _, fs in os.walk(show) for f in fs if f.endswith('.png')]
    assert len(drawn) == 2, drawn  # one painted image per val image
    preds = [f for _, _, fs in os.walk(out) for f in fs if f.endswith('.png')]
    assert len(preds) == 2, preds
