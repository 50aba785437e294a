"""Beyond one machine (issue 14 item 6): two "nodes" on localhost -- two torchrun invocations of
tools/dist_train.sh with NNODES=2, distinct NODE_RANK, one process each, gloo -- train a tiny
segmentation config together, then resume together; both ranks end with the same weights.
Also the Slurm scripts: valid bash, and the srun command line they build (a fake srun)."""
import os
import os.path as osp
import socket
import subprocess
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import CONFIGS, PYTHON, REPO, env  # noqa: E402

TINY_SEG = osp.join(CONFIGS, 'tiny_seg.py')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _two_nodes(tmp_path, work, data_root, max_iters, extra=()):
    port = _free_port()
    config = tmp_path / 'tiny_seg_digest.py'
    config.write_text(f"_base_ = [{TINY_SEG!r}]\n"
                      "custom_imports = dict(imports=['mmv3', 'mmv3.models', 'mmv3.engine', 'mmv3_test_digest'],"
                      " allow_failed_imports=False)\ncustom_hooks = [dict(type='mmv3.WeightDigestHook')]\n")
    cfg_opts = ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
                f'test_dataloader.dataset.data_root={data_root}', f'train_cfg.max_iters={max_iters}',
                f'param_scheduler.0.end={max_iters}', 'default_hooks.checkpoint.interval=2']
    procs = []
    for rank in (0, 1):
        log = open(tmp_path / f'node{rank}_{max_iters}.log', 'w')
        cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), str(config), '1', '--work-dir', str(work),
               *extra, *cfg_opts]
        procs.append((subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       env=env(NNODES=2, NODE_RANK=rank, MASTER_ADDR='127.0.0.1', PORT=port,
                                               PYTHON=PYTHON)), log))
    logs = []
    for p, log in procs:
        try:
            p.wait(timeout=400)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(30)
            log.close()
        logs.append(open(log.name).read())
    for (p, _), text in zip(procs, logs):
        assert p.returncode == 0, text[-4000:]
    return logs


def test_two_nodes_train_and_resume_with_the_same_weights(tmp_path):
    from mmv3.engine import load_checkpoint_safely
    from mmv3.testing import make_cityscapes
    root = str(tmp_path / 'cityscapes')
    make_cityscapes(root, num_train=4, num_val=1, img_size=(64, 128))
    work = tmp_path / 'work'
    logs = _two_nodes(tmp_path, work, root, max_iters=2)
    assert 'Distributed training: True' in logs[0] and 'GPU number: 2' in logs[0], logs[0][-3000:]
    d0, d1 = (open(work / f'digest_rank{r}_iter2.txt').read() for r in (0, 1))
    assert d0 == d1  # DDP kept the two nodes' replicas identical
    ck = load_checkpoint_safely(str(work / 'iter_2.pth'))
    assert ck['meta']['iter'] == 2

    logs = _two_nodes(tmp_path, work, root, max_iters=4, extra=['--resume'])
    assert 'resumed' in logs[0].lower() and 'iter_2.pth' in logs[0], logs[0][-3000:]
    assert 'Iter(train) [3/4]' in logs[0] and 'Iter(train) [1/4]' not in logs[0]
    d0, d1 = (open(work / f'digest_rank{r}_iter4.txt').read() for r in (0, 1))
    assert d0 == d1 and d0 != open(work / 'digest_rank0_iter2.txt').read()
    assert load_checkpoint_safely(str(work / 'iter_4.pth'))['meta']['iter'] == 4


def _fake_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\nfor a in "$@"; do echo "ARG:$a"; done\n'
                    'echo "PYTHONPATH:$PYTHONPATH"\n')
    srun.chmod(0o755)
    return str(bin_dir)


def test_slurm_scripts_build_the_upstream_srun_command(tmp_path):
    bin_dir = _fake_srun(tmp_path)
    for script in ('slurm_train.sh', 'slurm_test.sh', 'dist_train.sh', 'dist_test.sh'):
        assert subprocess.run(['bash', '-n', osp.join(REPO, 'tools', script)]).returncode == 0
    e = env(PATH=bin_dir + os.pathsep + os.environ['PATH'], GPUS=16, GPUS_PER_NODE=8, SRUN_ARGS='--quotatype=auto',
            PYTHON='/opt/py/bin/python')
    p = subprocess.run(['bash', osp.join(REPO, 'tools', 'slurm_train.sh'), 'gpu', 'v3seg', 'cfg.py', 'wd',
                        '--sync-bn', '--amp'], capture_output=True, text=True, env=e)
    assert p.returncode == 0, p.stderr
    args = [line[4:] for line in p.stdout.splitlines() if line.startswith('ARG:')]
    assert args == ['-p', 'gpu', '--job-name=v3seg', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
                    '--cpus-per-task=5', '--kill-on-bad-exit=1', '--quotatype=auto', '/opt/py/bin/python', '-u',
                    osp.join(REPO, 'tools', 'train.py'), 'cfg.py', '--work-dir=wd', '--launcher=slurm',
                    '--sync-bn', '--amp']
    assert f'PYTHONPATH:{REPO}/tools/..' in p.stdout

    e = env(PATH=bin_dir + os.pathsep + os.environ['PATH'], GPUS=4)
    e.pop('PYTHON', None)
    p = subprocess.run(['bash', osp.join(REPO, 'tools', 'slurm_test.sh'), 'gpu', 't', 'cfg.py', 'x.pth', '--out',
                        'r.pkl'], capture_output=True, text=True, env=e)
    assert p.returncode == 0, p.stderr
    args = [line[4:] for line in p.stdout.splitlines() if line.startswith('ARG:')]
    assert args[:8] == ['-p', 'gpu', '--job-name=t', '--gres=gpu:4', '--ntasks=4', '--ntasks-per-node=4',
                        '--cpus-per-task=5', '--kill-on-bad-exit=1']
    venv_py = osp.join(REPO, 'tools', '..', '.venv', 'bin', 'python')
    assert args[8] == (venv_py if os.access(venv_py, os.X_OK) else 'python')
    assert args[9:] == ['-u', osp.join(REPO, 'tools', 'test.py'), 'cfg.py', 'x.pth', '--launcher=slurm', '--out',
                        'r.pkl']

    p = subprocess.run(['bash', osp.join(REPO, 'tools', 'slurm_train.sh'), 'gpu', 'j'], capture_output=True,
                       text=True, env=e)
    assert p.returncode == 2 and p.stderr.startswith('usage: [GPUS=8] bash tools/slurm_train.sh')
