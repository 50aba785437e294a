"""Dataset input validation (issue 7 item 3): grayscale / 16-bit / CMYK images, label ids outside
the class range, empty or missing splits, zero-area COCO boxes. Each case is either shown to be
handled correctly (and documented in data/README.md) or refused with a clear message."""
import glob
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from mmv3.datasets import DatasetNotReadyError, check_data_cfg, check_dataset_cfg
from mmv3.testing.sample_data import make_cityscapes, make_coco, make_imagenet
from mmv3.datasets.transforms import CheckSegLabels, SegLabelError


def _upstream_cfg(toolbox, rel):
    import importlib
    from mmengine.config import Config
    pkg = importlib.import_module(toolbox)
    return Config.fromfile(osp.join(osp.dirname(pkg.__file__), '.mim', 'configs', '_base_', 'datasets', rel))


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('validation')
    out = dict(cityscapes=str(base / 'cityscapes'), coco=str(base / 'coco'), imagenet=str(base / 'imagenet'))
    make_cityscapes(out['cityscapes'], num_train=3, num_val=2, img_size=(64, 128))
    make_coco(out['coco'], num_train=6, num_val=6, img_size=(96, 128))
    make_imagenet(out['imagenet'], num_train=4, num_val=2, img_size=(48, 48), num_classes=2)
    return out


def _copy(src, tmp_path, name):
    dst = str(tmp_path / name)
    shutil.copytree(src, dst)
    return dst


def _seg_dataset(root, pipeline_extra=(), split='train', **kwargs):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), *pipeline_extra,
                dict(type='PackSegInputs')]
    return DATASETS.build(dict(type='CityscapesDataset', data_root=root, pipeline=pipeline,
                               data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
                               **kwargs))


# ------------------------------------------------------------------------------ grayscale / 16-bit images


def test_grayscale_16bit_rgba_images_load_as_3channel_uint8_in_mmseg(roots, tmp_path):
    """mmcv's LoadImageFromFile (cv2 backend, color_type='color') converts them: documented."""
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    ds = _seg_dataset(root)
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    orig = [cv2.imread(p) for p in paths]
    Image.fromarray(cv2.cvtColor(orig[0], cv2.COLOR_BGR2GRAY), 'L').save(paths[0])  # 8-bit grayscale
    cv2.imwrite(paths[1], orig[1].astype(np.uint16) * 257)  # 16-bit RGB with the same content
    rgba = np.dstack([cv2.cvtColor(orig[2], cv2.COLOR_BGR2RGB), np.full(orig[2].shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, 'RGBA').save(paths[2])
    assert [Image.open(p).mode for p in paths] == ['L', 'RGB', 'RGBA']
    assert cv2.imread(paths[1], cv2.IMREAD_UNCHANGED).dtype == np.uint16
    ds = _seg_dataset(root)
    imgs = [ds[i]['inputs'].numpy().transpose(1, 2, 0) for i in range(3)]
    assert all(img.shape == orig[0].shape and img.dtype == np.uint8 for img in imgs)
    gray = cv2.cvtColor(orig[0], cv2.COLOR_BGR2GRAY)
    for c in range(3):  # grayscale is replicated into the three channels
        np.testing.assert_array_equal(imgs[0][..., c], gray)
    np.testing.assert_array_equal(imgs[1], orig[1])  # 16-bit is scaled to 8 bit (v * 257 -> v)
    np.testing.assert_array_equal(imgs[2], orig[2])  # alpha is dropped


def test_grayscale_and_cmyk_jpeg_in_imagenet_and_coco(roots, tmp_path):
    from mmdet.registry import DATASETS as DET_DATASETS
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS as CLS_DATASETS
    root = _copy(roots['imagenet'], tmp_path, 'in')
    with open(osp.join(root, 'meta', 'train.txt')) as f:
        rels = [line.split()[0] for line in f]
    a, b = (osp.join(root, 'train', r) for r in rels[:2])
    Image.open(a).convert('L').save(a, format='JPEG')  # ImageNet has grayscale ...
    Image.open(b).convert('CMYK').save(b, format='JPEG')  # ... and CMYK JPEGs
    assert (Image.open(a).mode, Image.open(b).mode) == ('L', 'CMYK')
    init_default_scope('mmpretrain')
    cfg = _upstream_cfg('mmpretrain', 'imagenet_bs32.py').train_dataloader.dataset
    cfg.data_root = root
    ds = CLS_DATASETS.build(cfg)
    for i in range(2):
        assert tuple(ds[i]['inputs'].shape) == (3, 224, 224)

    root = _copy(roots['coco'], tmp_path, 'coco')
    img = osp.join(root, 'train2017', '000000000001.jpg')
    Image.open(img).convert('L').save(img, format='JPEG')
    init_default_scope('mmdet')
    cfg = _upstream_cfg('mmdet', 'coco_detection.py').train_dataloader.dataset
    cfg.data_root = root + '/'
    ds = DET_DATASETS.build(cfg)
    idx = [ds.get_data_info(i)['img_id'] for i in range(len(ds))].index(1)
    assert ds[idx]['inputs'].shape[0] == 3


def test_pillow_backend_breaks_16bit_grayscale(tmp_path):
    """Documented caveat: only the default cv2 decoder handles 16-bit; Pillow saturates it."""
    from mmcv.transforms import LoadImageFromFile
    path = str(tmp_path / 'g16.png')
    gray = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 256
    cv2.imwrite(path, gray * 257)
    good = LoadImageFromFile()(dict(img_path=path))['img']
    np.testing.assert_array_equal(good[..., 0], gray)
    bad = LoadImageFromFile(imdecode_backend='pillow')(dict(img_path=path))['img']
    assert not np.array_equal(bad[..., 0], gray)


# ------------------------------------------------------------------------------ label ids out of range


def test_check_seg_labels_passes_real_layout_through_registry(roots):
    ds = _seg_dataset(roots['cityscapes'], [dict(type='mmv3.CheckSegLabels', num_classes=19, ignore_index=255)])
    assert any(isinstance(t, CheckSegLabels) for t in ds.pipeline.transforms)
    for i in range(len(ds)):
        gt = ds[i]['data_samples'].gt_sem_seg.data
        assert set(gt.unique().tolist()) <= set(range(19)) | {255}


def test_check_seg_labels_refuses_raw_label_ids(roots):
    ds = _seg_dataset(roots['cityscapes'], [dict(type='mmv3.CheckSegLabels')],
                      seg_map_suffix='_gtFine_labelIds.png')
    with pytest.raises(SegLabelError) as err:
        ds[0]
    msg = str(err.value)
    assert ds.get_data_info(0)['seg_map_path'] in msg
    assert 'outside the allowed values 0..18 (num_classes=19) and 255 (ignore_index)' in msg
    assert '_gtFine_labelTrainIds.png' in msg and 'tools/dataset_converters/cityscapes.py' in msg
    bad = sorted(v for v in np.unique(np.asarray(Image.open(ds.get_data_info(0)['seg_map_path'])))
                 if v >= 19 and v != 255)
    assert f'ids {", ".join(str(v) for v in bad[:12])}' in msg


def test_check_seg_labels_reports_file_and_ids(roots, tmp_path):
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    ds = _seg_dataset(root, [dict(type='mmv3.CheckSegLabels', num_classes=19)])
    path = ds.get_data_info(1)['seg_map_path']
    lab = np.asarray(Image.open(path)).copy()
    lab[0, :3] = (19, 254, 7)
    Image.fromarray(lab, 'L').save(path)
    ds[0]  # untouched file passes
    with pytest.raises(SegLabelError, match=r'holds ids 19, 254 outside the allowed values 0\.\.18') as err:
        ds[1]
    assert path in str(err.value) and '\n' not in str(err.value)
    # the same map with num_classes=255 (every id allowed) passes
    assert CheckSegLabels(num_classes=255)(dict(gt_seg_map=lab, seg_map_path=path)) is not None


def test_check_seg_labels_16bit_and_colour_label_maps(roots, tmp_path):
    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    ds = _seg_dataset(root, [dict(type='mmv3.CheckSegLabels')])
    p0, p1, p2 = (ds.get_data_info(i)['seg_map_path'] for i in range(3))
    lab0 = np.asarray(Image.open(p0))
    cv2.imwrite(p0, lab0.astype(np.uint16))  # 16-bit but values in range: read exactly, accepted
    np.testing.assert_array_equal(ds[0]['data_samples'].gt_sem_seg.data[0].numpy(), lab0)
    lab1 = np.asarray(Image.open(p1)).astype(np.uint16)
    lab1[0, 0] = 263  # mmseg would silently read this as 263 % 256 = 7 (road)
    cv2.imwrite(p1, lab1)
    plain = _seg_dataset(root)
    assert int(plain[1]['data_samples'].gt_sem_seg.data[0, 0, 0]) == 7
    with pytest.raises(SegLabelError, match=r'16-bit PNG with ids 263 >= 256') as err:
        ds[1]
    assert p1 in str(err.value)
    shutil.copy(p2.replace('_labelTrainIds.png', '_color.png'), p2)  # an RGBA colour image as labels
    with pytest.raises(SegLabelError, match=r'expected a single-channel HxW map'):
        ds[2]


def test_check_seg_labels_arguments():
    with pytest.raises(ValueError, match='num_classes must be a positive int'):
        CheckSegLabels(num_classes=0)
    with pytest.raises(ValueError, match='ignore_index must be an int'):
        CheckSegLabels(ignore_index='255')
    with pytest.raises(KeyError, match='after LoadAnnotations'):
        CheckSegLabels()(dict(img=np.zeros((4, 4, 3), np.uint8)))
    lab = np.array([[0, 1], [2, 255]], np.int64)  # non-uint8 maps are checked too
    assert CheckSegLabels(num_classes=3)(dict(gt_seg_map=lab)) is not None
    with pytest.raises(SegLabelError, match='holds ids -1'):
        CheckSegLabels(num_classes=3)(dict(gt_seg_map=lab - 1))


# ------------------------------------------------------------------------------ empty / missing splits


def test_check_data_cfg_accepts_the_samples(roots):
    for toolbox, rel, key in (('mmseg', 'cityscapes.py', 'cityscapes'), ('mmdet', 'coco_detection.py', 'coco'),
                              ('mmpretrain', 'imagenet_bs32.py', 'imagenet')):
        cfg = _upstream_cfg(toolbox, rel)
        cfg.default_scope = toolbox
        root = roots[key] + ('/' if key == 'coco' else '')
        for split in ('train', 'val', 'test'):
            cfg[f'{split}_dataloader'].dataset.data_root = root
        if key == 'coco':
            cfg.val_evaluator.ann_file = root + 'annotations/instances_val2017.json'
            cfg.test_evaluator = cfg.val_evaluator
        check_data_cfg(cfg)


def test_missing_root_and_empty_split_messages(roots, tmp_path):
    cfg = _upstream_cfg('mmseg', 'cityscapes.py')
    cfg.default_scope = 'mmseg'
    missing = str(tmp_path / 'nowhere' / 'cityscapes')
    cfg.train_dataloader.dataset.data_root = missing
    with pytest.raises(DatasetNotReadyError) as err:
        check_data_cfg(cfg, splits=('train', ))
    msg = str(err.value)
    assert msg.startswith(f'train_dataloader.dataset: data_root {missing} does not exist')
    assert f'python tools/dataset_converters/cityscapes.py {missing}' in msg
    assert f'python tools/misc/make_sample_data.py cityscapes --out {missing}' in msg and '\n' not in msg

    root = _copy(roots['cityscapes'], tmp_path, 'cs')
    shutil.rmtree(osp.join(root, 'leftImg8bit', 'val'))
    cfg.train_dataloader.dataset.data_root = root
    cfg.val_dataloader.dataset.data_root = root
    check_data_cfg(cfg, splits=('train', ))
    with pytest.raises(DatasetNotReadyError, match=r'val_dataloader\.dataset: image folder .*leftImg8bit/val '
                       r'\(data_prefix\) does not exist'):
        check_data_cfg(cfg, splits=('train', 'val'))
    os.makedirs(osp.join(root, 'leftImg8bit', 'val', 'frankfurt'))
    with open(osp.join(root, 'leftImg8bit', 'val', 'frankfurt', 'notes.txt'), 'w') as f:
        f.write('not an image')
    with pytest.raises(DatasetNotReadyError, match=r'the split is empty: .*leftImg8bit/val holds no '
                       r'\*_leftImg8bit\.png'):
        check_data_cfg(cfg)
    # a real Cityscapes download that was never converted has no *_labelTrainIds.png
    shutil.rmtree(osp.join(root, 'leftImg8bit', 'val', 'frankfurt'))
    for p in glob.glob(osp.join(root, 'gtFine', '*', '*', '*_labelTrainIds.png')):
        os.remove(p)
    with pytest.raises(DatasetNotReadyError, match=r'^train_dataloader\.dataset: label map .*gtFine/train/aachen/'
                       r'aachen_000000_000019_gtFine_labelTrainIds\.png of image .* does not exist\. Prepare it '
                       r'with: python tools/dataset_converters/cityscapes\.py'):
        check_data_cfg(cfg)
    for split in ('train', 'val'):
        for p in glob.glob(osp.join(root, 'gtFine', split, '*', '*_labelIds.png')):
            shutil.copy(p, p.replace('_labelIds.png', '_labelTrainIds.png'))
    shutil.rmtree(osp.join(root, 'leftImg8bit', 'val'))
    os.makedirs(osp.join(root, 'leftImg8bit', 'val', 'frankfurt'))
    with open(osp.join(root, 'leftImg8bit', 'val', 'frankfurt', 'notes.txt'), 'w') as f:
        f.write('not an image')
    # wrapped datasets are followed, and the message names the nested field
    cfg.val_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=cfg.val_dataloader.dataset)
    with pytest.raises(DatasetNotReadyError, match=r'^val_dataloader\.dataset\.dataset: the split is empty'):
        check_data_cfg(cfg)


def test_empty_coco_and_imagenet_splits(roots, tmp_path):
    root = _copy(roots['coco'], tmp_path, 'coco')
    ann = osp.join(root, 'annotations', 'instances_val2017.json')
    dataset = dict(type='CocoDataset', data_root=root, ann_file='annotations/instances_val2017.json',
                   data_prefix=dict(img='val2017/'))
    check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmdet')
    with open(ann) as f:
        data = json.load(f)
    with open(ann, 'w') as f:
        json.dump(dict(data, images=[], annotations=[]), f)
    with pytest.raises(DatasetNotReadyError, match=r'lists no images .*make_sample_data\.py coco --out'):
        check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmdet')
    os.remove(ann)
    with pytest.raises(DatasetNotReadyError, match=r'ann_file .*instances_val2017\.json does not exist'):
        check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmdet')
    with pytest.raises(DatasetNotReadyError, match=r'^val_evaluator: ann_file .* does not exist'):
        check_data_cfg(dict(val_dataloader=dict(dataset=dict(type='CocoDataset', data_root=root,
                                                             data_prefix=dict(img='train2017/'),
                                                             ann_file='annotations/instances_train2017.json')),
                            val_evaluator=dict(type='CocoMetric', ann_file=ann)), splits=('val', ))

    root = _copy(roots['imagenet'], tmp_path, 'imagenet')
    dataset = dict(type='ImageNet', data_root=root, split='val')
    check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmpretrain')
    open(osp.join(root, 'meta', 'val.txt'), 'w').close()
    with pytest.raises(DatasetNotReadyError, match=r'ann_file .*meta/val\.txt is empty.*imagenet --out'):
        check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmpretrain')
    os.remove(osp.join(root, 'meta', 'val.txt'))  # no ann file: mmpretrain scans val/ for images
    check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmpretrain')
    for name in os.listdir(osp.join(root, 'val')):
        os.remove(osp.join(root, 'val', name))
    with pytest.raises(DatasetNotReadyError, match=r'the split is empty: .*/val holds no \*\.jpg or \*\.jpeg'):
        check_dataset_cfg(dataset, 'val_dataloader.dataset', 'mmpretrain')


# ------------------------------------------------------------------------------ zero-area COCO boxes


def test_zero_area_boxes_are_dropped_by_mmdet(roots, tmp_path):
    """Documented: CocoDataset skips a box with area <= 0 or width / height < 1 (training never sees
    it), but keeps the image (filter_empty_gt looks at the raw annotation index), which then trains
    as background; pycocotools still counts the box as ground truth in evaluation."""
    import torch
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    root = _copy(roots['coco'], tmp_path, 'coco')
    for split in ('val', 'train'):  # `first` / `last` stay those of train
        ann = osp.join(root, 'annotations', f'instances_{split}2017.json')
        with open(ann) as f:
            data = json.load(f)
        first, last = data['images'][0]['id'], data['images'][-1]['id']
        data['annotations'] = [a for a in data['annotations'] if a['image_id'] != last]  # only a bad box left
        data['annotations'] += [
            dict(id=900001, image_id=first, category_id=3, bbox=[10.0, 10.0, 0.0, 12.0], area=0.0, iscrowd=0,
                 segmentation=[[10.0, 10.0, 10.0, 22.0, 10.0, 16.0]]),
            dict(id=900002, image_id=last, category_id=1, bbox=[5.0, 5.0, 0.5, 20.0], area=0.0, iscrowd=0,
                 segmentation=[[5.0, 5.0, 5.5, 5.0, 5.5, 25.0]])]
        with open(ann, 'w') as f:
            json.dump(data, f)
    cfg = _upstream_cfg('mmdet', 'coco_detection.py')
    train_cfg, val_cfg = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    train_cfg.data_root = val_cfg.data_root = root + '/'
    train = DATASETS.build(train_cfg)
    assert len(train) == 6  # the image whose only box has zero area is kept (filter_empty_gt=True) ...
    info = {d['img_id']: d for d in (train.get_data_info(i) for i in range(len(train)))}
    assert info[last]['instances'] == []  # ... with no instances: it trains as background
    n_raw = sum(1 for a in data['annotations'] if a['image_id'] == first)  # train JSON as written
    assert len(info[first]['instances']) == n_raw - 1  # the zero-area box is gone
    sample = train[[train.get_data_info(i)['img_id'] for i in range(len(train))].index(last)]
    assert len(sample['data_samples'].gt_instances) == 0

    val = DATASETS.build(val_cfg)
    metric = CocoMetric(ann_file=osp.join(root, 'annotations', 'instances_val2017.json'), metric='bbox')
    metric.dataset_meta = val.metainfo
    results = []
    for i in range(len(val)):
        d = val.get_data_info(i)
        keep = [k for k in d['instances'] if not k['ignore_flag']]
        results.append(dict(img_id=d['img_id'], ori_shape=(d['height'], d['width']),
                            pred_instances=dict(bboxes=torch.tensor([k['bbox'] for k in keep]).reshape(-1, 4),
                                                scores=torch.ones(len(keep)),
                                                labels=torch.tensor([k['bbox_label'] for k in keep]))))
    metric.process({}, results)
    ap = metric.compute_metrics(metric.results)
    assert ap['bbox_mAP'] < 1.0  # the unmatched zero-area ground truths cost recall in pycocotools
