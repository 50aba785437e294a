"""Prepare Cityscapes for mmseg: write ``*_gtFine_labelTrainIds.png`` and the split lists.

mmseg's ``CityscapesDataset`` reads ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` (19 train
ids 0..18, 255 = ignore), which the official download (gtFine_trainvaltest.zip) does not
contain. This tool makes them, from either source:

* ``--source polygons``: render ``*_gtFine_polygons.json`` with cityscapesscripts'
  ``json2labelImg(..., 'trainIds')`` (the official way; needs ``pip install cityscapesscripts``,
  listed in requirements/optional.txt);
* ``--source labelIds``: map ``*_gtFine_labelIds.png`` (Cityscapes label ids 0..33) through the
  official id -> trainId table (no extra package; pixel-identical, since the labelIds images are
  rendered from the same polygons);
* ``--source auto`` (default): polygons if cityscapesscripts is installed, else labelIds.

It also writes ``train.txt``, ``val.txt``, ``test.txt`` (``<city>/<city>_<seq>_<frame>`` per line,
usable as ``ann_file``) into ``--out-dir`` (default: the Cityscapes folder).

Usage::

    python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image

from mmv3.datasets.cityscapes_labels import id_to_train_id_lut

SPLITS = ('train', 'val', 'test')
POLY_SUFFIX = '_gtFine_polygons.json'
IDS_SUFFIX = '_gtFine_labelIds.png'
TRAIN_IDS_SUFFIX = '_gtFine_labelTrainIds.png'
_LUT = id_to_train_id_lut()


def convert_polygons(json_file):
    """``..._gtFine_polygons.json`` -> ``..._gtFine_labelTrainIds.png`` with cityscapesscripts."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg
    json2labelImg(json_file, json_file[:-len(POLY_SUFFIX)] + TRAIN_IDS_SUFFIX, 'trainIds')


def convert_label_ids(ids_file):
    """``..._gtFine_labelIds.png`` -> ``..._gtFine_labelTrainIds.png`` through the id -> trainId table."""
    with Image.open(ids_file) as img:
        if img.mode not in ('L', 'P'):
            raise ValueError(f'{ids_file}: expected an 8-bit single-channel label-id PNG, got PIL mode {img.mode}')
        ids = np.asarray(img)
    Image.fromarray(_LUT[ids], 'L').save(ids_file[:-len(IDS_SUFFIX)] + TRAIN_IDS_SUFFIX)


def _scan(directory, suffix):
    found = []
    for dirpath, _, files in os.walk(directory):
        found += [osp.join(dirpath, f) for f in files if f.endswith(suffix)]
    return sorted(found)


def _has_cityscapesscripts():
    try:
        import cityscapesscripts.preparation.json2labelImg  # noqa: F401
    except ImportError:
        return False
    return True


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Convert Cityscapes annotations to train ids for mmseg')
    parser.add_argument('cityscapes_path', help='Cityscapes folder holding leftImg8bit/ and gtFine/')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder inside it (default: gtFine)')
    parser.add_argument('-o', '--out-dir', help='where to write train.txt / val.txt / test.txt '
                        '(default: cityscapes_path)')
    parser.add_argument('--nproc', default=1, type=int, help='number of processes (default: 1)')
    parser.add_argument('--source', choices=['auto', 'polygons', 'labelIds'], default='auto',
                        help='make labelTrainIds from *_polygons.json (cityscapesscripts) or from '
                        '*_labelIds.png (default: auto = polygons if cityscapesscripts is installed)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    gt_dir = osp.join(args.cityscapes_path, args.gt_dir)
    if not osp.isdir(args.cityscapes_path):
        print(f'cityscapes.py: error: {args.cityscapes_path} does not exist (expected the folder where '
              'gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip were extracted)', file=sys.stderr)
        return 2
    if not osp.isdir(gt_dir):
        print(f'cityscapes.py: error: {gt_dir} does not exist (extract gtFine_trainvaltest.zip into '
              f'{args.cityscapes_path}, or pass --gt-dir)', file=sys.stderr)
        return 2
    if args.nproc < 1:
        print(f'cityscapes.py: error: --nproc must be >= 1, got {args.nproc}', file=sys.stderr)
        return 2

    polygons, label_ids = _scan(gt_dir, POLY_SUFFIX), _scan(gt_dir, IDS_SUFFIX)
    source = args.source
    if source == 'auto':
        if polygons and _has_cityscapesscripts():
            source = 'polygons'
        elif label_ids:
            source = 'labelIds'
        elif polygons:
            source = 'polygons'  # reports the missing package below
        else:
            print(f'cityscapes.py: error: {gt_dir} holds no *{POLY_SUFFIX} and no *{IDS_SUFFIX} files',
                  file=sys.stderr)
            return 2
    if source == 'polygons':
        if not _has_cityscapesscripts():
            print('cityscapes.py: error: --source polygons needs cityscapesscripts: pip install cityscapesscripts '
                  '(listed in requirements/optional.txt)' + (', or use --source labelIds' if label_ids else ''),
                  file=sys.stderr)
            return 2
        files, func = polygons, convert_polygons
    else:
        files, func = label_ids, convert_label_ids
    if not files:
        suffix = POLY_SUFFIX if source == 'polygons' else IDS_SUFFIX
        print(f'cityscapes.py: error: {gt_dir} holds no *{suffix} files for --source {source}', file=sys.stderr)
        return 2

    from mmengine.utils import track_parallel_progress, track_progress
    if args.nproc > 1:
        track_parallel_progress(func, files, args.nproc)
    else:
        track_progress(func, files)
    print(f'wrote {len(files)} *{TRAIN_IDS_SUFFIX} files under {gt_dir} (from {source})')

    out_dir = args.out_dir or args.cityscapes_path
    os.makedirs(out_dir, exist_ok=True)
    suffix = POLY_SUFFIX if source == 'polygons' else IDS_SUFFIX
    for split in SPLITS:
        split_dir = osp.join(gt_dir, split)
        names = [osp.relpath(f, split_dir)[:-len(suffix)] for f in _scan(split_dir, suffix)]
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
            f.writelines(name + '\n' for name in names)
        print(f'{split}: {len(names)} frames -> {osp.join(out_dir, split + ".txt")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
