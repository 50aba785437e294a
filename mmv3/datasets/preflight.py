"""Dataset pre-flight: check the *content* of every train / val / test split before a Runner exists.

:func:`mmv3.datasets.checks.check_data_cfg` checks that folders and annotation files are there;
this module checks what is in them, so a bad file is one line naming the file, the bad value and
the fix *before* the work dir is written -- instead of ``IndexError: Target 5000 is out of bounds``
(naming no file) an hour into training, or a silently stretched label map.

What is checked (``tools/train.py`` / ``tools/test.py`` run it; ``--skip-data-check`` opts out):

* **Segmentation** (mmseg datasets with ``data_prefix.seg_map_path``, e.g. Cityscapes
  ``*_labelTrainIds.png``): *every* label file is decoded (OpenCV; palette PNGs with Pillow, as mmseg's ``LoadAnnotations``)
  and must be a single-channel map whose ids are ``0..num_classes-1`` or ``ignore_index``
  (``num_classes`` of ``model.decode_head``, else the dataset's classes; with ``reduce_zero_label``
  the raw ids ``0..num_classes`` are allowed; with a ``label_map`` the ids are not checked), with
  the same height and width as its image (mmseg would resize both to the crop scale: a label of
  another size is silently stretched).
* **COCO** (a ``.json`` ``ann_file`` with ``images`` / ``annotations`` / ``categories``): every
  annotation's ``category_id`` is one of the categories and its ``image_id`` one of the images;
  no box has a negative width / height or lies outside its image (1 px tolerance). Zero-area boxes
  are accepted: mmdet's ``CocoDataset`` drops them (see data/README.md). Every image file exists.
* **Classification** (mmpretrain ``ImageNet`` / ``CustomDataset``, list format
  ``meta/train.txt``): every entry's file exists and every label index is in
  ``0..num_classes-1`` (``model.head.num_classes``, else the dataset's classes).
* **Decodability** of the images of every split: all images when a split has at most
  ``max_decode`` (2000) of them, else a deterministic sample of ``max_decode`` (every k-th file of
  the sorted list); an image whose header or data does not decode with Pillow (zero bytes,
  truncated JPEG / PNG, not an image) is refused. Label maps are always decoded in full (above).

The file lists come from the toolbox's own dataset class (built once with ``serialize_data=False``),
so the paths are exactly those the Runner will read. A progress bar (tqdm) is drawn on stderr only
when stderr is a terminal (never in logs or CI output).

Usage::

    from mmv3.datasets.preflight import preflight_data_cfg
    preflight_data_cfg(cfg, splits=('train', 'val'))   # raises DatasetNotReadyError (one line)
"""
import json
import os
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .checks import _WRAPPERS, DatasetNotReadyError

__all__ = ['preflight_data_cfg', 'preflight_dataset_cfg', 'MAX_DECODE']

#: images decoded per split at most (all of them below this number, else an even sample)
MAX_DECODE = 2000
_BOX_TOLERANCE = 1.0  # pixels a COCO box may stick out of its image (float rounding of real labels)


def _progress(it, total, desc):
    if not sys.stderr.isatty():
        return it
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with mmdet / mmpretrain
        return it
    return tqdm(it, desc=desc, total=total, file=sys.stderr, leave=False, unit='file')


def _pmap(fn, items, desc):
    """``[fn(x) for x in items]`` on a few threads (Pillow / zlib release the GIL), with progress."""
    workers = max(1, min(8, os.cpu_count() or 1))
    if len(items) < 16 or workers == 1:
        return list(_progress(map(fn, items), len(items), desc))
    with ThreadPoolExecutor(workers) as pool:
        return list(_progress(pool.map(fn, items), len(items), desc))


def sample_indices(n, max_decode=MAX_DECODE):
    """Indices of the files whose images are decoded: all up to ``max_decode``, else every k-th."""
    if n <= max_decode:
        return list(range(n))
    return [int(i) for i in np.linspace(0, n - 1, max_decode).round().astype(int)]


def _decode_error(path):
    """None if ``path`` decodes as an image (header and data), else a short reason."""
    from PIL import Image, UnidentifiedImageError
    if not osp.isfile(path):
        return 'does not exist'
    if osp.getsize(path) == 0:
        return 'is empty (0 bytes)'
    try:
        with Image.open(path) as im:
            im.load()
        return None
    except UnidentifiedImageError:  # a format Pillow does not know: accept what OpenCV decodes
        import cv2
        return None if cv2.imread(path, cv2.IMREAD_UNCHANGED) is not None else 'is not a readable image'
    except Exception as e:  # truncated data, broken chunks, ...
        return f'does not decode ({type(e).__name__}: {str(e).strip() or "corrupt data"})'


def _check_decode(paths, where, max_decode):
    if not paths:
        return 0
    picked = [paths[i] for i in sample_indices(len(paths), max_decode)]
    for path, err in zip(picked, _pmap(_decode_error, picked, f'{where}: images')):
        if err:
            raise DatasetNotReadyError(
                f'{where}: image {path} {err}: re-extract / re-download it or remove it from the split '
                f'(or skip these checks with --skip-data-check)')
    return len(picked)


def _format_ids(ids, limit=8):
    ids = [int(v) for v in ids]
    return ', '.join(str(v) for v in ids[:limit]) + (f', ... ({len(ids)} distinct)' if len(ids) > limit else '')


# ------------------------------------------------------------------------------ segmentation
def _png_color_type(path):
    """PNG colour type from the IHDR header (3 = palette), or None if not a PNG."""
    try:
        with open(path, 'rb') as f:
            head = f.read(26)
    except OSError:
        return None
    if len(head) < 26 or not head.startswith(b'\x89PNG\r\n\x1a\n') or head[12:16] != b'IHDR':
        return None
    return head[25]


def _read_label(path):
    """Label path -> (shape, present ids), or (None, reason).

    PNGs are decoded with OpenCV (2-3x faster than Pillow here), except palette PNGs, whose
    indices Pillow returns as mmseg's ``LoadAnnotations`` (Pillow backend) reads them; a file
    OpenCV cannot decode is read with Pillow for the reason."""
    if not osp.isfile(path):
        return None, 'does not exist'
    arr = None
    ctype = _png_color_type(path)
    if ctype is not None and ctype != 3:
        import cv2
        arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is None:
        from PIL import Image
        try:
            with Image.open(path) as im:
                arr = np.asarray(im)
        except Exception as e:
            return None, f'does not decode ({type(e).__name__}: {str(e).strip() or "corrupt data"})'
    if arr.dtype == np.uint8:
        present = np.flatnonzero(np.bincount(arr.ravel(), minlength=256))
    else:
        present = np.unique(arr)
    return arr.shape, present


def _image_size(path):
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception:
        return None


def _check_seg(ds, where, num_classes, max_decode):
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    pairs = [(d['img_path'], d.get('seg_map_path')) for d in infos if d.get('seg_map_path')]
    if not pairs:
        return dict(where=where, kind='seg', files=len(infos), labels=0, decoded=0)
    n = num_classes or len(ds.metainfo.get('classes') or ()) or None
    ignore = int(getattr(ds, 'ignore_index', 255))
    reduce_zero = bool(getattr(ds, 'reduce_zero_label', False))
    label_map = getattr(ds, 'label_map', None)
    labels = _pmap(_read_label, [s for _, s in pairs], f'{where}: labels')
    sizes = _pmap(_image_size, [i for i, _ in pairs], f'{where}: image sizes')
    for (img, seg), (shape, present), size in zip(pairs, labels, sizes):
        if shape is None:
            raise DatasetNotReadyError(
                f'{where}: label map {seg} (of image {img}) {present}: regenerate it (Cityscapes: python '
                f'tools/dataset_converters/cityscapes.py <data_root>) or remove the image from the split')
        if len(shape) != 2:
            raise DatasetNotReadyError(
                f'{where}: label map {seg} has shape {tuple(shape)}, expected a single-channel HxW map of '
                f'class ids (e.g. *_gtFine_labelTrainIds.png, not the RGB *_gtFine_color.png)')
        if size is None:
            raise DatasetNotReadyError(f'{where}: image {img} is not a readable image: re-extract it or '
                                       f'remove it from the split')
        if tuple(shape) != tuple(size):
            raise DatasetNotReadyError(
                f'{where}: label map {seg} is {shape[0]}x{shape[1]} but its image {img} is {size[0]}x{size[1]} '
                f'(HxW); mmseg would stretch it: write the label at the image size')
        if n and not label_map:
            top = n if reduce_zero else n - 1
            bad = [v for v in present if (v < 0 or v > top) and v != ignore]
            if bad:
                hint = ''
                if max(bad) <= 33 and n == 19:
                    hint = (' These look like raw Cityscapes label ids: use *_gtFine_labelTrainIds.png '
                            '(python tools/dataset_converters/cityscapes.py <data_root>).')
                raise DatasetNotReadyError(
                    f'{where}: label map {seg} holds ids {_format_ids(bad)} outside 0..{top} '
                    f'(num_classes={n}{", reduce_zero_label" if reduce_zero else ""}) and {ignore} '
                    f'(ignore_index): fix the label file or num_classes.{hint}')
    decoded = _check_decode([i for i, _ in pairs], where, max_decode)
    return dict(where=where, kind='seg', files=len(pairs), labels=len(pairs), decoded=decoded)


# ------------------------------------------------------------------------------ COCO
def _check_coco(dataset_cfg, where, max_decode):
    root = dataset_cfg.get('data_root', '') or ''
    ann = dataset_cfg['ann_file']
    ann = ann if osp.isabs(ann) or not root else osp.join(root, ann)
    with open(ann) as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise DatasetNotReadyError(f'{where}: ann_file {ann} is not valid JSON ({e})') from None
    if not isinstance(data, dict) or 'images' not in data:
        return None
    cats = {c.get('id') for c in data.get('categories') or []}
    images = {im.get('id'): im for im in data['images']}
    for a in data.get('annotations') or []:
        aid = a.get('id')
        if a.get('image_id') not in images:
            raise DatasetNotReadyError(
                f'{where}: {ann}: annotation id={aid} has image_id={a.get("image_id")!r}, which is not in '
                f'"images": fix or drop the annotation')
        if a.get('category_id') not in cats:
            raise DatasetNotReadyError(
                f'{where}: {ann}: annotation id={aid} (image_id={a.get("image_id")}) has category_id='
                f'{a.get("category_id")!r}, which is not in "categories" (ids {_format_ids(sorted(cats))}): '
                f'fix the id or add the category (mmdet would drop the box silently)')
        box = a.get('bbox')
        if box is None:
            continue
        if not (isinstance(box, (list, tuple)) and len(box) == 4):
            raise DatasetNotReadyError(f'{where}: {ann}: annotation id={aid} has bbox={box!r}, expected '
                                       f'[x, y, width, height]')
        x, y, w, h = (float(v) for v in box)
        if w < 0 or h < 0:
            raise DatasetNotReadyError(
                f'{where}: {ann}: annotation id={aid} (image_id={a["image_id"]}) has bbox={box} with a negative '
                f'width / height: COCO boxes are [x, y, width, height], not [x1, y1, x2, y2]')
        im = images[a['image_id']]
        W, H = im.get('width'), im.get('height')
        t = _BOX_TOLERANCE
        if W and H and (x < -t or y < -t or x + w > W + t or y + h > H + t):
            raise DatasetNotReadyError(
                f'{where}: {ann}: annotation id={aid} (image_id={a["image_id"]}) has bbox={box} outside its '
                f'{W}x{H} (WxH) image {im.get("file_name")}: fix the box or the image size')
    prefix = dataset_cfg.get('data_prefix', {}) or {}
    img_dir = prefix.get('img', '') if isinstance(prefix, dict) else prefix
    img_dir = img_dir if osp.isabs(img_dir) or not root else osp.join(root, img_dir)
    paths = [osp.join(img_dir, im.get('file_name', '')) for im in data['images']]
    for p in paths:
        if not osp.isfile(p):
            raise DatasetNotReadyError(f'{where}: image {p} (listed in {ann}) does not exist: download it or '
                                       f'drop it from the ann_file')
    decoded = _check_decode(paths, where, max_decode)
    return dict(where=where, kind='coco', files=len(paths), labels=len(data.get('annotations') or []),
                decoded=decoded)


# ------------------------------------------------------------------------------ classification
def _check_cls(ds, where, num_classes, max_decode):
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    n = num_classes or len(ds.metainfo.get('classes') or ()) or None
    ann = getattr(ds, 'ann_file', '') or 'the folder scan'
    for d in infos:
        label = d.get('gt_label', None)
        if n and label is not None and np.ndim(label) == 0 and not 0 <= int(label) < n:
            raise DatasetNotReadyError(
                f'{where}: {ann}: {d["img_path"]} has label {int(label)}, outside 0..{n - 1} '
                f'(num_classes={n}): fix the list or model.head.num_classes')
    paths = [d['img_path'] for d in infos if 'img_path' in d]
    for p in paths:
        if not osp.isfile(p):
            raise DatasetNotReadyError(f'{where}: image {p} (listed in {ann}) does not exist: extract it or '
                                       f'drop the line from the list')
    decoded = _check_decode(paths, where, max_decode)
    return dict(where=where, kind='cls', files=len(paths), labels=len(infos), decoded=decoded)


# ------------------------------------------------------------------------------ entry points
def _build_leaf(dataset_cfg, where, scope):
    from mmengine.registry import DATASETS
    cfg = dict(dataset_cfg)
    cfg['serialize_data'] = False
    cfg['lazy_init'] = False
    cfg['pipeline'] = []  # the pipeline is not needed to list files (and checked elsewhere)
    try:
        with DATASETS.switch_scope_and_registry(scope) as registry:
            return registry.build(cfg)
    except DatasetNotReadyError:
        raise
    except Exception as e:
        line = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        raise DatasetNotReadyError(f'{where}: the dataset cannot be built to check its files: '
                                   f'{type(e).__name__}: {line}') from None


def preflight_dataset_cfg(dataset_cfg, where='dataset', scope=None, num_classes=None, max_decode=MAX_DECODE):
    """Check the files of one dataset config (wrappers are followed); see the module docstring.

    Args:
        dataset_cfg (dict): The ``dataset=`` dict of a dataloader.
        where (str): Name of the config field, for the messages.
        scope (str, optional): Registry scope of the dataset type (e.g. ``'mmseg'``).
        num_classes (int, optional): Classes the model predicts (label ids / indices must be below).
        max_decode (int): Images decoded per split at most. Default: :data:`MAX_DECODE`.

    Returns:
        list[dict]: Per leaf dataset: ``where``, ``kind`` (seg / coco / cls), ``files`` (images
        listed), ``labels`` (label maps / annotations / labels checked), ``decoded`` (images decoded).

    Raises:
        DatasetNotReadyError: One line naming the file, the bad value and the fix.
    """
    if not isinstance(dataset_cfg, dict):
        return []
    dtype = dataset_cfg.get('type', '')
    name = dtype.split('.')[-1] if isinstance(dtype, str) else getattr(dtype, '__name__', '')
    if name in _WRAPPERS or 'datasets' in dataset_cfg or 'dataset' in dataset_cfg:
        out = []
        for i, sub in enumerate(dataset_cfg.get('datasets') or []):
            out += preflight_dataset_cfg(sub, f'{where}.datasets[{i}]', scope, num_classes, max_decode)
        if 'dataset' in dataset_cfg:
            out += preflight_dataset_cfg(dataset_cfg['dataset'], f'{where}.dataset', scope, num_classes, max_decode)
        return out
    root = str(dataset_cfg.get('data_root', '') or '')
    ann = str(dataset_cfg.get('ann_file', '') or '')
    if '://' in root or '://' in ann:
        return []
    if ann.endswith('.json'):
        res = _check_coco(dataset_cfg, where, max_decode)
        return [res] if res else []
    ds = _build_leaf(dataset_cfg, where, scope)
    if scope == 'mmseg' or hasattr(ds, 'reduce_zero_label'):
        return [_check_seg(ds, where, num_classes, max_decode)]
    return [_check_cls(ds, where, num_classes, max_decode)]


def _model_num_classes(cfg):
    model = cfg.get('model', None) or {}
    for key in ('decode_head', 'head', 'bbox_head'):
        head = model.get(key, None) if isinstance(model, dict) else None
        if isinstance(head, (list, tuple)):
            head = head[-1] if head else None
        n = head.get('num_classes', None) if isinstance(head, dict) else None
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
    return None


def preflight_data_cfg(cfg, splits=('train', 'val'), max_decode=MAX_DECODE):
    """Check the files of the ``{split}_dataloader`` datasets of a config (module docstring).

    Run after :func:`mmv3.datasets.check_data_cfg` (folders exist) and after the toolbox's
    modules are registered.

    Returns:
        list[dict]: What was checked, per leaf dataset (:func:`preflight_dataset_cfg`).

    Raises:
        DatasetNotReadyError: for the first bad file, naming it, the bad value and the fix.
    """
    scope = cfg.get('default_scope', None)
    n = _model_num_classes(cfg)
    out = []
    for split in splits:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader:
            continue
        out += preflight_dataset_cfg(loader.get('dataset', None), f'{split}_dataloader.dataset', scope, n,
                                     max_decode)
    return out
