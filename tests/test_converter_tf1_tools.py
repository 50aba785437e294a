"""End to end: each config of a converted TF1 checkpoint (slim classifiers, DeepLab LR-ASPP) runs ``tools/test.py``
on the sample data (mmv3.testing.sample_data), with a checkpoint written by the converter.

The DeepLab V3-Small checkpoint is the converted reference fixture (``tests/data/tf1/deeplab_small``, real reference
weights at the released width); the others are the released variable sets (``tests/data/tf1/manifests.json``) filled
with random values, converted the same way. Each evaluation is a ``tools/test.py`` process.
"""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmv3.converters.tf1 import convert_deeplab, convert_slim, read_variables, select_variables

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(ROOT, 'tests', 'data', 'tf1')
DRIVER = """
import sys, runpy
sys.argv = ['tools/test.py'] + sys.argv[1:]
runpy.run_path('tools/test.py', run_name='__main__')
"""
CONFIGS = [
    ('configs/seg/lraspp_v3_small_tf-deeplab_cityscapes.py', 'deeplab_small', 'cityscapes'),
    ('configs/seg/lraspp_v3_large_tf-deeplab_cityscapes.py', 'deeplab_mnv3_large_cityscapes_trainfine', 'cityscapes'),
    ('configs/cls/mobilenet-v3-large_tf-slim_in1k.py', 'v3-large_224_1.0_float', 'imagenet'),
    ('configs/cls/mobilenet-v3-large-075_tf-slim_in1k.py', 'v3-large_224_0.75_float', 'imagenet'),
    ('configs/cls/mobilenet-v3-small_tf-slim_in1k.py', 'v3-small_224_1.0_float', 'imagenet'),
    ('configs/cls/mobilenet-v3-small-075_tf-slim_in1k.py', 'v3-small_224_0.75_float', 'imagenet'),
]


def _checkpoint(source, tmp_path):
    if source == 'deeplab_small':
        variables, _ = read_variables(osp.join(DATA, 'deeplab_small', 'model.ckpt'))
        out, _ = convert_deeplab(variables, 'small')
    else:
        with open(osp.join(DATA, 'manifests.json')) as f:
            manifest = json.load(f)[source]
        rng = np.random.default_rng(0)
        fake = {k: (rng.standard_normal(s) * 0.1).astype(np.float32) for k, s in manifest['variables'].items()}
        for k in fake:
            if k.endswith('moving_variance'):
                fake[k] = np.abs(fake[k]) + 1
        variables, _ = select_variables(fake)
        convert = convert_deeplab if manifest['source'] == 'deeplab' else convert_slim
        out, _ = convert(variables, manifest['arch'])
    path = tmp_path / f'{source}.pth'
    torch.save(dict(state_dict=out, meta=dict(source='test')), path)
    return path


@pytest.mark.slow
def test_converted_tf1_configs_run_tools_test(tmp_path):
    from mmv3.testing.sample_data import make_cityscapes, make_imagenet
    roots = dict(cityscapes=tmp_path / 'cityscapes', imagenet=tmp_path / 'imagenet')
    make_cityscapes(str(roots['cityscapes']), num_train=1, num_val=1, img_size=(64, 128))
    make_imagenet(str(roots['imagenet']), num_train=2, num_val=2, img_size=(64, 64), num_classes=2)
    script = tmp_path / 'driver.py'
    script.write_text(DRIVER)
    for config, source, dataset in CONFIGS:
        ckpt = _checkpoint(source, tmp_path)
        args = [sys.executable, str(script), config, str(ckpt), '--work-dir', str(tmp_path / 'w' / source),
                '--cfg-options', f'test_dataloader.dataset.data_root={roots[dataset]}',
                'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                'test_dataloader.batch_size=1']
        res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                             env=dict(__import__('os').environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2'))
        assert res.returncode == 0, (config, res.stderr[-3000:])
        metric = 'mIoU' if dataset == 'cityscapes' else 'accuracy/top1'
        assert metric in res.stdout + res.stderr, (config, (res.stdout + res.stderr)[-2000:])
