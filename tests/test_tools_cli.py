"""tools/train.py, tools/test.py, tools/dist_train.sh as subprocesses: refusals with one line
(issue 2 item 7, issue 7 items 2 and 4), testing a checkpoint, distributed training on 2 CPU
processes (gloo) on the ImageNet sample."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import (CONFIGS, PYTHON, REPO, data_opts, env, error_line,  # noqa: E402
                               make_class_folders, run_tool)

CFG = osp.join(CONFIGS, 'tiny_cls.py')
CFG_INET = osp.join(CONFIGS, 'tiny_cls_imagenet.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_class_folders(str(tmp_path_factory.mktemp('tiny_cls_data')))


@pytest.fixture(scope='module')
def model_ckpt(tmp_path_factory):
    """A weights-only checkpoint of tiny_cls.py's model (built in-process, random init)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(CFG)
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def _snapshot(d):
    return sorted((n, os.stat(osp.join(d, n)).st_mtime_ns) for n in os.listdir(d))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _cases(tmp, data_root, model_ckpt):
    """name -> (tool, args, needles that the one error line must contain)."""
    d = data_opts(data_root)
    missing_root = osp.join(tmp, 'no_imagenet_here')
    truncated = osp.join(tmp, 'truncated.pth')
    raw = open(model_ckpt, 'rb').read()
    open(truncated, 'wb').write(raw[:len(raw) // 3])
    foreign = osp.join(tmp, 'resnet.pth')
    torch.save({'state_dict': {'conv1.weight': torch.zeros(64, 3, 7, 7),
                               'fc.weight': torch.zeros(1000, 2048)}}, foreign)
    garbage = osp.join(tmp, 'backbone.pth')
    open(garbage, 'wb').write(b'<html>404 Not Found</html>' * 10)
    evil = osp.join(tmp, 'evil.pth')
    torch.save({'meta': {'iter': 2}, 'state_dict': {},
                'message_hub': _Evil(osp.join(tmp, 'executed'))}, evil)
    return {
        'missing_dataset_root': (
            'train.py',
            [CFG_INET, '--cfg-options', f'train_dataloader.dataset.data_root={missing_root}'],
            [missing_root, 'does not exist', f'make_sample_data.py imagenet --out {missing_root}']),
        'unknown_config_path': (
            'train.py', ['configs/seg/no_such_config.py'],
            ['config file configs/seg/no_such_config.py does not exist']),
        'unknown_type': (
            'train.py', [CFG] + d + ['model.backbone.type=NoSuchNet'],
            ["unknown type 'NoSuchNet'", 'registry', 'custom_imports']),
        'unknown_transform_type': (
            'train.py', [CFG] + d + ['train_dataloader.dataset.pipeline.1.type=RandomFlipp'],
            ["unknown type 'RandomFlipp' in train_dataloader.dataset.pipeline[1]",
             "did you mean 'RandomFlip'", 'custom_imports']),
        'bad_cfg_options_key': (
            'train.py', [CFG] + d + ['train_cfg.max_iter=3'],
            ["key 'train_cfg.max_iter' does not exist", 'train_cfg.max_iters']),
        'bad_model_argument': (
            'train.py', [CFG] + d + ['model.backbone.widen_factr=0.5'],
            ["takes no argument 'widen_factr'", 'did you mean model.backbone.widen_factor']),
        'truncated_resume_checkpoint': (
            'train.py', [CFG, '--resume', truncated] + d,
            [f'--resume checkpoint {truncated} is truncated']),
        'weights_only_file_not_resumable': (
            'train.py', [CFG, '--resume', model_ckpt] + d,
            [model_ckpt, 'not an mmengine training checkpoint', 'load_from']),
        'foreign_load_from': (
            'train.py', [CFG] + d + [f'load_from={foreign}'],
            [f'load_from checkpoint {foreign} does not fit this model', 'another model']),
        'corrupt_init_cfg_pretrained': (
            'train.py', [CFG] + d + ['model.backbone.init_cfg.type=Pretrained',
                                     f'model.backbone.init_cfg.checkpoint={garbage}'],
            ['init_cfg checkpoint of model.backbone', garbage, 'not a PyTorch checkpoint']),
        'checkpoint_with_code_refused': (
            'train.py', [CFG, '--resume', evil] + d,
            [evil, 'posix.system', 'not on the safe-loading allow-list', 'not executed']),
        'test_py_foreign_checkpoint': (
            'test.py', [CFG, foreign] + d,
            [f'checkpoint {foreign} does not fit this model']),
    }


@pytest.fixture(scope='module')
def refusals(tmp_path_factory, data_root, model_ckpt):
    """Run every refused command once, 3 at a time (each is a separate subprocess)."""
    from concurrent.futures import ThreadPoolExecutor
    tmp = str(tmp_path_factory.mktemp('refusals'))
    cases = _cases(tmp, data_root, model_ckpt)
    prepared = {}
    for name, (tool, args, needles) in cases.items():
        work = osp.join(tmp, 'work_' + name)
        os.makedirs(work)
        open(osp.join(work, 'iter_2.pth'), 'wb').write(b'an earlier checkpoint')
        open(osp.join(work, 'last_checkpoint'), 'w').write(osp.join(work, 'iter_2.pth'))
        full = args + ['--work-dir', work]
        prepared[name] = (tool, full, needles, work, _snapshot(work))
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run_tool, tool, full)
                   for name, (tool, full, _, _, _) in prepared.items()}
        results = {name: f.result() for name, f in futures.items()}
    return tmp, prepared, results


CASE_NAMES = [
    'missing_dataset_root', 'unknown_config_path', 'unknown_type', 'unknown_transform_type',
    'bad_cfg_options_key',
    'bad_model_argument', 'truncated_resume_checkpoint', 'weights_only_file_not_resumable',
    'foreign_load_from', 'corrupt_init_cfg_pretrained', 'checkpoint_with_code_refused',
    'test_py_foreign_checkpoint'
]


@pytest.mark.parametrize('case', CASE_NAMES)
def test_refused_with_one_line(refusals, case):
    """rc != 0, exactly one `<tool>: error: ...` line naming the problem, no traceback,
    and the work dir (holding an earlier run's files) untouched."""
    tmp, prepared, results = refusals
    tool, _, needles, work, before = prepared[case]
    p = results[case]
    assert p.returncode == 2, (p.returncode, p.stderr[-3000:])
    line = error_line(p, tool)
    for n in needles:
        assert n in line, line
    assert _snapshot(work) == before, 'the work dir was modified'
    if case == 'checkpoint_with_code_refused':
        assert not osp.exists(osp.join(tmp, 'executed'))


def test_cfg_options_key_rules():
    """In-process: which --cfg-options keys are accepted (see check_cfg_options)."""
    from mmengine.config import Config
    from mmv3.apis import ToolError, check_cfg_options
    cfg = Config(dict(
        model=dict(type='M', backbone=dict(type='B', depth=1), init_cfg=None),
        train_cfg=dict(max_iters=4),
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2,
                                           dataset=dict(type='D', data_root='x')))))
    ok = ['model.backbone.depth', 'model.backbone.new_arg',  # new argument of a class
          'model.init_cfg.checkpoint', 'load_from', 'sync_bn']  # None entry, Runner keys
    check_cfg_options(cfg, {k: 1 for k in ok})
    for key, hint in [('train_cfg.max_iter', 'train_cfg.max_iters'),
                      ('trian_cfg.max_iters', 'train_cfg.max_iters'),
                      ('train_dataloader.dataset.data_root',
                       'train_dataloader.dataset.dataset.data_root'),
                      ('model.backbone.depth.x', 'is a int value')]:
        with pytest.raises(ToolError, match='does not exist') as e:
            check_cfg_options(cfg, {key: 1})
        assert hint in str(e.value), str(e.value)


def test_test_py_evaluates_and_dumps(tmp_path, data_root, model_ckpt):
    out = str(tmp_path / 'preds.pkl')
    p = run_tool('test.py', [CFG, model_ckpt, '--work-dir', str(tmp_path / 'w'), '--out', out]
                 + data_opts(data_root))
    assert p.returncode == 0, p.stderr[-4000:]
    assert 'accuracy/top1' in p.stdout + p.stderr
    import pickle
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 6  # 3 classes x 2 val images


def test_dist_train_two_cpu_processes_on_imagenet_sample(tmp_path):
    from mmv3.testing import make_imagenet
    root = str(tmp_path / 'imagenet')
    make_imagenet(root, num_train=8, num_val=4, img_size=(32, 32), num_classes=4)
    work = str(tmp_path / 'work')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CFG_INET, '2', '--work-dir', work,
           '--cfg-options', f'train_dataloader.dataset.data_root={root}',
           f'test_dataloader.dataset.data_root={root}']
    p = subprocess.run(cmd, cwd=REPO, env=env(PYTHON=PYTHON, PORT=29517), capture_output=True,
                       text=True, timeout=400)
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-5000:]
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert "'world_size': 2" in log or 'world_size: 2' in log or 'GPU number: 2' in log
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    from mmv3.engine import load_checkpoint_safely
    ck = load_checkpoint_safely(osp.join(work, 'iter_2.pth'))
    assert ck['meta']['iter'] == 2
