"""The usual OpenMMLab tools (issue 14 item 5): print_config.py, browse_dataset.py,
confusion_matrix.py, publish_model.py. Called in-process through each tool's ``main(argv)``
(the machine is shared; one subprocess checks the ``tool.py: error:`` path)."""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import CONFIGS, REPO, make_class_folders, run_tool  # noqa: E402

from mmv3.apis import ToolError  # noqa: E402

TINY_SEG = osp.join(CONFIGS, 'tiny_seg.py')
TINY_CLS = osp.join(CONFIGS, 'tiny_cls.py')


def _tool(rel):
    spec = importlib.util.spec_from_file_location(rel.replace('/', '_')[:-3], osp.join(REPO, 'tools', rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


@pytest.fixture(scope='module')
def cityscapes(tmp_path_factory):
    from mmv3.testing import make_cityscapes
    root = str(tmp_path_factory.mktemp('cs'))
    make_cityscapes(root, num_train=2, num_val=2, img_size=(64, 128))
    return root


def _seg_ckpt(path, seed=0):
    """tiny_seg with random weights."""
    from mmv3.apis import build_model, load_config
    torch.manual_seed(seed)
    model = build_model(load_config(TINY_SEG))
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=2)), path)
    return path


# ----------------------------------------------------------------------------------- print_config
def test_print_config_prints_merged_config_and_saves_it(tmp_path, capsys):
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = [{TINY_SEG!r}]\ntrain_cfg = dict(max_iters=5)\n")
    saved = tmp_path / 'merged.py'
    _tool('misc/print_config.py')([str(child), '--save-path', str(saved), '--cfg-options',
                                   'optim_wrapper.optimizer.lr=0.123'])
    out = capsys.readouterr().out
    assert out.startswith('Config:\n')
    assert 'lr=0.123' in out and 'max_iters=5' in out and "type='IterBasedTrainLoop'" in out  # _base_ merged
    from mmengine.config import Config
    cfg = Config.fromfile(str(saved))
    assert cfg.optim_wrapper.optimizer.lr == 0.123 and cfg.train_cfg.max_iters == 5
    assert cfg.model.backbone.type == 'mmv3.MobileNetV3'


def test_print_config_refuses_unknown_key(capsys):
    with pytest.raises(ToolError, match="^--cfg-options key 'optim_wraper.optimizer.lr' does not exist"):
        _tool('misc/print_config.py')([TINY_SEG, '--cfg-options', 'optim_wraper.optimizer.lr=1'])
    assert 'Config:' not in capsys.readouterr().out


# --------------------------------------------------------------------------------- browse_dataset
def _assert_drawn(path, packed_bgr):
    import cv2
    img = cv2.imread(path)  # BGR, as the pipeline packs it
    assert img is not None and img.shape == packed_bgr.shape, (path, None if img is None else img.shape)
    changed = np.any(img != packed_bgr, axis=2).mean()
    assert 0.01 < changed, f'{path}: labels not drawn ({changed:.3%} of pixels changed)'
    return changed


def test_browse_dataset_seg_cls_det(tmp_path, cityscapes):
    from mmengine.registry import DATASETS

    from mmv3.apis import load_config, setup_scope
    browse = _tool('analysis_tools/browse_dataset.py')

    # seg: tiny_seg's train pipeline (resize to 128x64); the visualizer paints the label map
    out = tmp_path / 'seg'
    browse([TINY_SEG, '--output-dir', str(out), '--not-show', '--cfg-options',
            f'train_dataloader.dataset.data_root={cityscapes}'])
    files = sorted(os.listdir(out))
    assert files == ['0000_aachen_000000_000019_leftImg8bit.png', '0001_bochum_000000_000019_leftImg8bit.png']
    cfg = load_config(TINY_SEG, {'train_dataloader.dataset.data_root': cityscapes})
    setup_scope(cfg)
    item = DATASETS.build(cfg.train_dataloader.dataset)[0]
    assert _assert_drawn(str(out / files[0]), item['inputs'].permute(1, 2, 0).numpy()) > 0.3  # label overlay

    # cls: the class name is written on the image
    make_class_folders(str(tmp_path / 'cls'), num_per_class=(2, 1))
    out = tmp_path / 'cls_out'
    browse([TINY_CLS, '--output-dir', str(out), '--not-show', '-n', '2', '--phase', 'test', '--cfg-options',
            f'test_dataloader.dataset.data_root={tmp_path / "cls"}'])
    files = sorted(os.listdir(out))
    assert files == ['0000_0.png', '0001_0.png'], files
    import cv2
    raw = cv2.imread(str(tmp_path / 'cls' / 'val' / 'class0' / '0.png'))
    # mmpretrain's visualizer draws at a minimum size; the image is upscaled before the text goes on
    drawn = cv2.imread(str(out / files[0]))
    assert drawn is not None and drawn.shape[0] >= raw.shape[0]
    assert np.any(cv2.resize(drawn, raw.shape[1::-1], interpolation=cv2.INTER_AREA) != raw)

    # det: SSDLite's training pipeline (expand, crop, resize to 320) with the boxes drawn
    from mmv3.testing import make_coco
    coco = str(tmp_path / 'coco')
    make_coco(coco, num_train=2, num_val=1, img_size=(96, 128))
    det_cfg = osp.join(REPO, 'configs/det/ssdlite_mobilenet-v3-large_8xb24-600e_coco.py')
    out = tmp_path / 'det'
    browse([det_cfg, '--output-dir', str(out), '--not-show', '-n', '1', '--cfg-options',
            f'train_dataloader.dataset.dataset.data_root={coco}/'])
    files = sorted(os.listdir(out))
    assert files == ['0000_000000000001.png'], files
    assert cv2.imread(str(out / files[0])).shape == (320, 320, 3)


def test_browse_dataset_refusals(tmp_path, cityscapes):
    browse = _tool('analysis_tools/browse_dataset.py')
    with pytest.raises(ToolError, match='no val_dataloader.dataset: use --phase with one of train, test'):
        browse([TINY_SEG, '--output-dir', str(tmp_path / 'x'), '--not-show', '--phase', 'val'])
    with pytest.raises(ToolError, match='nothing to do: give --output-dir'):
        browse([TINY_SEG, '--not-show'])
    with pytest.raises(ToolError, match='data_root'):
        browse([TINY_SEG, '--output-dir', str(tmp_path / 'y'), '--not-show', '--cfg-options',
                f'train_dataloader.dataset.data_root={tmp_path / "missing"}'])
    assert not (tmp_path / 'x').exists() and not (tmp_path / 'y').exists()


# ------------------------------------------------------------------------------- confusion_matrix
def test_confusion_matrix_seg_equals_test_py_predictions(tmp_path, cityscapes):
    import cv2
    ckpt = _seg_ckpt(str(tmp_path / 'seg.pth'))
    opts = ['--cfg-options', f'test_dataloader.dataset.data_root={cityscapes}']
    _tool('analysis_tools/confusion_matrix.py')([TINY_SEG, ckpt, '--out', str(tmp_path / 'cm')] + opts)
    assert osp.getsize(tmp_path / 'cm' / 'confusion_matrix.png') > 10000
    got = json.load(open(tmp_path / 'cm' / 'confusion_matrix.json'))
    matrix = np.array(got['matrix'])
    assert matrix.shape == (19, 19) and got['classes'][0] == 'road'

    # reference: tools/test.py --out DIR writes mmseg's predicted label PNGs; count them against the gt
    pred_dir = tmp_path / 'pred'
    p = run_tool('test.py', [TINY_SEG, ckpt, '--work-dir', str(tmp_path / 'w'), '--out', str(pred_dir)] + opts)
    assert p.returncode == 0, p.stderr[-3000:]
    ref = np.zeros((19, 19), np.int64)
    gt_files = sorted(f for _, _, fs in os.walk(osp.join(cityscapes, 'gtFine', 'val')) for f in fs
                      if f.endswith('_labelTrainIds.png'))
    assert len(gt_files) == 2
    for f in gt_files:
        city = f.split('_')[0]
        gt = cv2.imread(osp.join(cityscapes, 'gtFine', 'val', city, f), cv2.IMREAD_UNCHANGED)
        gt = cv2.resize(gt, (128, 64), interpolation=cv2.INTER_NEAREST)  # tiny_seg resizes the labels too
        pred = cv2.imread(str(pred_dir / f.replace('_gtFine_labelTrainIds', '_leftImg8bit')), cv2.IMREAD_UNCHANGED)
        keep = gt != 255
        np.add.at(ref, (gt[keep].astype(int), pred[keep].astype(int)), 1)
    assert ref.sum() == 15014 and np.count_nonzero(ref.sum(1)) == 17  # labelled pixels of 17 gt classes
    np.testing.assert_array_equal(matrix, ref)


def test_confusion_matrix_cls_and_refusals(tmp_path):
    from mmv3.apis import build_model, load_config
    root = make_class_folders(str(tmp_path / 'cls'), num_per_class=(1, 3))
    torch.manual_seed(1)
    model = build_model(load_config(TINY_CLS))
    with torch.no_grad():
        model.head.layers[-1].fc.weight.normal_(0, 3.0)
    ckpt = str(tmp_path / 'cls.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    opts = ['--cfg-options', f'test_dataloader.dataset.data_root={root}']
    cm = _tool('analysis_tools/confusion_matrix.py')
    cm([TINY_CLS, ckpt, '--out', str(tmp_path / 'cm')] + opts)
    matrix = np.array(json.load(open(tmp_path / 'cm' / 'confusion_matrix.json'))['matrix'])
    # reference: the classifier's own predictions on the 9 val images (3 per class), one by one
    from mmengine.runner import Runner
    cfg = load_config(TINY_CLS, {'test_dataloader.dataset.data_root': root})
    ref = np.zeros((3, 3), np.int64)
    model.eval()
    for data in Runner.build_dataloader(cfg.test_dataloader):
        for out in model.test_step(data):
            ref[int(out.gt_label), int(out.pred_score.argmax())] += 1
    assert ref.sum(1).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(matrix, ref)

    with pytest.raises(ToolError, match='classification and segmentation configs, not det'):
        cm([osp.join(REPO, 'configs/det/ssdlite_mobilenet-v3-large_8xb24-600e_coco.py'), ckpt, '--out',
            str(tmp_path / 'det')])
    from mmv3.engine import CheckpointError
    with pytest.raises(CheckpointError, match='does not exist'):
        cm([TINY_CLS, str(tmp_path / 'missing.pth'), '--out', str(tmp_path / 'no')] + opts)
    assert not (tmp_path / 'det').exists() and not (tmp_path / 'no').exists()


# ---------------------------------------------------------------------------------- publish_model
def test_publish_model_strips_training_state_and_names_by_sha256(tmp_path, capsys):
    from mmv3.engine import load_checkpoint_safely
    state = {'backbone.w': torch.arange(6.).reshape(2, 3), 'head.b': torch.ones(3)}
    src = tmp_path / 'iter_10.pth'
    torch.save(dict(meta=dict(iter=10, seed=0, dataset_meta=dict(classes=('a', 'b'))), state_dict=state,
                    optimizer=dict(state={0: dict(momentum_buffer=torch.zeros(3))}, param_groups=[dict(lr=0.1)]),
                    message_hub=dict(log_scalars={}, runtime_info=dict(iter=10)),
                    param_schedulers=[dict(last_step=10)]), src)
    _tool('misc/publish_model.py')([str(src), str(tmp_path / 'out' / 'model.pth')])
    final = capsys.readouterr().out.strip()
    files = os.listdir(tmp_path / 'out')
    assert files == [osp.basename(final)], files  # no temporary file left
    sha = hashlib.sha256(open(final, 'rb').read()).hexdigest()
    assert final == str(tmp_path / 'out' / f'model-{sha[:8]}.pth')
    ckpt = torch.load(final, weights_only=True)
    assert sorted(ckpt) == ['meta', 'state_dict']
    assert ckpt['meta']['iter'] == 10 and ckpt['meta']['dataset_meta']['classes'] == ('a', 'b')
    assert sorted(load_checkpoint_safely(final)['state_dict']) == ['backbone.w', 'head.b']
    for k, v in state.items():
        assert torch.equal(ckpt['state_dict'][k], v)
    assert osp.getsize(final) < osp.getsize(src)
    assert osp.isfile(src)  # the input is kept


def test_publish_model_refusals(tmp_path):
    publish = _tool('misc/publish_model.py')
    src = tmp_path / 'a.pth'
    torch.save(dict(state_dict={'w': torch.ones(1)}), src)
    with pytest.raises(ToolError, match='must end with .pth'):
        publish([str(src), str(tmp_path / 'o' / 'model.pt')])
    with pytest.raises(ToolError, match='does not exist'):
        publish([str(tmp_path / 'missing.pth'), str(tmp_path / 'o' / 'model.pth')])
    torch.save({'w': torch.ones(1)}, tmp_path / 'bare.pth')
    with pytest.raises(ToolError, match='has no state_dict'):
        publish([str(tmp_path / 'bare.pth'), str(tmp_path / 'o' / 'model.pth')])
    with open(tmp_path / 'evil.pth', 'wb') as f:
        pickle.dump({'state_dict': {}, 'x': os.system}, f)
    with pytest.raises(ToolError):
        publish([str(tmp_path / 'evil.pth'), str(tmp_path / 'o' / 'model.pth')])
    assert not (tmp_path / 'o').exists() or os.listdir(tmp_path / 'o') == []
