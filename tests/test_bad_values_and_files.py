"""Issue 13 part B: --cfg-options keys checked against the class they are passed to (did you mean),
spaces inside values kept, randomness.* on configs without it, did-you-mean for an unknown model
type, numeric sanity before the work dir, and bad checkpoint files for the converters / deployment
tools (one line, exit 2)."""
import argparse
import os
import os.path as osp
import pickle
import sys

import pytest
import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import CONFIGS, REPO, error_line, make_class_folders, run_tool  # noqa: E402

from mmv3.apis import ToolError, add_cfg_options, check_numeric_values, load_config

SEG = osp.join(CONFIGS, 'tiny_seg.py')
CLS = osp.join(CONFIGS, 'tiny_cls.py')
DET = osp.join(REPO, 'configs', 'det', 'ssdlite_mobilenet-v3-small_8xb24-600e_coco.py')
CLS_REAL = osp.join(REPO, 'configs', 'cls', 'mobilenet-v3-small_8xb512_in1k.py')


# ------------------------------------------------------------------------------ --cfg-options keys
@pytest.mark.parametrize('key, needle', [
    ('optim_wrapper.optimizer.lrr', "SGD (the optimizer at 'optim_wrapper.optimizer') takes no argument 'lrr'; "
     'did you mean optim_wrapper.optimizer.lr?'),
    ('train_dataloader.dataset.img_sufix', "CityscapesDataset (the dataset at 'train_dataloader.dataset') takes "
     "no argument 'img_sufix'; did you mean train_dataloader.dataset.img_suffix"),
    ('train_dataloader.dataset.pipeline.2.keep_ration', "Resize (the transform at "
     "'train_dataloader.dataset.pipeline.2') takes no argument 'keep_ration'; did you mean "
     'train_dataloader.dataset.pipeline.2.keep_ratio?'),
    ('default_hooks.logger.intervl', "did you mean default_hooks.logger.interval?"),
    ('param_scheduler.0.eta_mn', "did you mean param_scheduler.0.eta_min?"),
    ('model.backbone.widen_factr', "MobileNetV3 (the model at 'model.backbone') takes no argument 'widen_factr'; "
     'did you mean model.backbone.widen_factor?'),
])
def test_new_key_checked_against_the_class(key, needle):
    with pytest.raises(ToolError) as e:
        load_config(SEG, {key: 1})
    assert needle in str(e.value) and f"--cfg-options key '{key}' does not exist" in str(e.value), str(e.value)


def test_new_keys_the_classes_take_are_accepted():
    ok = {'optim_wrapper.optimizer.nesterov': True,  # torch SGD argument
          'optim_wrapper.paramwise_cfg': dict(norm_decay_mult=0.),  # read by the optimizer constructor
          'train_dataloader.dataset.reduce_zero_label': False,  # BaseSegDataset, through **kwargs
          'model.backbone.frozen_stages': 1, 'model.decode_head.dropout_ratio': 0.1,  # via **kwargs
          'default_hooks.logger.priority': 'LOW', 'param_scheduler.0.convert_to_iter_based': True,
          'randomness.diff_rank_seed': True}
    cfg = load_config(SEG, ok)
    assert cfg.optim_wrapper.optimizer.nesterov is True and cfg.model.backbone.frozen_stages == 1


def test_randomness_seed_on_det_configs():
    """Det configs have no `randomness` (a Runner argument): randomness.seed is accepted, typos are not."""
    cfg = load_config(DET, {'randomness.seed': 3})
    assert cfg.randomness.seed == 3
    with pytest.raises(ToolError, match=r"randomness takes seed, diff_rank_seed, deterministic .*did you mean "
                       r"randomness\.seed\?"):
        load_config(DET, {'randomness.sed': 3})


def test_spaces_inside_values_are_kept():
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    opts = parser.parse_args(['--cfg-options', 'train_dataloader.dataset.data_root=/tmp/my data',
                              'a=[1, 2]', 'b=(x y, z)', "c='q r'", 'd=1,2', 'e=None', 'f=[(1,2),[a, b],c]',
                              'g= 0.5 ']).cfg_options
    assert opts == {'train_dataloader.dataset.data_root': '/tmp/my data', 'a': [1, 2], 'b': ('x y', 'z'),
                    'c': 'q r', 'd': [1, 2], 'e': None, 'f': [(1, 2), ['a', 'b'], 'c'], 'g': 0.5}


# ------------------------------------------------------------------------------ numeric sanity
@pytest.mark.parametrize('opts, needle', [
    ({'train_dataloader.batch_size': 0}, 'train_dataloader.batch_size must be a positive integer, got 0'),
    ({'test_dataloader.batch_size': -2}, 'test_dataloader.batch_size must be a positive integer, got -2'),
    ({'train_dataloader.persistent_workers': True},
     'train_dataloader.persistent_workers=True needs num_workers > 0'),
    ({'train_dataloader.num_workers': -1}, 'train_dataloader.num_workers must be an integer >= 0'),
    ({'optim_wrapper.optimizer.lr': 0}, 'optim_wrapper.optimizer.lr must be a positive number, got 0'),
    ({'optim_wrapper.optimizer.lr': -0.1}, 'optim_wrapper.optimizer.lr must be a positive number, got -0.1'),
    ({'train_cfg.max_iters': 0}, 'train_cfg.max_iters must be an integer >= 1, got 0'),
    ({'train_cfg.val_interval': 0}, 'train_cfg.val_interval must be an integer >= 1, got 0'),
])
def test_numeric_values_refused(opts, needle):
    cfg = load_config(SEG, opts, check_options=False)
    with pytest.raises(ToolError) as e:
        check_numeric_values(cfg, ('train', 'test'))
    assert str(e.value).startswith(needle), str(e.value)


def test_numeric_values_of_the_configs_pass():
    check_numeric_values(load_config(SEG), ('train', 'test'))
    check_numeric_values(load_config(DET), ('train', 'val', 'test'))
    check_numeric_values(load_config(CLS_REAL), ('train', 'val', 'test'))
    cfg = load_config(load_config(SEG), {'train_cfg.max_epochs': 0}, check_options=False)
    with pytest.raises(ToolError, match='train_cfg.max_epochs must be an integer >= 1'):
        check_numeric_values(cfg, ('train', ))
    check_numeric_values(cfg, ('test', ), train=False)  # test.py does not look at the schedule


def test_unknown_model_type_did_you_mean():
    from mmv3.apis import build_model_for_checks, setup_scope
    cfg = load_config(SEG, {'model.backbone.type': 'mmv3.MobileNetV33'})
    setup_scope(cfg)
    with pytest.raises(ToolError) as e:
        build_model_for_checks(cfg)
    assert str(e.value).startswith("unknown type 'mmv3.MobileNetV33' (did you mean 'mmv3.MobileNetV3'"), str(e.value)


# ------------------------------------------------------------------------------ tools: refusals as subprocesses
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture(scope='module')
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp('badfiles')
    files = dict(zero=d / 'zero.pth', trunc=d / 'trunc.pth', evil=d / 'evil.pth', legacy=d / 'legacy.pth')
    open(files['zero'], 'wb').close()
    torch.save({'a': torch.zeros(64)}, d / 'good.pth')
    raw = open(d / 'good.pth', 'rb').read()
    open(files['trunc'], 'wb').write(raw[:len(raw) // 2])
    torch.save({'state_dict': {'x': torch.zeros(1)}, 'e': _Evil(str(d / 'EXECUTED'))}, files['evil'])
    with open(files['legacy'], 'wb') as f:
        pickle.dump([1, 2], f, protocol=2)  # a pickle, not a checkpoint: torch's 'pop from empty list'
    return d, {k: str(v) for k, v in files.items()}


def test_tools_refuse_bad_input_with_one_line(bad_files, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    d, f = bad_files
    data = make_class_folders(str(tmp_path / 'data'), num_per_class=(2, 1))
    work = str(tmp_path / 'work')
    cls_opts = ['--work-dir', work, '--cfg-options', f'train_dataloader.dataset.data_root={data}',
                f'test_dataloader.dataset.data_root={data}']
    spaced = str(tmp_path / 'my data')
    cases = [
        ('model_converters/torchvision2mmv3.py', [f['zero'], d / 'o.pth'], [f'checkpoint {f["zero"]} is empty']),
        ('model_converters/torchvision2mmv3.py', [f['trunc'], d / 'o.pth'], [f'checkpoint {f["trunc"]} is truncated']),
        ('model_converters/torchvision2mmv3.py', [f['evil'], d / 'o.pth'], ['posix.system', 'not executed']),
        ('model_converters/timm2mmv3.py', [f['legacy'], d / 'o.pth', '--model-name', 'mobilenetv3_small_100'],
         [f['legacy']]),
        ('deployment/export_onnx.py', [CLS_REAL, f['trunc'], '--out', d / 'o.onnx'], [f['trunc'], 'truncated']),
        ('deployment/export_onnx.py', [CLS_REAL, f['evil'], '--out', d / 'o.onnx'], ['posix.system']),
        ('analysis_tools/benchmark.py', [CLS_REAL, '--checkpoint', f['legacy'], '--repeat', '1', '--warmup', '0',
                                         '--modes', 'eager'], [f['legacy']]),
        ('train.py', [CLS] + cls_opts + ['train_dataloader.batch_size=0'], ['train_dataloader.batch_size must be']),
        ('train.py', [CLS] + cls_opts + ['optim_wrapper.optimizer.lrr=0.1'], ['did you mean optim_wrapper.optimizer.lr?']),
        ('train.py', [CLS, '--work-dir', work, '--cfg-options', f'train_dataloader.dataset.data_root={spaced}'],
         [f'data_root {spaced} does not exist']),
    ]
    with ThreadPoolExecutor(3) as pool:
        procs = list(pool.map(lambda c: run_tool(c[0], c[1]), cases))
    for (tool, _, needles), p in zip(cases, procs):
        assert p.returncode == 2, (tool, p.returncode, p.stderr[-2000:])
        line = error_line(p, osp.basename(tool))
        for n in needles:
            assert n in line, (tool, line)
    assert not osp.exists(d / 'EXECUTED') and not osp.exists(work)
    assert not osp.exists(d / 'o.pth') and not osp.exists(d / 'o.onnx')
