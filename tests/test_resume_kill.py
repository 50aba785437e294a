"""Resume equality and kill -9 fault injection (issue 2 item 6, issue 7 item 1).

One uninterrupted 6-iteration reference run (checkpoints at 2, 4, 6) of
tests/data/configs/tiny_cls_faults.py (deterministic seed, dropout in the head) is compared
with interrupted-and-resumed runs; all are CPU subprocesses of tools/train.py.
"""
import os
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import (CONFIGS, assert_same_weights, data_opts, make_class_folders,  # noqa
                               run_tool, run_until_then_kill)

CFG = osp.join(CONFIGS, 'tiny_cls_faults.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_class_folders(str(tmp_path_factory.mktemp('tiny_cls_data')))


@pytest.fixture(scope='module')
def reference(tmp_path_factory, data_root):
    work = str(tmp_path_factory.mktemp('ref'))
    p = run_tool('train.py', [CFG, '--work-dir', work] + data_opts(data_root))
    assert p.returncode == 0, p.stderr[-4000:]
    for i in (2, 4, 6):
        assert osp.isfile(osp.join(work, f'iter_{i}.pth'))
    return work


def _last(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def test_resume_from_iter2_equals_uninterrupted(reference, data_root, tmp_path):
    """Train 4 iterations vs. resume at iteration 2 and train to 4: identical weights."""
    work = str(tmp_path)
    p = run_tool('train.py', [CFG, '--work-dir', work, '--resume',
                              osp.join(reference, 'iter_2.pth')] + data_opts(data_root) +
                 ['train_cfg.max_iters=4'])
    assert p.returncode == 0, p.stderr[-4000:]
    assert 'resumed epoch: 0, iter: 2' in p.stdout + p.stderr
    assert_same_weights(osp.join(work, 'iter_4.pth'), osp.join(reference, 'iter_4.pth'))


def test_kill_after_checkpoint_then_resume(reference, data_root, tmp_path):
    """SIGKILL in iteration 3 (iter_2.pth complete), --resume: same weights as uninterrupted."""
    work = str(tmp_path)
    run_until_then_kill('train.py', [CFG, '--work-dir', work] + data_opts(data_root),
                        marker=osp.join(work, 'sleeping'), MMV3_TEST_SLEEP_AFTER_ITER=3)
    assert _last(work) == osp.join(work, 'iter_2.pth')
    assert not osp.exists(osp.join(work, 'iter_4.pth'))
    p = run_tool('train.py', [CFG, '--work-dir', work, '--resume'] + data_opts(data_root))
    assert p.returncode == 0, p.stderr[-4000:]
    assert 'resumed epoch: 0, iter: 2' in p.stdout + p.stderr
    assert_same_weights(osp.join(work, 'iter_6.pth'), osp.join(reference, 'iter_6.pth'))


def test_kill_while_writing_checkpoint_then_resume(reference, data_root, tmp_path):
    """SIGKILL half-way through writing iter_4.pth: no partial iter_4.pth is ever visible,
    last_checkpoint still names iter_2.pth, and --resume continues from it exactly."""
    work = str(tmp_path)
    run_until_then_kill('train.py', [CFG, '--work-dir', work] + data_opts(data_root),
                        marker=osp.join(work, 'slow_save_started'),
                        MMV3_TEST_SLOW_SAVE='iter_4.pth')
    names = os.listdir(work)
    partial = [n for n in names if n.startswith('.iter_4.pth.') and n.endswith('.tmp')]
    assert partial, names  # the half-written temp file exists ...
    assert 'iter_4.pth' not in names  # ... but never under the final name
    assert _last(work) == osp.join(work, 'iter_2.pth')
    p = run_tool('train.py', [CFG, '--work-dir', work, '--resume'] + data_opts(data_root))
    assert p.returncode == 0, p.stderr[-4000:]
    assert 'resumed epoch: 0, iter: 2' in p.stdout + p.stderr
    assert not osp.exists(osp.join(work, partial[0]))  # stale temp file cleaned up
    assert_same_weights(osp.join(work, 'iter_6.pth'), osp.join(reference, 'iter_6.pth'))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(data_root, tmp_path):
    """NaN weights before iteration 4 (a checkpoint iteration): stop with the iteration
    number, exit status 3, nothing written for iteration 4."""
    work = str(tmp_path)
    p = run_tool('train.py', [CFG, '--work-dir', work] + data_opts(data_root),
                 MMV3_TEST_NAN_AT_ITER=4)
    assert p.returncode == 3, p.stderr[-4000:]
    line = [l for l in p.stderr.splitlines() if l.startswith('train.py: error: ')]
    assert len(line) == 1 and 'non-finite loss at iteration 4' in line[0], p.stderr[-3000:]
    assert 'iter_2.pth' in line[0]
    assert not osp.exists(osp.join(work, 'iter_4.pth'))
    assert _last(work) == osp.join(work, 'iter_2.pth')
