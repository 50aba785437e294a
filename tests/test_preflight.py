"""Issue 13 part B: the dataset pre-flight (mmv3.datasets.preflight), --cfg-options values and keys,
numeric sanity, run before anything is written."""
import json
import os.path as osp
import re
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
from mmv3_tool_helpers import CONFIGS, error_line, run_tool  # noqa: E402

from mmv3.datasets import DatasetNotReadyError
from mmv3.datasets.preflight import preflight_data_cfg, preflight_dataset_cfg, sample_indices
from mmv3.testing.sample_data import make_cityscapes, make_coco, make_imagenet

SEG = osp.join(CONFIGS, 'tiny_seg.py')
INET = osp.join(CONFIGS, 'tiny_cls_imagenet.py')


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('preflight')
    out = dict(cityscapes=str(base / 'cityscapes'), coco=str(base / 'coco'), imagenet=str(base / 'imagenet'))
    make_cityscapes(out['cityscapes'], num_train=3, num_val=2, img_size=(32, 64))
    make_coco(out['coco'], num_train=4, num_val=2, img_size=(48, 64))
    make_imagenet(out['imagenet'], num_train=4, num_val=2, img_size=(32, 32), num_classes=2)
    return out


def _copy(src, tmp_path, name):
    dst = str(tmp_path / name)
    shutil.copytree(src, dst)
    return dst


def _cfg(path, root):
    from mmv3.apis import load_config, setup_scope
    cfg = load_config(path, {'train_dataloader.dataset.data_root': root, 'test_dataloader.dataset.data_root': root})
    setup_scope(cfg)
    return cfg


def _labels(root, split='train'):
    import glob
    return sorted(glob.glob(osp.join(root, 'gtFine', split, '*', '*_labelTrainIds.png')))


def test_samples_pass(roots):
    preflight_data_cfg(_cfg(SEG, roots['cityscapes']), ('train', 'test'))
    preflight_data_cfg(_cfg(INET, roots['imagenet']), ('train', 'test'))
    coco = dict(type='CocoDataset', data_root=roots['coco'], ann_file='annotations/instances_train2017.json',
                data_prefix=dict(img='train2017/'))
    preflight_dataset_cfg(coco, 'train_dataloader.dataset', 'mmdet')


def test_seg_label_ids_out_of_range(roots, tmp_path):
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    cfg = _cfg(SEG, root)
    lab_path = _labels(root)[1]
    lab = np.asarray(Image.open(lab_path)).copy()
    lab[0, :2] = (19, 40)
    Image.fromarray(lab, 'L').save(lab_path)
    with pytest.raises(DatasetNotReadyError) as e:
        preflight_data_cfg(cfg, ('train', ))
    msg = str(e.value)
    assert msg.startswith(f'train_dataloader.dataset: label map {lab_path} holds ids 19, 40 outside 0..18 '
                          f'(num_classes=19) and 255 (ignore_index)'), msg
    preflight_data_cfg(cfg, ('test', ))  # the val split is untouched
    # the model's num_classes decides: with 41 classes the same ids are fine
    cfg.model.decode_head.num_classes = 41
    preflight_data_cfg(cfg, ('train', ))


def test_seg_label_size_differs_from_image(roots, tmp_path):
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    lab_path = _labels(root, 'val')[0]
    lab = np.asarray(Image.open(lab_path))
    Image.fromarray(lab[:, : lab.shape[1] // 2].copy(), 'L').save(lab_path)
    with pytest.raises(DatasetNotReadyError, match=r'^test_dataloader\.dataset: label map .* is 32x32 but its '
                       r'image .*_leftImg8bit\.png is 32x64 \(HxW\); mmseg would stretch it'):
        preflight_data_cfg(_cfg(SEG, root), ('test', ))


def test_seg_truncated_label_and_image(roots, tmp_path):
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    cfg = _cfg(SEG, root)
    lab_path = _labels(root)[0]
    data = open(lab_path, 'rb').read()
    open(lab_path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(DatasetNotReadyError, match=r'label map .*_labelTrainIds\.png \(of image .*\) does not decode'):
        preflight_data_cfg(cfg, ('train', ))
    open(lab_path, 'wb').write(data)
    img = lab_path.replace('gtFine', 'leftImg8bit', 1).replace('_gtFine_labelTrainIds.png', '_leftImg8bit.png')
    data = open(img, 'rb').read()
    open(img, 'wb').write(data[:len(data) * 2 // 3])
    with pytest.raises(DatasetNotReadyError, match=rf'^train_dataloader\.dataset: image {img} does not decode'):
        preflight_data_cfg(cfg, ('train', ))


def test_imagenet_label_index_and_missing_entry(roots, tmp_path):
    root = _copy(roots['imagenet'], tmp_path, 'in')
    cfg = _cfg(INET, root)
    cfg.model.head.num_classes = 1000
    ann = osp.join(root, 'meta', 'train.txt')
    lines = open(ann).read().splitlines()
    rel = lines[1].split()[0]
    lines[1] = f'{rel} 5000'
    open(ann, 'w').write('\n'.join(lines) + '\n')
    with pytest.raises(DatasetNotReadyError) as e:
        preflight_data_cfg(cfg, ('train', ))
    assert str(e.value) == (f'train_dataloader.dataset: {ann}: {osp.join(root, "train", rel)} has label 5000, '
                            f'outside 0..999 (num_classes=1000): fix the list or model.head.num_classes')
    lines[1] = f'{rel}.missing.JPEG 3'
    open(ann, 'w').write('\n'.join(lines) + '\n')
    with pytest.raises(DatasetNotReadyError, match=r'image .*\.missing\.JPEG \(listed in .*train\.txt\) does not exist'):
        preflight_data_cfg(cfg, ('train', ))
    lines[1] = f'{rel} 3'
    open(ann, 'w').write('\n'.join(lines) + '\n')
    open(osp.join(root, 'train', rel), 'wb').close()  # a zero-byte JPEG
    with pytest.raises(DatasetNotReadyError, match=r'image .* is empty \(0 bytes\)'):
        preflight_data_cfg(cfg, ('train', ))


def _coco_case(root, edit):
    ann = osp.join(root, 'annotations', 'instances_train2017.json')
    data = json.load(open(ann))
    edit(data)
    json.dump(data, open(ann, 'w'))
    dataset = dict(type='CocoDataset', data_root=root, ann_file='annotations/instances_train2017.json',
                   data_prefix=dict(img='train2017/'))
    with pytest.raises(DatasetNotReadyError) as e:
        preflight_dataset_cfg(dataset, 'train_dataloader.dataset', 'mmdet')
    return str(e.value)


def test_coco_annotations(roots, tmp_path):
    def cat(d):
        d['annotations'][2]['category_id'] = 999

    def neg(d):
        d['annotations'][0]['bbox'] = [10, 10, -4, 5]

    def outside(d):
        im = d['images'][0]
        a = next(a for a in d['annotations'] if a['image_id'] == im['id'])
        a['bbox'] = [im['width'] - 5, 2, 20, 5]

    def zero(d):
        d['annotations'][0]['bbox'] = [10, 10, 0, 5]  # fine: mmdet drops it
        d['images'][1]['file_name'] = 'nope.jpg'

    def truncated(d):
        p = osp.join(tmp_path, 'c5', 'train2017', d['images'][0]['file_name'])
        raw = open(p, 'rb').read()
        open(p, 'wb').write(raw[:len(raw) // 2])

    for i, (edit, needle) in enumerate([(cat, r'has category_id=999, which is not in "categories"'),
                                        (neg, r'negative width / height: COCO boxes are \[x, y, width, height\]'),
                                        (outside, r'outside its 64x48 \(WxH\) image'),
                                        (zero, r'image .*train2017/nope\.jpg \(listed in .*\) does not exist'),
                                        (truncated, r'image .*train2017/.*\.jpg does not decode')]):
        msg = _coco_case(_copy(roots['coco'], tmp_path, f'c{i + 1}'), edit)
        assert re.search(needle, msg), msg
        assert msg.startswith('train_dataloader.dataset: ') and '\n' not in msg


def test_sampled_decode_is_deterministic_and_bounded():
    assert sample_indices(5, 10) == [0, 1, 2, 3, 4]
    idx = sample_indices(10000, 2000)
    assert len(idx) == 2000 and idx[0] == 0 and idx[-1] == 9999 and idx == sorted(set(idx))
    assert idx == sample_indices(10000, 2000)


# ------------------------------------------------------------------------------ tools: refused before writing
def test_train_and_test_refuse_bad_labels_before_writing_and_skip_flag(roots, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    bad = []
    for split in ('train', 'val'):
        lab_path = _labels(root, split)[0]
        lab = np.asarray(Image.open(lab_path)).copy()
        lab[0, 0] = 33
        Image.fromarray(lab, 'L').save(lab_path)
        bad.append(lab_path)
    work = str(tmp_path / 'work')
    missing = str(tmp_path / 'missing.pth')
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}']
    runs = [('train.py', [SEG, '--work-dir', work] + opts),
            ('test.py', [SEG, missing, '--work-dir', work] + opts),
            # --skip-data-check: the pre-flight is skipped, the next check (load_from) refuses
            ('train.py', [SEG, '--work-dir', work, '--skip-data-check'] + opts + [f'load_from={missing}'])]
    with ThreadPoolExecutor(3) as pool:
        procs = list(pool.map(lambda r: run_tool(*r), runs))
    lines = [error_line(p, tool) for p, (tool, _) in zip(procs, runs)]
    assert [p.returncode for p in procs] == [2, 2, 2], lines
    assert f'train_dataloader.dataset: label map {bad[0]} holds ids 33 outside 0..18' in lines[0]
    assert 'labelTrainIds' in lines[0]
    assert f'test_dataloader.dataset: label map {bad[1]} holds ids 33 outside 0..18' in lines[1]
    assert missing in lines[2] and 'label map' not in lines[2]
    assert not osp.exists(work)
