"""Small, learnable sample datasets in the exact on-disk formats of Cityscapes, COCO and ImageNet.

The real datasets cannot be downloaded on every machine (they need registration and are tens of
GB), so these generators write tiny stand-ins that the **unmodified** toolbox dataset classes read
exactly like the real thing: mmseg ``CityscapesDataset``, mmdet ``CocoDataset`` + ``CocoMetric``,
mmpretrain ``ImageNet``. Their content is synthetic but learnable: every class has its own colour,
texture and size, so a short training run shows a falling loss and a metric clearly above chance.

Every generator is deterministic: the same arguments (and the same Pillow/zlib/libjpeg versions)
give byte-identical files. Image ``i`` of a split depends only on ``(seed, split, i)``, so asking
for more images keeps the first ones unchanged.

A generator refuses to write into an existing non-empty directory unless the same generator
wrote it before (it holds ``mmv3_sample.json`` naming that dataset); it then replaces its own
split folders, so a real dataset is never overwritten and reruns leave no stale files.

Layouts written (``<root>`` = the ``root`` argument)::

    cityscapes: <root>/leftImg8bit/{train,val}/<city>/<city>_<seq>_000019_leftImg8bit.png
                <root>/gtFine/{train,val}/<city>/<city>_<seq>_000019_gtFine_{labelTrainIds,labelIds,
                    color,instanceIds}.png + ..._gtFine_polygons.json
    coco:       <root>/annotations/instances_{train,val}2017.json, <root>/{train,val}2017/<12-digit id>.jpg
    imagenet:   <root>/train/<wnid>/<wnid>_<k>.JPEG, <root>/val/ILSVRC2012_val_<8-digit>.JPEG,
                <root>/meta/{train,val}.txt   ("<relative path> <class index>" per line)
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image, ImageDraw

from mmv3.datasets.cityscapes_labels import ID2LABEL, NAME2LABEL

__all__ = ['make_cityscapes', 'make_coco', 'make_imagenet', 'COCO_CATEGORIES', 'COCO_SAMPLE_CLASSES',
           'IMAGENET_SAMPLE_CLASSES', 'CITYSCAPES_TRAIN_CITIES', 'CITYSCAPES_VAL_CITIES']

MARKER = 'mmv3_sample.json'
_SPLIT_CODE = {'train': 0, 'val': 1}

# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


def _rng(seed, split, index):
    """The random generator of one image: depends only on (seed, split, index)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    return np.random.default_rng([int(seed), _SPLIT_CODE[split], int(index)])


def _check_size(img_size, name='img_size'):
    if (not isinstance(img_size, (tuple, list)) or len(img_size) != 2
            or not all(isinstance(v, (int, np.integer)) and v >= 32 for v in img_size)):
        raise ValueError(f'{name} must be (height, width) with both ints >= 32, got {img_size!r}')
    return int(img_size[0]), int(img_size[1])


def _check_count(value, name, minimum=0):
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}')
    return int(value)


def _prepare_root(root, owned, dataset):
    """Create ``root``; refuse a non-empty directory we did not write for ``dataset``; clear our folders."""
    root = osp.abspath(root)
    marker = osp.join(root, MARKER)
    if osp.isdir(root) and os.listdir(root):
        previous = None
        if osp.isfile(marker):
            with open(marker) as f:
                previous = json.load(f).get('dataset')
        if previous != dataset:
            what = (f'holds the {previous} sample' if previous else
                    f'was not written by make_sample_data.py (no {MARKER})')
            raise FileExistsError(
                f'{root} exists, is not empty and {what}; refusing to write the {dataset} sample '
                'into it. Choose another --out or delete the directory.')
    for name in owned:
        path = osp.join(root, name)
        if osp.isdir(path):
            shutil.rmtree(path)
    os.makedirs(root, exist_ok=True)
    return root


def _write_marker(root, **info):
    with open(osp.join(root, MARKER), 'w') as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write('\n')


def _save_png(path, array, mode=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path, format='PNG', compress_level=6)


def _save_jpeg(path, rgb):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(rgb, 'RGB').save(path, format='JPEG', quality=90, subsampling=0)


def _texture(kind, xs, ys, period, rng):
    """A texture in [-1, 1] sampled at pixel coordinates ``xs, ys`` (1-D int arrays)."""
    p = max(2.0, float(period))
    if kind == 'flat':
        return np.zeros(xs.shape, np.float32)
    if kind == 'hstripe':
        return np.where((ys // (p / 2)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if kind == 'vstripe':
        return np.where((xs // (p / 2)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if kind == 'diag':
        return np.where(((xs + ys) // (p / 2)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if kind == 'checker':
        return np.where(((xs // p) + (ys // p)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if kind == 'grid':  # "windows": bright squares on a darker frame
        return np.where(((xs % p) < p * 0.6) & ((ys % p) < p * 0.6), 1.0, -1.0).astype(np.float32)
    if kind == 'noise':
        return np.clip(rng.standard_normal(xs.shape), -2, 2).astype(np.float32) / 2
    raise ValueError(f'unknown texture {kind!r}')


def _paint(canvas, mask, color, kind, amp, period, rng):
    """Fill ``canvas`` (HxWx3 float) where ``mask`` with ``color + amp * texture``."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return
    tex = _texture(kind, xs, ys, period, rng)
    canvas[ys, xs] = np.asarray(color, np.float32)[None] + amp * tex[:, None]


def _finish(canvas, rng, gain=(0.9, 1.1), noise=4.0):
    """Global brightness, sensor noise, clip to uint8."""
    out = canvas * rng.uniform(*gain) + rng.normal(0.0, noise, canvas.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _polygon_mask(h, w, polygon):
    img = Image.new('L', (w, h), 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in polygon], fill=1)
    return np.asarray(img, dtype=bool)


def _ellipse(cx, cy, rx, ry, n=24, phase=0.0):
    t = phase + np.arange(n) * 2 * np.pi / n
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _regular(cx, cy, r, n, phase=0.0):
    return _ellipse(cx, cy, r, r, n=n, phase=phase)


def _star(cx, cy, r_out, r_in, n=8):
    t = np.arange(2 * n) * np.pi / n
    r = np.where(np.arange(2 * n) % 2 == 0, r_out, r_in)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)


# --------------------------------------------------------------------------------------------
# Cityscapes
# --------------------------------------------------------------------------------------------

#: Real Cityscapes city names (train / val splits of gtFine).
CITYSCAPES_TRAIN_CITIES = ('aachen', 'bochum', 'bremen', 'cologne', 'darmstadt', 'dusseldorf')
CITYSCAPES_VAL_CITIES = ('frankfurt', 'lindau', 'munster')

# Appearance of each drawn label id in the synthetic photo: (RGB, texture, amplitude, period as a
# fraction of the image height). The class decides colour and texture; the scene layout decides
# place and size.
_CS_LOOK = {
    'road': ((95, 90, 105), 'noise', 14, 0.0),
    'sidewalk': ((205, 150, 195), 'checker', 22, 0.035),
    'building': ((150, 110, 80), 'grid', 30, 0.05),
    'wall': ((120, 120, 175), 'hstripe', 18, 0.025),
    'fence': ((205, 175, 150), 'vstripe', 40, 0.02),
    'pole': ((165, 165, 165), 'flat', 0, 0.0),
    'traffic light': ((250, 175, 30), 'hstripe', 40, 0.02),
    'traffic sign': ((235, 235, 10), 'flat', 0, 0.0),
    'vegetation': ((55, 140, 40), 'noise', 45, 0.0),
    'terrain': ((150, 230, 140), 'diag', 22, 0.03),
    'sky': ((115, 170, 235), 'flat', 0, 0.0),
    'person': ((225, 35, 75), 'hstripe', 30, 0.015),
    'rider': ((255, 95, 0), 'vstripe', 30, 0.015),
    'car': ((25, 35, 175), 'flat', 0, 0.0),
    'truck': ((25, 25, 95), 'hstripe', 28, 0.03),
    'bus': ((0, 115, 135), 'grid', 30, 0.04),
    'train': ((40, 125, 90), 'vstripe', 30, 0.04),
    'motorcycle': ((70, 70, 255), 'checker', 35, 0.012),
    'bicycle': ((145, 20, 55), 'diag', 35, 0.012),
    'ego vehicle': ((30, 30, 30), 'flat', 0, 0.0),
    'static': ((95, 65, 45), 'flat', 0, 0.0),
    'parking': ((185, 145, 145), 'hstripe', 20, 0.03),
}


def _cityscapes_scene(rng, h, w):
    """The scene as cityscapes polygons, in drawing order: list of (label name, Nx2 int array)."""
    objs = []

    def add(name, poly):
        poly = np.rint(np.asarray(poly, np.float64))
        poly[:, 0] = np.clip(poly[:, 0], 0, w - 1)
        poly[:, 1] = np.clip(poly[:, 1], 0, h - 1)
        objs.append((name, poly.astype(np.int64)))

    horizon = rng.uniform(0.30, 0.40) * h
    ground = rng.uniform(0.52, 0.60) * h
    # background layers
    add('sky', _rect(0, 0, w - 1, ground))
    x = 0.0
    while x < w:
        seg = rng.uniform(0.08, 0.25) * w
        kind = rng.choice(['building', 'building', 'vegetation', 'wall'])
        if kind == 'building':
            top = horizon - rng.uniform(0.05, 0.28) * h
            add('building', _rect(x, top, x + seg, ground))
        elif kind == 'vegetation':
            n = 7
            xs = np.linspace(x, x + seg, n)
            tops = horizon - rng.uniform(0.0, 0.2, n) * h
            add('vegetation', np.concatenate([np.stack([xs, tops], 1), [[x + seg, ground], [x, ground]]]))
        else:
            add('building', _rect(x, horizon - rng.uniform(0.05, 0.2) * h, x + seg, ground))
            add('wall', _rect(x, ground - rng.uniform(0.06, 0.1) * h, x + seg, ground))
        x += seg
    # ground: sidewalk everywhere, road trapezoid in the middle, optional terrain / parking patches
    add('sidewalk', _rect(0, ground, w - 1, h - 1))
    vp = rng.uniform(0.4, 0.6) * w
    half_top = rng.uniform(0.06, 0.12) * w
    add('road', [[rng.uniform(-0.3, 0.1) * w, h - 1], [rng.uniform(0.9, 1.3) * w, h - 1],
                 [vp + half_top, ground], [vp - half_top, ground]])
    if rng.random() < 0.7:
        side = rng.random() < 0.5
        x0 = 0 if side else w * 0.85
        add('terrain', [[x0, ground + 0.02 * h], [x0 + 0.15 * w, ground + 0.02 * h],
                        [x0 + 0.15 * w, ground + 0.2 * h], [x0, ground + 0.3 * h]])
    if rng.random() < 0.3:
        x0 = rng.uniform(0.05, 0.25) * w if rng.random() < 0.5 else rng.uniform(0.7, 0.85) * w
        add('parking', _rect(x0, ground + 0.04 * h, x0 + 0.08 * w, ground + 0.09 * h))
    if rng.random() < 0.6:
        x0 = rng.uniform(0.0, 0.6) * w
        add('fence', _rect(x0, ground - rng.uniform(0.05, 0.09) * h, x0 + rng.uniform(0.15, 0.35) * w,
                           ground + 0.01 * h))
    if rng.random() < 0.3:
        x0 = rng.uniform(0.1, 0.8) * w
        add('static', _rect(x0, ground - 0.05 * h, x0 + 0.04 * w, ground + 0.01 * h))

    # foreground things, sorted far (small bottom y) to near
    things = []
    for _ in range(rng.integers(1, 4)):  # poles with signs / lights on the sidewalk
        things.append(('pole', rng.choice([rng.uniform(0.02, 0.25), rng.uniform(0.75, 0.97)]) * w,
                       ground + rng.uniform(0.02, 0.12) * h))
    for _ in range(rng.integers(1, 5)):
        things.append(('car', rng.uniform(0.25, 0.75) * w, ground + rng.uniform(0.1, 0.35) * h))
    for _ in range(rng.integers(1, 4)):
        things.append(('person', rng.choice([rng.uniform(0.03, 0.3), rng.uniform(0.7, 0.97)]) * w,
                       ground + rng.uniform(0.05, 0.3) * h))
    for name, prob in (('truck', 0.4), ('bus', 0.35), ('train', 0.25), ('motorcycle', 0.4),
                       ('bicycle', 0.45)):
        if rng.random() < prob:
            things.append((name, rng.uniform(0.3, 0.7) * w, ground + rng.uniform(0.08, 0.3) * h))
    things.sort(key=lambda t: t[2])
    for name, cx, bottom in things:
        s = 0.6 + 0.8 * (bottom - ground) / max(h - ground, 1)  # perspective: nearer is bigger
        if name == 'pole':
            pw = max(2.0, 0.006 * w * s)
            top = horizon - rng.uniform(0.0, 0.12) * h
            add('pole', _rect(cx - pw / 2, top, cx + pw / 2, bottom))
            r = rng.random()
            if r < 0.5:
                sw = 0.03 * w * s
                if rng.random() < 0.5:
                    add('traffic sign', _rect(cx - sw / 2, top - sw * 0.9, cx + sw / 2, top + sw * 0.1))
                else:
                    add('traffic sign', [[cx - sw / 2, top], [cx + sw / 2, top], [cx, top - sw]])
            else:
                lw = 0.015 * w * s
                add('traffic light', _rect(cx - lw / 2, top - 3 * lw, cx + lw / 2, top))
        elif name in ('car', 'truck', 'bus', 'train'):
            bw, bh = {'car': (0.13, 0.09), 'truck': (0.18, 0.17), 'bus': (0.24, 0.2),
                      'train': (0.4, 0.19)}[name]
            bw, bh = bw * w * s, bh * h * s
            if name == 'car':  # a car has a cabin on top
                add('car', [[cx - bw / 2, bottom], [cx + bw / 2, bottom], [cx + bw / 2, bottom - bh * 0.55],
                            [cx + bw * 0.3, bottom - bh * 0.55], [cx + bw * 0.2, bottom - bh],
                            [cx - bw * 0.25, bottom - bh], [cx - bw * 0.35, bottom - bh * 0.55],
                            [cx - bw / 2, bottom - bh * 0.55]])
            else:
                add(name, _rect(cx - bw / 2, bottom - bh, cx + bw / 2, bottom))
        elif name == 'person':
            pw, ph = 0.022 * w * s, 0.15 * h * s
            add('person', [[cx - pw / 2, bottom], [cx + pw / 2, bottom], [cx + pw / 2, bottom - ph * 0.8],
                           [cx + pw * 0.3, bottom - ph * 0.8], [cx + pw * 0.3, bottom - ph],
                           [cx - pw * 0.3, bottom - ph], [cx - pw * 0.3, bottom - ph * 0.8],
                           [cx - pw / 2, bottom - ph * 0.8]])
        else:  # motorcycle / bicycle with a rider on it
            bw, bh = (0.06, 0.05) if name == 'motorcycle' else (0.045, 0.045)
            bw, bh = bw * w * s, bh * h * s
            add(name, _rect(cx - bw / 2, bottom - bh, cx + bw / 2, bottom))
            rw, rh = 0.02 * w * s, 0.09 * h * s
            add('rider', _rect(cx - rw / 2, bottom - bh - rh, cx + rw / 2, bottom - bh * 0.5))
    # the ego vehicle's bonnet at the bottom, as in every Cityscapes frame
    bonnet = np.concatenate([[[0, h - 1]], _ellipse(w / 2, h - 1, w * 0.6, 0.08 * h, n=16, phase=np.pi)[:9],
                             [[w - 1, h - 1]]])
    add('ego vehicle', bonnet)
    return objs


def _render_labels(objs, h, w):
    """Label images exactly as cityscapesscripts' json2labelImg / json2instanceImg draw them."""
    ids = Image.new('L', (w, h), NAME2LABEL['unlabeled'].id)
    train_ids = Image.new('L', (w, h), NAME2LABEL['unlabeled'].train_id)
    color = Image.new('RGBA', (w, h), NAME2LABEL['unlabeled'].color)
    inst = Image.new('I', (w, h), NAME2LABEL['unlabeled'].id)
    draws = [ImageDraw.Draw(im) for im in (ids, train_ids, color, inst)]
    counts = {}
    for name, poly in objs:
        label = NAME2LABEL[name]
        pts = [tuple(int(v) for v in p) for p in poly]
        instance = label.id
        if label.has_instances:
            instance = label.id * 1000 + counts.get(name, 0)
            counts[name] = counts.get(name, 0) + 1
        for draw, value in zip(draws, (label.id, label.train_id, label.color, instance)):
            draw.polygon(pts, fill=value)
    return (np.asarray(ids), np.asarray(train_ids), np.asarray(color),
            np.asarray(inst, dtype=np.int32).astype(np.uint16))


def _render_cityscapes_image(label_ids, h, rng):
    canvas = np.zeros(label_ids.shape + (3, ), np.float32)
    for label_id in np.unique(label_ids):
        name = ID2LABEL[int(label_id)].name
        rgb, kind, amp, period = _CS_LOOK.get(name, ((0, 0, 0), 'flat', 0, 0.0))
        _paint(canvas, label_ids == label_id, rgb, kind, amp, period * h, rng)
    return _finish(canvas, rng)


def make_cityscapes(root='data/cityscapes', num_train=20, num_val=10, img_size=(256, 512), seed=0):
    """Write a Cityscapes-format sample (gtFine + leftImg8bit) under ``root``.

    Street scenes: sky on top, buildings / vegetation / walls at the horizon, sidewalk and a road
    trapezoid below, poles with traffic signs and lights, cars, trucks, buses, trains, persons,
    and riders on motorcycles / bicycles, the ego vehicle's bonnet at the bottom. All 19 train
    classes occur, plus void labels (ego vehicle, static, parking) that map to 255. Every class
    has its own colour and texture; object size follows perspective.

    For every frame it writes what the real gtFine has: ``_gtFine_polygons.json`` (the polygons,
    drawing order = painter's order), ``_gtFine_labelIds.png`` (Cityscapes label ids 0..33),
    ``_gtFine_labelTrainIds.png`` (train ids 0..18, 255 = ignore; what mmseg reads),
    ``_gtFine_color.png`` (RGBA palette) and ``_gtFine_instanceIds.png`` (16-bit,
    ``id * 1000 + k`` for instance classes). The label images are rendered from the polygons
    the same way cityscapesscripts' ``json2labelImg`` renders them, so
    ``tools/dataset_converters/cityscapes.py`` reproduces ``labelTrainIds`` from either source.

    Args:
        root (str): Output directory. Defaults to ``'data/cityscapes'``.
        num_train (int): Frames in ``train`` (cities aachen, bochum, ...). Defaults to 20.
        num_val (int): Frames in ``val`` (frankfurt, lindau, munster). Defaults to 10.
        img_size (tuple[int, int]): ``(height, width)``; the real data is (1024, 2048).
            Defaults to ``(256, 512)``.
        seed (int): Random seed. Defaults to 0.

    Returns:
        dict: ``root``, ``splits`` (split -> number of frames) and ``files`` (number written).
    """
    h, w = _check_size(img_size)
    counts = dict(train=_check_count(num_train, 'num_train'), val=_check_count(num_val, 'num_val'))
    root = _prepare_root(root, ['leftImg8bit', 'gtFine'], 'cityscapes')
    files = 0
    for split, n in counts.items():
        cities = CITYSCAPES_TRAIN_CITIES if split == 'train' else CITYSCAPES_VAL_CITIES
        for i in range(n):
            rng = _rng(seed, split, i)
            city = cities[i % len(cities)]
            stem = f'{city}_{i // len(cities):06d}_000019'
            objs = _cityscapes_scene(rng, h, w)
            ids, train_ids, color, inst = _render_labels(objs, h, w)
            img = _render_cityscapes_image(ids, h, rng)
            img_dir = osp.join(root, 'leftImg8bit', split, city)
            gt_dir = osp.join(root, 'gtFine', split, city)
            _save_png(osp.join(img_dir, f'{stem}_leftImg8bit.png'), img, 'RGB')
            _save_png(osp.join(gt_dir, f'{stem}_gtFine_labelTrainIds.png'), train_ids, 'L')
            _save_png(osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'), ids, 'L')
            _save_png(osp.join(gt_dir, f'{stem}_gtFine_color.png'), color, 'RGBA')
            _save_png(osp.join(gt_dir, f'{stem}_gtFine_instanceIds.png'), inst)
            polygons = dict(imgHeight=h, imgWidth=w,
                            objects=[dict(label=name, polygon=poly.tolist()) for name, poly in objs])
            with open(osp.join(gt_dir, f'{stem}_gtFine_polygons.json'), 'w') as f:
                json.dump(polygons, f, indent=4)
            files += 6
    _write_marker(root, dataset='cityscapes', num_train=counts['train'], num_val=counts['val'],
                  img_size=[h, w], seed=int(seed))
    return dict(root=root, splits=counts, files=files)


# --------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------

#: The 80 COCO 2017 categories: (id, name, supercategory), ids 1..90 with the real gaps.
COCO_CATEGORIES = (
    (1, 'person', 'person'), (2, 'bicycle', 'vehicle'), (3, 'car', 'vehicle'),
    (4, 'motorcycle', 'vehicle'), (5, 'airplane', 'vehicle'), (6, 'bus', 'vehicle'),
    (7, 'train', 'vehicle'), (8, 'truck', 'vehicle'), (9, 'boat', 'vehicle'),
    (10, 'traffic light', 'outdoor'), (11, 'fire hydrant', 'outdoor'), (13, 'stop sign', 'outdoor'),
    (14, 'parking meter', 'outdoor'), (15, 'bench', 'outdoor'), (16, 'bird', 'animal'),
    (17, 'cat', 'animal'), (18, 'dog', 'animal'), (19, 'horse', 'animal'), (20, 'sheep', 'animal'),
    (21, 'cow', 'animal'), (22, 'elephant', 'animal'), (23, 'bear', 'animal'), (24, 'zebra', 'animal'),
    (25, 'giraffe', 'animal'), (27, 'backpack', 'accessory'), (28, 'umbrella', 'accessory'),
    (31, 'handbag', 'accessory'), (32, 'tie', 'accessory'), (33, 'suitcase', 'accessory'),
    (34, 'frisbee', 'sports'), (35, 'skis', 'sports'), (36, 'snowboard', 'sports'),
    (37, 'sports ball', 'sports'), (38, 'kite', 'sports'), (39, 'baseball bat', 'sports'),
    (40, 'baseball glove', 'sports'), (41, 'skateboard', 'sports'), (42, 'surfboard', 'sports'),
    (43, 'tennis racket', 'sports'), (44, 'bottle', 'kitchen'), (46, 'wine glass', 'kitchen'),
    (47, 'cup', 'kitchen'), (48, 'fork', 'kitchen'), (49, 'knife', 'kitchen'), (50, 'spoon', 'kitchen'),
    (51, 'bowl', 'kitchen'), (52, 'banana', 'food'), (53, 'apple', 'food'), (54, 'sandwich', 'food'),
    (55, 'orange', 'food'), (56, 'broccoli', 'food'), (57, 'carrot', 'food'), (58, 'hot dog', 'food'),
    (59, 'pizza', 'food'), (60, 'donut', 'food'), (61, 'cake', 'food'), (62, 'chair', 'furniture'),
    (63, 'couch', 'furniture'), (64, 'potted plant', 'furniture'), (65, 'bed', 'furniture'),
    (67, 'dining table', 'furniture'), (70, 'toilet', 'furniture'), (72, 'tv', 'electronic'),
    (73, 'laptop', 'electronic'), (74, 'mouse', 'electronic'), (75, 'remote', 'electronic'),
    (76, 'keyboard', 'electronic'), (77, 'cell phone', 'electronic'), (78, 'microwave', 'appliance'),
    (79, 'oven', 'appliance'), (80, 'toaster', 'appliance'), (81, 'sink', 'appliance'),
    (82, 'refrigerator', 'appliance'), (84, 'book', 'indoor'), (85, 'clock', 'indoor'),
    (86, 'vase', 'indoor'), (87, 'scissors', 'indoor'), (88, 'teddy bear', 'indoor'),
    (89, 'hair drier', 'indoor'), (90, 'toothbrush', 'indoor'),
)

#: The annotated categories of the sample: name -> (shape, RGB, texture, amplitude, period as a
#: fraction of min(h, w), size range as a fraction of min(h, w), height / width).
COCO_SAMPLE_CLASSES = {
    'person': ('ellipse', (220, 40, 60), 'hstripe', 35, 0.04, (0.10, 0.14), 2.6),
    'car': ('car', (30, 60, 200), 'flat', 0, 0.0, (0.26, 0.36), 0.5),
    'bus': ('rect', (240, 200, 20), 'vstripe', 40, 0.06, (0.46, 0.6), 0.55),
    'stop sign': ('octagon', (205, 10, 10), 'flat', 0, 0.0, (0.13, 0.19), 1.0),
    'sports ball': ('circle', (245, 245, 245), 'checker', 90, 0.03, (0.06, 0.09), 1.0),
    'tv': ('rect', (40, 40, 60), 'diag', 40, 0.04, (0.24, 0.32), 0.65),
}


def _coco_shape(shape, cx, cy, bw, bh):
    if shape == 'ellipse':
        return _ellipse(cx, cy, bw / 2, bh / 2, n=24)
    if shape == 'circle':
        return _ellipse(cx, cy, bw / 2, bh / 2, n=20)
    if shape == 'octagon':
        return _regular(cx, cy, bw / 2, 8, phase=np.pi / 8)
    if shape == 'rect':
        return _rect(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
    if shape == 'car':
        x0, x1, y0, y1 = cx - bw / 2, cx + bw / 2, cy - bh / 2, cy + bh / 2
        return np.array([[x0, y1], [x1, y1], [x1, y0 + bh * 0.45], [cx + bw * 0.28, y0 + bh * 0.45],
                         [cx + bw * 0.18, y0], [cx - bw * 0.22, y0], [cx - bw * 0.32, y0 + bh * 0.45],
                         [x0, y0 + bh * 0.45]])
    raise ValueError(shape)


def _uncompressed_rle(mask):
    """COCO's uncompressed RLE (column-major run lengths, starting with a run of zeros)."""
    flat = np.asarray(mask, np.uint8).flatten(order='F')
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0] + runs
    return dict(counts=[int(r) for r in runs], size=[int(mask.shape[0]), int(mask.shape[1])])


def _coco_image(rng, h, w, classes, img_id):
    s = min(h, w)
    canvas = np.zeros((h, w, 3), np.float32)
    # textured background: a random pale colour, a gentle gradient and a random weak pattern
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.uniform(90, 190, 3)
    grad = rng.uniform(-25, 25, 3)
    canvas[:] = base + grad * (yy / h)[..., None]
    kind = rng.choice(['hstripe', 'vstripe', 'diag', 'checker', 'noise'])
    tex = _texture(str(kind), xx.ravel(), yy.ravel(), rng.uniform(0.03, 0.1) * s, rng).reshape(h, w)
    canvas += rng.uniform(5, 15) * tex[..., None]

    anns, boxes = [], []
    num = int(rng.integers(1, 5))
    for _ in range(num):
        name = classes[int(rng.integers(len(classes)))]
        shape, rgb, tkind, amp, period, (lo, hi), aspect = COCO_SAMPLE_CLASSES[name]
        bw = rng.uniform(lo, hi) * s
        bh = bw * aspect * rng.uniform(0.9, 1.1)
        if bh > 0.95 * h:
            bw, bh = bw * 0.95 * h / bh, 0.95 * h
        for _try in range(20):  # avoid heavy overlap with earlier objects
            cx = rng.uniform(bw / 2, w - bw / 2)
            cy = rng.uniform(bh / 2, h - bh / 2)
            box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
            if all(_iou(box, b) < 0.2 for b in boxes):
                break
        else:
            continue
        boxes.append(box)
        poly = _coco_shape(shape, cx, cy, bw, bh)
        poly = np.round(np.clip(poly, 0, [w - 1, h - 1]), 2)
        mask = _polygon_mask(h, w, poly)
        _paint(canvas, mask, np.asarray(rgb) * rng.uniform(0.92, 1.08), tkind, amp, period * s, rng)
        if name == 'stop sign':  # the white bar of a stop sign
            bar = mask & (np.abs(yy - cy) < bh * 0.1) & (np.abs(xx - cx) < bw * 0.32)
            canvas[bar] = 245
        anns.append(dict(category=name, polygon=poly, mask=mask))
    # every sixth image holds a crowd of small persons, annotated once with iscrowd=1 (RLE mask)
    if img_id % 6 == 5:
        crowd = np.zeros((h, w), bool)
        cx0, cy0 = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 0.7) * h
        for _ in range(int(rng.integers(4, 7))):
            px, py = cx0 + rng.uniform(-0.1, 0.1) * s, cy0 + rng.uniform(-0.05, 0.05) * s
            poly = np.clip(_ellipse(px, py, 0.02 * s, 0.05 * s, n=12), 0, [w - 1, h - 1])
            crowd |= _polygon_mask(h, w, poly)
        _paint(canvas, crowd, COCO_SAMPLE_CLASSES['person'][1], 'hstripe', 35, 0.04 * s, rng)
        anns.append(dict(category='person', mask=crowd, crowd=True))
    return _finish(canvas, rng), anns


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def make_coco(root='data/coco', num_train=64, num_val=16, img_size=(240, 320), seed=0, classes=None):
    """Write a COCO-2017-format detection sample under ``root``.

    ``annotations/instances_{train,val}2017.json`` list all 80 real categories (real ids 1..90
    with the real gaps, names and supercategories), so mmdet's ``CocoDataset`` maps them to the
    usual 80 contiguous labels; only ``classes`` are annotated. Each image has 1-4 objects (a
    distinct shape, colour and texture per class, class-specific size) on a textured background,
    with polygon ``segmentation``, ``bbox`` ``[x, y, w, h]`` = the polygon's extent, ``area`` =
    the mask area (pycocotools), ``iscrowd`` 0; every image whose id is 5 mod 6 also has a
    crowd of small persons annotated once with ``iscrowd`` 1 and an uncompressed RLE mask, like
    the real file. Image ids: train ``1..num_train``, val ``1_000_001..``; file names are the
    12-digit zero-padded id, as in COCO.

    Args:
        root (str): Output directory. Defaults to ``'data/coco'``.
        num_train (int): Images in ``train2017``. Defaults to 64.
        num_val (int): Images in ``val2017``. Defaults to 16.
        img_size (tuple[int, int]): ``(height, width)`` of every image. Defaults to ``(240, 320)``.
        seed (int): Random seed. Defaults to 0.
        classes (Sequence[str], optional): Annotated category names, a subset of
            :data:`COCO_SAMPLE_CLASSES` (person, car, bus, stop sign, sports ball, tv;
            category ids 1, 3, 6, 13, 37, 72). Defaults to all six.

    Returns:
        dict: ``root``, ``splits`` (split -> images), ``annotations`` (split -> annotations).
    """
    from pycocotools import mask as mask_utils

    h, w = _check_size(img_size)
    counts = dict(train=_check_count(num_train, 'num_train'), val=_check_count(num_val, 'num_val'))
    classes = tuple(COCO_SAMPLE_CLASSES) if classes is None else tuple(classes)
    bad = [c for c in classes if c not in COCO_SAMPLE_CLASSES]
    if bad or not classes:
        raise ValueError(f'classes must be a non-empty subset of {list(COCO_SAMPLE_CLASSES)}, got {bad or classes}')
    name2id = {name: cid for cid, name, _ in COCO_CATEGORIES}
    root = _prepare_root(root, ['annotations', 'train2017', 'val2017'], 'coco')
    summary = dict(root=root, splits=counts, annotations={})
    for split, n in counts.items():
        first_id = 1 if split == 'train' else 1_000_001
        images, annotations = [], []
        for i in range(n):
            img_id = first_id + i
            rng = _rng(seed, split, i)
            img, anns = _coco_image(rng, h, w, classes, img_id)
            file_name = f'{img_id:012d}.jpg'
            _save_jpeg(osp.join(root, f'{split}2017', file_name), img)
            images.append(dict(license=1, file_name=file_name, coco_url='', height=h, width=w,
                               date_captured='2013-11-14 17:02:52', flickr_url='', id=img_id))
            for k, ann in enumerate(anns):
                if ann.get('crowd'):
                    seg = _uncompressed_rle(ann['mask'])
                    rle = mask_utils.frPyObjects(seg, h, w)
                else:
                    seg = [[float(v) for v in ann['polygon'].ravel()]]
                    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
                x, y, bw, bh = (float(v) for v in mask_utils.toBbox(rle))
                if not ann.get('crowd'):  # polygon extent, as the real annotations do
                    (x0, y0), (x1, y1) = ann['polygon'].min(0), ann['polygon'].max(0)
                    x, y, bw, bh = float(x0), float(y0), float(x1 - x0), float(y1 - y0)
                annotations.append(dict(
                    segmentation=seg, area=float(mask_utils.area(rle)), iscrowd=int(bool(ann.get('crowd'))),
                    image_id=img_id, bbox=[round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)],
                    category_id=name2id[ann['category']], id=img_id * 100 + k))
        data = dict(
            info=dict(description='mmv3 sample data in COCO 2017 format (synthetic)', url='', version='1.0',
                      year=2017, contributor='mmv3 tools/misc/make_sample_data.py',
                      date_created='2017/09/01'),
            licenses=[dict(url='', id=1, name='synthetic sample, no license restrictions')],
            images=images, annotations=annotations,
            categories=[dict(supercategory=sup, id=cid, name=name) for cid, name, sup in COCO_CATEGORIES])
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', f'instances_{split}2017.json'), 'w') as f:
            json.dump(data, f)
        summary['annotations'][split] = len(annotations)
    _write_marker(root, dataset='coco', num_train=counts['train'], num_val=counts['val'], img_size=[h, w],
                  seed=int(seed), classes=list(classes))
    return summary


# --------------------------------------------------------------------------------------------
# ImageNet
# --------------------------------------------------------------------------------------------

#: Sample classes: (wnid, ImageNet-1k class index, shape, RGB). The index is the position of the
#: wnid in the sorted list of the 1000 ILSVRC-2012 synsets, i.e. mmpretrain's label.
IMAGENET_SAMPLE_CLASSES = (
    ('n01443537', 1, 'fish', (255, 130, 0)),           # goldfish
    ('n02007558', 130, 'triangle', (255, 90, 190)),    # flamingo
    ('n02391049', 340, 'stripes', (10, 10, 10)),       # zebra
    ('n02782093', 417, 'balloon', (215, 0, 20)),       # balloon
    ('n02802426', 430, 'cross_circle', (150, 70, 20)),  # basketball
    ('n03445777', 574, 'dotted_circle', (250, 250, 250)),  # golf ball
    ('n04146614', 779, 'bus', (255, 200, 0)),          # school bus
    ('n07742313', 948, 'circle', (70, 210, 30)),       # Granny Smith
    ('n07753592', 954, 'crescent', (240, 245, 110)),   # banana
    ('n09472597', 980, 'volcano', (90, 50, 30)),       # volcano
    ('n11939491', 985, 'daisy', (250, 250, 250)),      # daisy
    ('n09229709', 971, 'ring', (60, 190, 255)),        # bubble
)


def _imagenet_image(rng, h, w, shape, rgb):
    s = min(h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    canvas = np.zeros((h, w, 3), np.float32)
    canvas[:] = rng.uniform(70, 190) + rng.uniform(-20, 20, 3)  # greyish, so the object's colour stands out
    kind = str(rng.choice(['hstripe', 'vstripe', 'diag', 'noise', 'flat']))
    canvas += rng.uniform(5, 20) * _texture(kind, xx.ravel(), yy.ravel(), rng.uniform(0.05, 0.2) * s,
                                            rng).reshape(h, w)[..., None]
    r = rng.uniform(0.24, 0.4) * s
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    color = np.clip(np.asarray(rgb, np.float32) + rng.normal(0, 8, 3), 0, 255)
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), 'RGB')
    d = ImageDraw.Draw(img)
    c = tuple(int(v) for v in color)
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == 'fish':
        d.ellipse([cx - r, cy - r * 0.5, cx + r * 0.6, cy + r * 0.5], fill=c)
        d.polygon([(cx + r * 0.4, cy), (cx + r, cy - r * 0.5), (cx + r, cy + r * 0.5)], fill=c)
    elif shape == 'triangle':
        d.polygon([(cx, cy - r), (cx + r * 0.6, cy + r), (cx - r * 0.6, cy + r)], fill=c)
    elif shape == 'stripes':
        d.rectangle(box, fill=(240, 240, 240))
        k = max(2, int(r / 4))
        for x0 in range(int(cx - r), int(cx + r), 2 * k):
            d.rectangle([x0, cy - r, x0 + k - 1, cy + r], fill=c)
    elif shape == 'balloon':
        d.ellipse([cx - r * 0.8, cy - r, cx + r * 0.8, cy + r * 0.6], fill=c)
        d.line([(cx, cy + r * 0.6), (cx, cy + r)], fill=(60, 60, 60), width=max(1, int(r / 12)))
    elif shape == 'cross_circle':
        d.ellipse(box, fill=c)
        lw = max(1, int(r / 10))
        d.line([(cx - r, cy), (cx + r, cy)], fill=(20, 20, 20), width=lw)
        d.line([(cx, cy - r), (cx, cy + r)], fill=(20, 20, 20), width=lw)
    elif shape == 'dotted_circle':
        r2 = r * 0.6
        d.ellipse([cx - r2, cy - r2, cx + r2, cy + r2], fill=c)
        for ang in np.arange(6) * np.pi / 3:
            px, py = cx + 0.35 * r2 * np.cos(ang), cy + 0.35 * r2 * np.sin(ang)
            d.ellipse([px - r2 * 0.12, py - r2 * 0.12, px + r2 * 0.12, py + r2 * 0.12], fill=(150, 150, 150))
    elif shape == 'bus':
        d.rectangle([cx - r, cy - r * 0.5, cx + r, cy + r * 0.5], fill=c)
        d.rectangle([cx - r * 0.9, cy - r * 0.35, cx + r * 0.9, cy - r * 0.05], fill=(40, 40, 40))
    elif shape == 'circle':
        d.ellipse(box, fill=c)
    elif shape == 'crescent':
        d.ellipse(box, fill=c)
        bg = tuple(int(v) for v in np.clip(canvas[int(cy), int(cx)], 0, 255))
        d.ellipse([cx - r * 0.7, cy - r * 1.2, cx + r * 1.3, cy + r * 0.6], fill=bg)
    elif shape == 'volcano':
        d.polygon([(cx - r, cy + r), (cx + r, cy + r), (cx + r * 0.2, cy - r * 0.7), (cx - r * 0.2, cy - r * 0.7)],
                  fill=c)
        d.polygon([(cx - r * 0.2, cy - r * 0.7), (cx + r * 0.2, cy - r * 0.7), (cx, cy - r)], fill=(240, 40, 0))
    elif shape == 'daisy':
        pts = _star(cx, cy, r, r * 0.45, n=10)
        d.polygon([tuple(p) for p in pts], fill=c)
        d.ellipse([cx - r * 0.3, cy - r * 0.3, cx + r * 0.3, cy + r * 0.3], fill=(250, 200, 0))
    elif shape == 'ring':
        d.ellipse(box, outline=c, width=max(2, int(r / 5)))
    else:
        raise ValueError(shape)
    return _finish(np.asarray(img, np.float32), rng, gain=(0.85, 1.15), noise=5.0)


def make_imagenet(root='data/imagenet', num_train=200, num_val=50, img_size=(128, 128), seed=0,
                  num_classes=10):
    """Write an ImageNet-1k-format classification sample (mmpretrain layout) under ``root``.

    ``train/<wnid>/<wnid>_<k>.JPEG`` (class folders, real wnids), ``val/ILSVRC2012_val_<8 digits>.JPEG``
    (flat, as distributed) and mmpretrain's annotation files ``meta/train.txt``
    (``n01443537/n01443537_1.JPEG 1``) and ``meta/val.txt`` (``ILSVRC2012_val_00000001.JPEG 1``),
    whose labels are the real ImageNet-1k class indices (0..999), so mmpretrain's ``ImageNet``
    dataset with its 1000 class names reads it unchanged. Image ``i`` of a split belongs to class
    ``i % num_classes`` (balanced); each class is one shape in one colour (goldfish: orange fish,
    zebra: black-and-white stripes, school bus: yellow bus, ...) at a random place and scale on a
    random greyish textured background.

    Args:
        root (str): Output directory. Defaults to ``'data/imagenet'``.
        num_train (int): Training images in total. Defaults to 200 (20 per class).
        num_val (int): Validation images in total. Defaults to 50 (5 per class).
        img_size (tuple[int, int]): ``(height, width)``. Defaults to ``(128, 128)``.
        seed (int): Random seed. Defaults to 0.
        num_classes (int): How many of :data:`IMAGENET_SAMPLE_CLASSES` to use, 2..12.
            Defaults to 10.

    Returns:
        dict: ``root``, ``splits`` (split -> images) and ``classes`` (the wnids used).
    """
    h, w = _check_size(img_size)
    counts = dict(train=_check_count(num_train, 'num_train'), val=_check_count(num_val, 'num_val'))
    if not isinstance(num_classes, (int, np.integer)) or not 2 <= num_classes <= len(IMAGENET_SAMPLE_CLASSES):
        raise ValueError(f'num_classes must be an int in 2..{len(IMAGENET_SAMPLE_CLASSES)}, got {num_classes!r}')
    classes = IMAGENET_SAMPLE_CLASSES[:num_classes]
    root = _prepare_root(root, ['train', 'val', 'meta'], 'imagenet')
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, n in counts.items():
        lines = []
        for i in range(n):
            wnid, index, shape, rgb = classes[i % num_classes]
            rng = _rng(seed, split, i)
            img = _imagenet_image(rng, h, w, shape, rgb)
            if split == 'train':
                rel = f'{wnid}/{wnid}_{i // num_classes + 1}.JPEG'
            else:
                rel = f'ILSVRC2012_val_{i + 1:08d}.JPEG'
            _save_jpeg(osp.join(root, split, rel), img)
            lines.append(f'{rel} {index}\n')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
    _write_marker(root, dataset='imagenet', num_train=counts['train'], num_val=counts['val'], img_size=[h, w],
                  seed=int(seed), num_classes=int(num_classes))
    return dict(root=root, splits=counts, classes=[c[0] for c in classes])
