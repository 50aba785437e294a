"""mmv3.apis (one way from a config to a model) and the runtime registry every deployment tool uses."""
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmv3.apis import ToolError, build_from_config, load_config, load_weights, parse_cfg_options
from mmv3.engine import CheckpointError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_CFG = osp.join(ROOT, 'configs/cls/mobilenet-v3-small_8xb512_in1k.py')


def test_structure_check_finds_nothing():
    """The issue's check: no tool edits sys.path, nobody calls mmengine's private DictAction parser,
    nobody reads the backbone's private taps, and the package has one load_config."""
    res = subprocess.run(['grep', '-rn', r'sys.path.insert\|_parse_iterable\|_inner_taps', 'mmv3', 'tools'],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.stdout == '' and res.returncode == 1
    res = subprocess.run(['grep', '-rln', r'^def load_config', 'mmv3'], cwd=ROOT, capture_output=True, text=True)
    assert res.stdout.split() == ['mmv3/apis/config.py']


def test_cfg_options_parse_as_dictaction_and_are_checked():
    opts = parse_cfg_options(['model.head.num_classes=11', 'model.backbone.out_indices=[1,2]',
                              'work_dir=x/y'])
    assert opts == {'model.head.num_classes': 11, 'model.backbone.out_indices': [1, 2], 'work_dir': 'x/y'}
    cfg = load_config(CLS_CFG, {'model.head.num_classes': 11})
    assert cfg.model.head.num_classes == 11
    with pytest.raises(ToolError, match="'modle.head.num_classes' does not exist"):
        load_config(CLS_CFG, {'modle.head.num_classes': 11})
    with pytest.raises(ToolError, match='KEY=VALUE'):
        parse_cfg_options(['no-equals-sign'])
    with pytest.raises(ToolError, match='does not exist; did you mean .*configs/cls/mobilenet-v3-small_8xb512_in1k.py'):
        load_config('configs/cls/mobilenet-v3-smal_8xb512_in1k.py')


def test_load_weights_fits_before_loading(tmp_path):
    """One "does this checkpoint fit" check: missing, reshaped and unexpected tensors are refused in one line."""
    wrapper, cfg, task = build_from_config(CLS_CFG, cfg_options={'model.head.num_classes': 10})
    model = wrapper.model
    state = model.state_dict()
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': state}, good)
    other = build_from_config(CLS_CFG, cfg_options={'model.head.num_classes': 10})[0].model
    load_weights(other, str(good))
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), state.values()))
    cases = {
        'missing': {k: v for k, v in state.items() if 'head' not in k},
        'another shape': {**state, 'head.layers.1.fc.weight': torch.zeros(7, 1024)},
        'unexpected': {**state, 'neck.extra.weight': torch.zeros(3)},
    }
    for word, sd in cases.items():
        path = tmp_path / f'{word.replace(" ", "_")}.pth'
        torch.save({'state_dict': sd}, path)
        with pytest.raises(CheckpointError, match=word) as e:
            load_weights(other, str(path))
        assert '\n' not in str(e.value)


def test_runtime_registry_modes_and_refusals():
    from mmv3.deploy.runtimes import all_modes, build_runtime
    from mmv3.registry import RUNTIMES
    assert {'onnxruntime', 'torch'} <= set(RUNTIMES.module_dict)
    assert list(all_modes())[:4] == ['eager', 'fused', 'ort', 'ort-int8']
    assert all_modes()['ort-int8'] == ('onnxruntime', {'precision': 'int8'})
    with pytest.raises(ToolError, match="unknown runtime 'tensorrt'; registered: .*onnxruntime"):
        build_runtime('tensorrt')
    with pytest.raises(ToolError, match='threads must be an integer >= 1'):
        build_runtime('onnxruntime', threads=0)


def test_every_runtime_export_is_verified(tmp_path):
    """BaseRuntime.prepare checks the float artifact against PyTorch: a runtime whose outputs drift is refused."""
    pytest.importorskip('onnxruntime')
    from mmv3.deploy.runtimes import OnnxRuntime, verify

    class Drifting(OnnxRuntime):
        def run(self, handle, x):
            return [o + 0.1 for o in super().run(handle, x)]

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).eval()
    shape = (1, 3, 8, 8)
    good = OnnxRuntime()
    handle = good.prepare(model, shape, str(tmp_path), 'ok')
    (check, ) = verify(good, model, handle, [shape])
    assert check['ok'] and check['max_abs_diff'] < 1e-5
    with pytest.raises(ToolError, match='differs from PyTorch: max abs diff 0.1'):
        Drifting().prepare(model, shape, str(tmp_path), 'drift')
    # int8 through the same entry point: the quantized graph runs and stays close to float
    q = good.prepare(model, shape, str(tmp_path), 'ok', precision='int8', quant_options=dict(pad_multiple=0))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    assert np.abs(good.run(q, x)[0] - good.run(handle, x)[0]).max() < 0.1
    assert osp.isfile(tmp_path / 'ok.int8.onnx')
