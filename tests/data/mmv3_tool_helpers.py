"""Helpers shared by tests/test_tools_*.py, tests/test_resume*.py and tests/test_engine*.py."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.dirname(osp.abspath(__file__))
CONFIGS = osp.join(DATA, 'configs')
PYTHON = sys.executable


def make_class_folders(root, num_per_class=(4, 2), num_classes=3, size=32, seed=0):
    """A tiny mmpretrain CustomDataset: <root>/{train,val}/class<k>/<i>.png, colour = class."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(seed)
    for split, n in zip(('train', 'val'), num_per_class):
        for c in range(num_classes):
            d = osp.join(root, split, f'class{c}')
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                img[..., c] += 150
                cv2.imwrite(osp.join(d, f'{i}.png'), img)
    return root


def env(**extra):
    e = dict(os.environ)
    old = [e['PYTHONPATH']] if e.get('PYTHONPATH') else []
    e['PYTHONPATH'] = os.pathsep.join([REPO, DATA] + old)
    e.setdefault('OMP_NUM_THREADS', '1')
    e.pop('MMV3_DEBUG', None)
    for k in list(e):
        if k.startswith('MMV3_TEST_'):
            del e[k]
    e.update({k: str(v) for k, v in extra.items()})
    return e


def data_opts(root):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


def run_tool(tool, args, timeout=300, **env_extra):
    """Run tools/<tool> in a subprocess; returns CompletedProcess (text)."""
    cmd = [PYTHON, osp.join(REPO, 'tools', tool)] + [str(a) for a in args]
    return subprocess.run(cmd, cwd=REPO, env=env(**env_extra), capture_output=True, text=True,
                          timeout=timeout)


def run_until_then_kill(tool, args, marker, timeout=240, **env_extra):
    """Start tools/<tool>, wait until file ``marker`` exists, SIGKILL it; returns the log."""
    cmd = [PYTHON, osp.join(REPO, 'tools', tool)] + [str(a) for a in args]
    log = marker + '.log'
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env(**env_extra), stdout=f,
                                stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        while not osp.exists(marker):
            if proc.poll() is not None:
                raise AssertionError(f'run ended (rc={proc.returncode}) before {marker}:\n'
                                     + open(log).read()[-3000:])
            if time.time() - t0 > timeout:
                raise AssertionError(f'{marker} did not appear in {timeout}s')
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    return open(log).read()


def error_line(proc, prog):
    """The one ``<prog>: error: ...`` line of a refused command (asserts it is there, once)."""
    lines = [l for l in proc.stderr.splitlines() if l.startswith(f'{prog}: error: ')]
    assert len(lines) == 1, (f'rc={proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\n'
                             f'stderr:\n{proc.stderr[-3000:]}')
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


def weights(path):
    from mmv3.engine import get_state_dict, load_checkpoint_safely
    return get_state_dict(load_checkpoint_safely(path))


def assert_same_weights(a, b):
    import torch
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    diff = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not diff, f'{len(diff)} tensors differ between {a} and {b}, e.g. {diff[:3]}'
