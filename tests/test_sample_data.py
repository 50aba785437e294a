"""Sample datasets: exact on-disk formats read by the real toolbox dataset classes, determinism,
label ranges, learnability, the CLI, and the Cityscapes converter."""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
from PIL import Image

from mmv3.datasets import cityscapes_labels as csl
from mmv3.testing.sample_data import (COCO_CATEGORIES, COCO_SAMPLE_CLASSES, IMAGENET_SAMPLE_CLASSES,
                                      make_cityscapes, make_coco, make_imagenet)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CS = dict(num_train=12, num_val=4, img_size=(128, 256))
COCO = dict(num_train=18, num_val=8, img_size=(120, 160))
IN = dict(num_train=40, num_val=20, img_size=(64, 64))


def _load_tool(rel):
    import importlib.util
    spec = importlib.util.spec_from_file_location(osp.basename(rel)[:-3] + '_tool', osp.join(REPO, rel))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # so that worker processes can unpickle its functions
    spec.loader.exec_module(mod)
    return mod


def _upstream_cfg(toolbox, rel):
    import importlib
    from mmengine.config import Config
    pkg = importlib.import_module(toolbox)
    return Config.fromfile(osp.join(osp.dirname(pkg.__file__), '.mim', 'configs', '_base_', 'datasets', rel))


def _tree_digest(root):
    out = {}
    for path in sorted(glob.glob(osp.join(root, '**', '*'), recursive=True)):
        if osp.isfile(path):
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def cs_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sample') / 'cityscapes')
    make_cityscapes(root, seed=0, **CS)
    return root


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sample') / 'coco')
    make_coco(root, seed=0, **COCO)
    return root


@pytest.fixture(scope='module')
def in_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sample') / 'imagenet')
    make_imagenet(root, seed=0, **IN)
    return root


# ------------------------------------------------------------------------------------------ Cityscapes


def test_cityscapes_layout_and_labels(cs_root):
    h, w = CS['img_size']
    train_ids_seen = set()
    for split, n, cities in (('train', CS['num_train'], 6), ('val', CS['num_val'], 3)):
        imgs = sorted(glob.glob(osp.join(cs_root, 'leftImg8bit', split, '*', '*_leftImg8bit.png')))
        assert len(imgs) == n
        assert len({osp.basename(osp.dirname(p)) for p in imgs}) == min(n, cities)
        for img_path in imgs:
            city = osp.basename(osp.dirname(img_path))
            name = osp.basename(img_path)
            assert re.fullmatch(rf'{city}_\d{{6}}_\d{{6}}_leftImg8bit\.png', name), name
            stem = osp.join(cs_root, 'gtFine', split, city, name[:-len('_leftImg8bit.png')] + '_gtFine_')
            img = Image.open(img_path)
            assert (img.mode, img.size) == ('RGB', (w, h))
            train_ids = np.asarray(Image.open(stem + 'labelTrainIds.png'))
            ids = np.asarray(Image.open(stem + 'labelIds.png'))
            color = Image.open(stem + 'color.png')
            inst = Image.open(stem + 'instanceIds.png')
            assert train_ids.shape == ids.shape == (h, w) and train_ids.dtype == ids.dtype == np.uint8
            assert color.mode == 'RGBA' and inst.mode == 'I;16'
            values = set(np.unique(train_ids).tolist())
            assert values <= set(range(19)) | {255}
            train_ids_seen |= values
            # the three label images agree through the official tables
            np.testing.assert_array_equal(csl.id_to_train_id_lut()[ids], train_ids)
            np.testing.assert_array_equal(csl.id_to_color_lut()[ids], np.asarray(color)[..., :3])
            inst = np.asarray(inst).astype(np.int64)
            np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), ids)
            with open(stem + 'polygons.json') as f:
                poly = json.load(f)
            assert (poly['imgHeight'], poly['imgWidth']) == (h, w)
            assert all(o['label'] in csl.NAME2LABEL for o in poly['objects'])
    assert train_ids_seen == set(range(19)) | {255}, 'all 19 classes and the ignore label occur'


def test_cityscapes_label_table_matches_mmseg():
    from mmseg.datasets import CityscapesDataset
    assert csl.TRAIN_CLASSES == tuple(CityscapesDataset.METAINFO['classes'])
    colors = [list(csl.NAME2LABEL[n].color) for n in csl.TRAIN_CLASSES]
    assert colors == [list(c) for c in CityscapesDataset.METAINFO['palette']]
    lut = csl.id_to_train_id_lut()
    assert sorted(lut[lut != 255].tolist()) == list(range(19))


def test_cityscapes_label_table_matches_cityscapesscripts():
    labels = pytest.importorskip('cityscapesscripts.helpers.labels')
    theirs = [(lb.name, lb.id, lb.trainId, lb.category, lb.hasInstances, tuple(lb.color)) for lb in labels.labels]
    ours = [(lb.name, lb.id, lb.train_id, lb.category, lb.has_instances, lb.color) for lb in csl.LABELS]
    assert ours == theirs


def test_cityscapes_loads_in_mmseg_with_its_pipeline(cs_root):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    cfg = _upstream_cfg('mmseg', 'cityscapes.py')
    train_cfg, val_cfg = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    train_cfg.data_root = val_cfg.data_root = cs_root
    train = DATASETS.build(train_cfg)
    val = DATASETS.build(val_cfg)
    assert (len(train), len(val)) == (CS['num_train'], CS['num_val'])
    assert train.metainfo['classes'][13] == 'car'
    sample = train[0]  # RandomResize(2048x1024, 0.5-2.0) + RandomCrop 512x1024 + flip + photometric
    assert tuple(sample['inputs'].shape) == (3, 512, 1024)
    gt = sample['data_samples'].gt_sem_seg.data
    assert tuple(gt.shape) == (1, 512, 1024)
    assert set(gt.unique().tolist()) <= set(range(19)) | {255}
    vsample = val[0]  # Resize to 2048x1024, label at the original size
    assert tuple(vsample['inputs'].shape) == (3, 1024, 2048)
    assert tuple(vsample['data_samples'].gt_sem_seg.data.shape) == (1, ) + CS['img_size']


def test_cityscapes_is_learnable_from_colour(cs_root):
    """A per-class mean colour fitted on train labels val pixels far above a constant prediction."""
    def pixels(split):
        xs, ys = [], []
        for p in sorted(glob.glob(osp.join(cs_root, 'leftImg8bit', split, '*', '*.png'))):
            gt = p.replace('leftImg8bit', 'gtFine', 1).replace('_leftImg8bit.png', '_gtFine_labelTrainIds.png')
            xs.append(np.asarray(Image.open(p), np.float32).reshape(-1, 3))
            ys.append(np.asarray(Image.open(gt)).reshape(-1))
        return np.concatenate(xs), np.concatenate(ys)

    x, y = pixels('train')
    classes = [c for c in range(19) if (y == c).any()]
    means = np.stack([x[y == c].mean(0) for c in classes])
    xv, yv = pixels('val')
    keep = yv != 255
    pred = np.asarray(classes)[np.argmin(((xv[keep, None] - means[None]) ** 2).sum(-1), 1)]
    acc = (pred == yv[keep]).mean()
    const_acc = np.bincount(y[y != 255]).max() / (y != 255).sum()  # most frequent class
    assert acc > 0.8 and acc > const_acc + 0.4, (acc, const_acc)


def test_cityscapes_converter_from_label_ids(cs_root, tmp_path, capsys):
    import shutil
    root = str(tmp_path / 'cs')
    shutil.copytree(cs_root, root)
    refs = {p: np.asarray(Image.open(p)) for p in glob.glob(osp.join(root, 'gtFine', '*', '*', '*_labelTrainIds.png'))}
    for p in refs:
        os.remove(p)
    tool = _load_tool('tools/dataset_converters/cityscapes.py')
    assert tool.main([root, '--source', 'labelIds', '--nproc', '2', '-o', str(tmp_path / 'splits')]) == 0
    for p, ref in refs.items():
        np.testing.assert_array_equal(np.asarray(Image.open(p)), ref)
    with open(tmp_path / 'splits' / 'val.txt') as f:
        names = f.read().split()
    assert len(names) == CS['num_val'] and names[0] == 'frankfurt/frankfurt_000000_000019'
    assert (tmp_path / 'splits' / 'test.txt').read_text() == ''


def test_cityscapes_converter_from_polygons(cs_root, tmp_path):
    pytest.importorskip('cityscapesscripts.preparation.json2labelImg')
    import shutil
    root = str(tmp_path / 'cs')
    shutil.copytree(cs_root, root)
    refs = {p: np.asarray(Image.open(p)) for p in glob.glob(osp.join(root, 'gtFine', '*', '*', '*_labelTrainIds.png'))}
    for p in refs:
        os.remove(p)
    tool = _load_tool('tools/dataset_converters/cityscapes.py')
    assert tool.main([root, '--source', 'polygons']) == 0
    for p, ref in refs.items():
        np.testing.assert_array_equal(np.asarray(Image.open(p)), ref)


def test_cityscapes_converter_errors(cs_root, tmp_path, capsys, monkeypatch):
    tool = _load_tool('tools/dataset_converters/cityscapes.py')
    monkeypatch.setattr(tool, '_has_cityscapesscripts', lambda: False)
    assert tool.main([cs_root, '--source', 'polygons', '-o', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'pip install cityscapesscripts' in err and 'requirements/optional.txt' in err and '--source labelIds' in err
    assert tool.main([str(tmp_path / 'nope')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    os.makedirs(tmp_path / 'empty' / 'gtFine')
    assert tool.main([str(tmp_path / 'empty')]) == 2
    assert 'holds no' in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ COCO


def test_coco_json_is_valid_coco(coco_root):
    from pycocotools.coco import COCO as PyCOCO
    h, w = COCO['img_size']
    for split, n in (('train', COCO['num_train']), ('val', COCO['num_val'])):
        path = osp.join(coco_root, 'annotations', f'instances_{split}2017.json')
        with open(path) as f:
            data = json.load(f)
        assert set(data) == {'info', 'licenses', 'images', 'annotations', 'categories'}
        assert len(data['images']) == n
        assert [(c['id'], c['name'], c['supercategory']) for c in data['categories']] == list(COCO_CATEGORIES)
        for im in data['images']:
            assert im['file_name'] == f'{im["id"]:012d}.jpg' and (im['height'], im['width']) == (h, w)
            with Image.open(osp.join(coco_root, f'{split}2017', im['file_name'])) as img:
                assert (img.format, img.mode, img.size) == ('JPEG', 'RGB', (w, h))
        ids = [a['id'] for a in data['annotations']]
        assert len(ids) == len(set(ids))
        coco = PyCOCO(path)
        for a in data['annotations']:
            x, y, bw, bh = a['bbox']
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and bw >= 1 and bh >= 1
            assert a['area'] > 0 and a['iscrowd'] in (0, 1)
            assert a['category_id'] in {1, 3, 6, 13, 37, 72}
            mask = coco.annToMask(a)
            assert abs(int(mask.sum()) - a['area']) <= 1
            if a['iscrowd']:
                assert set(a['segmentation']) == {'counts', 'size'}
            else:
                assert isinstance(a['segmentation'], list) and len(a['segmentation'][0]) >= 6
    with open(osp.join(coco_root, 'annotations', 'instances_train2017.json')) as f:
        train = json.load(f)
    assert any(a['iscrowd'] for a in train['annotations'])
    assert {a['category_id'] for a in train['annotations']} == {1, 3, 6, 13, 37, 72}


def test_coco_loads_in_mmdet_and_gt_scores_ap_1(coco_root):
    import torch
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = _upstream_cfg('mmdet', 'coco_detection.py')
    train_cfg, val_cfg = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    train_cfg.data_root = val_cfg.data_root = coco_root + '/'
    train, val = DATASETS.build(train_cfg), DATASETS.build(val_cfg)
    assert (len(train), len(val)) == (COCO['num_train'], COCO['num_val'])
    assert len(train.metainfo['classes']) == 80
    real_ids = [c[0] for c in COCO_CATEGORIES]
    assert train.cat_ids == real_ids
    label_of = {name: train.cat2label[cid] for cid, name, _ in COCO_CATEGORIES if name in COCO_SAMPLE_CLASSES}
    assert label_of == {'person': 0, 'car': 2, 'bus': 5, 'stop sign': 11, 'sports ball': 32, 'tv': 62}
    sample = train[0]
    assert sample['inputs'].shape[0] == 3
    labels = sample['data_samples'].gt_instances.labels
    assert len(labels) >= 1 and set(labels.tolist()) <= set(label_of.values())

    metric = CocoMetric(ann_file=osp.join(coco_root, 'annotations', 'instances_val2017.json'), metric='bbox')
    metric.dataset_meta = val.metainfo
    results = []
    for i in range(len(val)):
        info = val.get_data_info(i)
        keep = [inst for inst in info['instances'] if not inst['ignore_flag']]
        results.append(dict(img_id=info['img_id'], ori_shape=(info['height'], info['width']),
                            pred_instances=dict(bboxes=torch.tensor([k['bbox'] for k in keep]).reshape(-1, 4),
                                                scores=torch.ones(len(keep)),
                                                labels=torch.tensor([k['bbox_label'] for k in keep]))))
    metric.process({}, results)
    ap = metric.compute_metrics(metric.results)
    assert ap['bbox_mAP'] == pytest.approx(1.0) and ap['bbox_mAP_50'] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------ ImageNet


def test_imagenet_layout_and_mmpretrain(in_root):
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    from mmpretrain.registry import DATASETS
    init_default_scope('mmpretrain')
    n_cls = 10
    cfg = _upstream_cfg('mmpretrain', 'imagenet_bs32.py')
    train_cfg, val_cfg = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    train_cfg.data_root = val_cfg.data_root = in_root
    train, val = DATASETS.build(train_cfg), DATASETS.build(val_cfg)
    assert (len(train), len(val)) == (IN['num_train'], IN['num_val'])
    assert len(train.CLASSES) == 1000
    used = IMAGENET_SAMPLE_CLASSES[:n_cls]
    assert sorted(set(train.get_gt_labels().tolist())) == sorted(c[1] for c in used)
    # the indices are the real ImageNet-1k ones: check names against mmpretrain's category list
    expect = {'n01443537': 'goldfish', 'n02391049': 'zebra', 'n04146614': 'school bus', 'n07753592': 'banana'}
    for wnid, index, _, _ in used:
        if wnid in expect:
            assert IMAGENET_CATEGORIES[index].startswith(expect[wnid])
        paths = [train.get_data_info(i)['img_path'] for i in range(len(train)) if train.get_gt_labels()[i] == index]
        assert len(paths) == IN['num_train'] // n_cls
        assert all(osp.basename(osp.dirname(p)) == wnid for p in paths)
    with open(osp.join(in_root, 'meta', 'val.txt')) as f:
        first = f.readline().split()
    assert first == ['ILSVRC2012_val_00000001.JPEG', str(used[0][1])]
    assert sorted(os.listdir(osp.join(in_root, 'val')))[0] == 'ILSVRC2012_val_00000001.JPEG'
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, 224, 224)
    assert int(sample['data_samples'].gt_label) == used[0][1]
    assert tuple(val[3]['inputs'].shape) == (3, 224, 224)


def test_imagenet_is_learnable_from_colour_histograms(in_root):
    """A linear classifier on colour histograms beats chance by far (a CNN also sees the shapes)."""
    def feats(split):
        xs, ys = [], []
        with open(osp.join(in_root, 'meta', f'{split}.txt')) as f:
            for line in f:
                rel, label = line.split()
                img = np.asarray(Image.open(osp.join(in_root, split, rel)), np.int64) // 64
                hist = np.bincount((img[..., 0] * 16 + img[..., 1] * 4 + img[..., 2]).ravel(), minlength=64)
                xs.append(hist / hist.sum())
                ys.append(int(label))
        return np.stack(xs), np.asarray(ys)

    # softmax regression on sqrt colour histograms (4 bins per channel), plain gradient descent
    x, y = feats('train')
    xv, yv = feats('val')
    classes = sorted(set(y.tolist()))
    yi, yvi = np.searchsorted(classes, y), np.searchsorted(classes, yv)
    x, xv = np.sqrt(x), np.sqrt(xv)
    weights = np.zeros((x.shape[1], len(classes)))
    for _ in range(500):
        z = x @ weights
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(yi)), yi] -= 1
        weights -= x.T @ p / len(yi)
    acc = (np.argmax(xv @ weights, 1) == yvi).mean()
    assert acc >= 0.5, acc  # chance is 1 / 10


# ------------------------------------------------------------------------------------------ determinism, CLI


@pytest.mark.parametrize('maker,kwargs', [
    (make_cityscapes, dict(num_train=3, num_val=2, img_size=(64, 128))),
    (make_coco, dict(num_train=6, num_val=2, img_size=(64, 96))),
    (make_imagenet, dict(num_train=6, num_val=3, img_size=(48, 48))),
])
def test_deterministic_by_seed(maker, kwargs, tmp_path):
    maker(str(tmp_path / 'a'), seed=3, **kwargs)
    maker(str(tmp_path / 'b'), seed=3, **kwargs)
    maker(str(tmp_path / 'c'), seed=4, **kwargs)
    a, b, c = (_tree_digest(str(tmp_path / k)) for k in 'abc')
    assert len(a) > 5 and a == b
    assert a.keys() == c.keys() and a != c
    # image i depends only on (seed, split, i): fewer images = a prefix of the same files
    maker(str(tmp_path / 'd'), seed=3, **dict(kwargs, num_train=2))
    d = _tree_digest(str(tmp_path / 'd'))
    imgs = [k for k in d if k.endswith(('.png', '.jpg', '.JPEG'))]
    assert imgs and all(d[k] == a[k] for k in imgs)
    # rerunning into its own output replaces it (no stale files); a foreign folder is refused
    maker(str(tmp_path / 'a'), seed=3, **dict(kwargs, num_train=1))
    assert len(_tree_digest(str(tmp_path / 'a'))) < len(a)
    os.makedirs(tmp_path / 'real')
    (tmp_path / 'real' / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='refusing'):
        maker(str(tmp_path / 'real'), **kwargs)
    assert (tmp_path / 'real' / 'keep.txt').read_text() == 'x'


def test_bad_generator_arguments(tmp_path):
    with pytest.raises(ValueError, match='img_size'):
        make_cityscapes(str(tmp_path / 'x'), img_size=(16, 16))
    with pytest.raises(ValueError, match='num_train'):
        make_coco(str(tmp_path / 'x'), num_train=-1)
    with pytest.raises(ValueError, match='classes'):
        make_coco(str(tmp_path / 'x'), classes=['unicorn'])
    with pytest.raises(ValueError, match='num_classes'):
        make_imagenet(str(tmp_path / 'x'), num_classes=1)
    with pytest.raises(ValueError, match='seed'):
        make_imagenet(str(tmp_path / 'x'), seed=-1)


def test_cli(tmp_path, capsys):
    cli = _load_tool('tools/misc/make_sample_data.py')
    out = str(tmp_path / 'data')
    assert cli.main(['all', '--out', out, '--num-train', '3', '--num-val', '2', '--size', '96', '64']) == 0
    printed = capsys.readouterr().out
    for name in ('cityscapes', 'coco', 'imagenet'):
        assert f'{name}: wrote 3 train, 2 val images to {osp.join(out, name)}' in printed
    img = glob.glob(osp.join(out, 'cityscapes', 'leftImg8bit', 'train', '*', '*.png'))[0]
    assert Image.open(img).size == (96, 64)  # --size is W H
    assert cli.main(['coco', '--out', osp.join(out, 'imagenet')]) == 2
    assert 'refusing' in capsys.readouterr().err
    assert cli.main(['coco', '--out', str(tmp_path / 'z'), '--size', '8', '8']) == 2
    assert '--size' in capsys.readouterr().err
    args = cli.parse_args(['imagenet'])
    assert args.out is None and cli.DEFAULT_OUT['imagenet'] == 'data/imagenet'


def test_cli_runs_as_script(tmp_path):
    import subprocess
    out = str(tmp_path / 'cs')
    res = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'misc', 'make_sample_data.py'), 'cityscapes',
                          '--out', out, '--num-train', '1', '--num-val', '1', '--size', '64', '32'],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'cityscapes: wrote 1 train, 1 val images' in res.stdout


def test_import_mmv3_does_not_import_the_generator():
    """The generator is test/demo machinery (mmv3.testing): importing the model zoo leaves it out."""
    import subprocess
    code = ('import sys, mmv3, mmv3.datasets; '
            'print(sorted(m for m in sys.modules if m.startswith("mmv3.testing")))')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO, timeout=300,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == '[]'
    import mmv3.datasets
    assert not hasattr(mmv3.datasets, 'make_cityscapes')
