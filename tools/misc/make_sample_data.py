"""Write small, learnable sample datasets in the real Cityscapes / COCO / ImageNet formats.

Examples::

    python tools/misc/make_sample_data.py cityscapes                  # -> data/cityscapes
    python tools/misc/make_sample_data.py coco --num-train 128 --seed 1
    python tools/misc/make_sample_data.py imagenet --size 160 160 --out /tmp/imagenet
    python tools/misc/make_sample_data.py all                         # all three under data/

See ``mmv3/testing/sample_data.py`` (and data/README.md) for the layouts and the content.
"""
import argparse
import os.path as osp
import sys
import time

from mmv3.testing.sample_data import make_cityscapes, make_coco, make_imagenet

MAKERS = dict(cityscapes=make_cityscapes, coco=make_coco, imagenet=make_imagenet)
DEFAULT_OUT = dict(cityscapes='data/cityscapes', coco='data/coco', imagenet='data/imagenet')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write sample datasets in the exact on-disk formats of Cityscapes, COCO 2017 '
        'and ImageNet-1k (mmpretrain layout). Deterministic: the same seed gives the same files.')
    parser.add_argument('dataset', choices=[*MAKERS, 'all'], help='which dataset to write')
    parser.add_argument('--out', help='output directory (default: data/<dataset>; with "all": the parent '
                        'directory, default data/)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--num-train', type=int, help='training images (default: cityscapes 20, coco 64, '
                        'imagenet 200)')
    parser.add_argument('--num-val', type=int, help='validation images (default: cityscapes 10, coco 16, '
                        'imagenet 50)')
    parser.add_argument('--size', type=int, nargs=2, metavar=('W', 'H'),
                        help='image width and height (default: cityscapes 512 256, coco 320 240, '
                        'imagenet 128 128)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    names = list(MAKERS) if args.dataset == 'all' else [args.dataset]
    for name in names:
        if args.dataset == 'all':
            out = osp.join(args.out or 'data', name)
        else:
            out = args.out or DEFAULT_OUT[name]
        kwargs = dict(seed=args.seed)
        if args.num_train is not None:
            kwargs['num_train'] = args.num_train
        if args.num_val is not None:
            kwargs['num_val'] = args.num_val
        if args.size is not None:
            if min(args.size) < 32:
                print(f'make_sample_data.py: error: --size W H must both be >= 32, got {args.size}', file=sys.stderr)
                return 2
            kwargs['img_size'] = (args.size[1], args.size[0])
        start = time.time()
        try:
            info = MAKERS[name](out, **kwargs)
        except (ValueError, FileExistsError) as e:
            print(f'make_sample_data.py {name}: error: {e}', file=sys.stderr)
            return 2
        splits = ', '.join(f'{n} {split}' for split, n in info['splits'].items())
        print(f'{name}: wrote {splits} images to {info["root"]} ({time.time() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
