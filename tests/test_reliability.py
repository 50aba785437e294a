"""Reliability round 2, part A (issue 13): the work-dir lock, workers that die with torchrun,
corrupt (garbled) checkpoints, Ctrl-C, a full / read-only disk. CPU subprocesses of the tools
on tests/data/configs/tiny_cls_faults.py (fault injection: tests/data/mmv3_test_faults.py)."""
import errno
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import (CONFIGS, PYTHON, REPO, data_opts, env, error_line,  # noqa: E402
                               make_class_folders, run_tool)
from test_engine_safe_io import garble_tensor_record  # noqa: E402

CFG = osp.join(CONFIGS, 'tiny_cls_faults.py')
LOCK = '.mmv3-train.lock'


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_class_folders(str(tmp_path_factory.mktemp('tiny_cls_data')))


def _children(pid):
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open(f'/proc/{d}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != 'Z':
                out.append(int(d))
    return out


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _snapshot(d):
    return sorted((osp.relpath(osp.join(r, n), d), os.stat(osp.join(r, n)).st_mtime_ns,
                   os.stat(osp.join(r, n)).st_size)
                  for r, _, names in os.walk(d) for n in names)


def _wait_for(path, proc, log, timeout=300):
    t0 = time.time()
    while not osp.exists(path):
        if proc.poll() is not None:
            raise AssertionError(f'ended (rc={proc.returncode}) before {path}:\n'
                                 + open(log).read()[-4000:])
        assert time.time() - t0 < timeout, f'{path} did not appear in {timeout}s'
        time.sleep(0.2)


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory, data_root):
    """A 2-process gloo training (dist_train.sh) sleeping after iteration 3 with iter_2.pth
    written; meanwhile a second training into its work dir; then kill -9 of the launcher's
    process group; then a --resume into the same work dir (the killed run's lock is stale)."""
    tmp = tmp_path_factory.mktemp('dist')
    work, log = str(tmp / 'work'), str(tmp / 'dist.log')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CFG, '2', '--work-dir', work] + \
        data_opts(data_root)
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                env=env(PYTHON=PYTHON, PORT=29533, MMV3_TEST_SLEEP_AFTER_ITER=3))
    res = {}
    try:
        _wait_for(osp.join(work, 'sleeping'), proc, log)
        res['workers'] = _children(proc.pid)  # exec: torchrun has the shell's pid
        res['owner'] = dict(pid=None, host=None, started=None)
        if osp.isfile(osp.join(work, LOCK)):
            with open(osp.join(work, LOCK)) as f:
                res['owner'] = json.load(f)
        before = _snapshot(work)
        res['second'] = run_tool('train.py', [CFG, '--work-dir', work] + data_opts(data_root))
        res['untouched'] = before == _snapshot(work)
        os.killpg(proc.pid, signal.SIGKILL)
        t0 = time.time()
        while any(_alive(p) for p in res['workers']) and time.time() - t0 < 20:
            time.sleep(0.1)
        res['left'] = [p for p in res['workers'] if _alive(p)]
        res['stop_s'] = time.time() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        for p in res.get('workers', []):
            if _alive(p):
                os.kill(p, signal.SIGKILL)
    res['third'] = run_tool('train.py', [CFG, '--work-dir', work, '--resume'] +
                            data_opts(data_root) + ['train_cfg.max_iters=4'])
    res['work'] = work
    return res


def test_second_training_into_a_live_work_dir_is_refused(dist_run):
    owner = dist_run['owner']
    assert owner['pid'] in dist_run['workers']  # rank 0 holds the lock
    p = dist_run['second']
    assert p.returncode == 2
    line = error_line(p, 'train.py')
    assert f"is in use by another training, pid {owner['pid']} on host {owner['host']}" in line
    assert 'tools/train.py' in line and owner['started'] in line and 'another --work-dir' in line
    assert dist_run['untouched'], 'the refused run wrote into the live run\'s work dir'


def test_dist_workers_die_with_the_killed_launcher(dist_run):
    assert len(dist_run['workers']) == 2
    assert dist_run['left'] == [], f"workers still running {dist_run['stop_s']:.1f}s after kill -9"
    assert dist_run['stop_s'] < 5


def test_lock_of_a_killed_run_is_taken_over(dist_run):
    p = dist_run['third']
    assert p.returncode == 0, p.stderr[-4000:]
    log = p.stdout + p.stderr
    assert f"taking over the work dir lock of pid {dist_run['owner']['pid']}" in log
    assert 'resumed epoch' in log and 'iter: 2' in log
    assert osp.isfile(osp.join(dist_run['work'], 'iter_4.pth'))
    with open(osp.join(dist_run['work'], LOCK)) as f:
        rec = json.load(f)
    assert rec['pid'] != dist_run['owner']['pid'] and 'ended' in rec


def test_dist_scripts_use_the_repo_venv_python(tmp_path):
    for script in ('dist_train.sh', 'dist_test.sh'):
        root = tmp_path / script
        (root / 'tools').mkdir(parents=True)
        shutil.copy(osp.join(REPO, 'tools', script), root / 'tools' / script)
        args = ['bash', str(root / 'tools' / script), 'cfg.py'] + \
            (['ckpt.pth'] if script == 'dist_test.sh' else []) + ['2']
        e = {k: v for k, v in env().items() if k != 'PYTHON'}
        p = subprocess.run(args, env=e, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0  # no venv: python3 (no torch here, or no cfg.py)
        venv = root / '.venv' / 'bin'
        venv.mkdir(parents=True)
        (venv / 'python').write_text('#!/bin/sh\necho "$0 $MMV3_LAUNCHER_PID $$ $@"\n')
        (venv / 'python').chmod(0o755)
        p = subprocess.run(args, env=e, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        exe, launcher_pid, own_pid, *rest = p.stdout.split()
        assert osp.samefile(exe, venv / 'python')
        assert launcher_pid == own_pid  # exec'd: the interpreter is the script's process
        assert rest[:2] == ['-m', 'torch.distributed.run'] and '--launcher' in rest


def test_ctrl_c_gives_one_line_and_keeps_the_last_checkpoint(tmp_path, data_root):
    work, log = str(tmp_path / 'work'), str(tmp_path / 'out.log')
    cmd = [PYTHON, osp.join(REPO, 'tools', 'train.py'), CFG, '--work-dir', work] + \
        data_opts(data_root)
    with open(log, 'w') as out, open(log + '.err', 'w') as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err,
                                env=env(MMV3_TEST_SLEEP_AFTER_ITER=3))
    try:
        _wait_for(osp.join(work, 'sleeping'), proc, log + '.err')
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = open(log + '.err').read()
    assert proc.returncode == 130, err[-3000:]
    assert err.splitlines() == [
        f'train.py: interrupted at iteration 3 (last complete checkpoint: iter_2.pth); '
        f'resume with: python tools/train.py {CFG} --work-dir {work} --resume --cfg-options '
        f'train_dataloader.dataset.data_root={data_root} '
        f'test_dataloader.dataset.data_root={data_root}']
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_2.pth')
    from mmv3.engine import load_checkpoint_safely
    assert load_checkpoint_safely(osp.join(work, 'iter_2.pth'))['meta']['iter'] == 2


def test_interrupt_wrapped_by_mmengine_config_formatter_is_one_line(tmp_path):
    """Ctrl-C while mmengine formats the config (it does for every checkpoint's meta) comes
    out of its bare ``except`` as ``SyntaxError: Failed to format the config file`` + config."""
    import argparse
    from mmengine.config import Config
    from mmv3.apis.runner import training_error
    cfg = Config(dict(work_dir=str(tmp_path)))
    try:
        try:
            raise KeyboardInterrupt
        except:  # noqa: E722  (as mmengine's Config.pretty_text)
            raise SyntaxError('Failed to format the config file, please check ...')
    except SyntaxError as e:
        err = training_error(e, cfg, argparse.Namespace(config='c.py'), runner=None)
    assert err.exit_code == 130 and str(err) == 'interrupted before training started; nothing was trained'


@pytest.fixture(scope='module')
def disk_full_run(tmp_path_factory, data_root):
    work = str(tmp_path_factory.mktemp('full') / 'work')
    p = run_tool('train.py', [CFG, '--work-dir', work] + data_opts(data_root),
                 MMV3_TEST_DISK_FULL='iter_4.pth')
    return p, work


def test_disk_full_while_writing_a_checkpoint(disk_full_run):
    p, work = disk_full_run
    assert p.returncode == 2
    line = error_line(p, 'train.py')
    assert line.startswith(f'train.py: error: cannot write {work}/iter_4.pth: no space left on '
                           f'the device (ENOSPC); free space')
    assert 'default_hooks.checkpoint.max_keep_ckpts=N' in line and 'another --work-dir' in line
    assert f'the last complete checkpoint {work}/iter_2.pth is intact: resume with:' in line
    names = sorted(os.listdir(work))
    assert 'iter_4.pth' not in names and not [n for n in names if n.endswith('.tmp')]
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_2.pth')
    from mmv3.engine import load_checkpoint_safely
    assert load_checkpoint_safely(osp.join(work, 'iter_2.pth'))['meta']['iter'] == 2
    # checkpoints get the mode a plain open() gives (umask), not tempfile's 0600
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(osp.join(work, 'iter_2.pth')).st_mode & 0o777 == 0o666 & ~mask


def test_read_only_work_dir_is_refused_before_training(tmp_path, monkeypatch):
    from mmv3.apis import ToolError, lock_work_dir
    real_open = os.open

    def read_only(path, *a, **k):
        if str(path).endswith(LOCK):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, 'open', read_only)
    with pytest.raises(ToolError) as e:
        lock_work_dir(str(tmp_path / 'w'))
    assert str(e.value) == (f'work dir {tmp_path / "w"} is not writable (it is on a read-only '
                            f'file system): training would fail at its first log or checkpoint; '
                            f'use another --work-dir')


@pytest.fixture(scope='module')
def garbled(tmp_path_factory, disk_full_run):
    """A real training checkpoint (iter_2.pth) copied as iter_4.pth with 4 KiB garbled in the
    middle of its largest tensor record."""
    _, work = disk_full_run
    d = tmp_path_factory.mktemp('garbled')
    shutil.copy(osp.join(work, 'iter_2.pth'), d / 'iter_2.pth')
    shutil.copy(osp.join(work, 'iter_2.pth'), d / 'iter_4.pth')
    garble_tensor_record(str(d / 'iter_4.pth'), 4096)
    return str(d / 'iter_4.pth'), str(d / 'iter_2.pth')


@pytest.mark.parametrize('how', ['resume', 'test', 'load_from'])
def test_garbled_checkpoint_is_refused_by_the_tools(garbled, data_root, tmp_path, how):
    bad, good = garbled
    work = str(tmp_path / 'w')
    if how == 'resume':
        p = run_tool('train.py', [CFG, '--work-dir', work, '--resume', bad] + data_opts(data_root))
    elif how == 'test':
        p = run_tool('test.py', [CFG, bad, '--work-dir', work] + data_opts(data_root))
    else:
        p = run_tool('train.py', [CFG, '--work-dir', work] + data_opts(data_root) +
                     [f'load_from={bad}'])
    assert p.returncode == 2
    line = error_line(p, 'test.py' if how == 'test' else 'train.py')
    assert f'{bad} is corrupt: the CRC-32 of its record' in line
    use = f'--resume {good}' if how == 'resume' else good
    assert line.endswith(f'the previous complete checkpoint is iter_2.pth: {use}')
    assert not osp.exists(work)  # refused before anything was written


def test_garbled_checkpoint_is_refused_by_load_weights(garbled):
    from mmv3.apis import build_model, load_config, load_weights
    from mmv3.engine import CheckpointError
    bad, good = garbled
    model = build_model(load_config(CFG))
    with pytest.raises(CheckpointError, match='is corrupt: the CRC-32'):
        load_weights(model, bad)
    load_weights(model, good)
    assert torch.isfinite(next(model.parameters())).all()
