"""Convert a TensorFlow 1 MobileNetV3 checkpoint (slim ImageNet classifier or DeepLab LR-ASPP) into mmv3.

Usage:
    python tools/model_converters/tf2mmv3.py CKPT_PREFIX OUT.pth --source slim --arch large|small
    python tools/model_converters/tf2mmv3.py CKPT_PREFIX OUT.pth --source deeplab --arch large|small

``CKPT_PREFIX`` is the checkpoint as TensorFlow names it (``.../model.ckpt``, the path before ``.index`` /
``.data-00000-of-00001``; the ``.index`` file or the folder also work). TensorFlow is not needed: the files are
read by :mod:`mmv3.converters.tf_checkpoint`; the mapping is :mod:`mmv3.converters.tf1`.

- ``--source slim``: ``v3-{large,small}_224_{1.0,0.75}_float`` of ``research/slim/nets/mobilenet`` (the
  ``ema/`` checkpoint of the archive) -> mmpretrain ``ImageClassifier`` for
  ``configs/cls/mobilenet-v3-{large,small}[-075]_tf-slim_in1k.py``. The width multiplier is read from the shapes.
  TF's background logit (slot 0 of 1001) is dropped so that the 1000 classes are mmpretrain's ImageNet
  classes (``--keep-background`` keeps all 1001).
- ``--source deeplab``: ``deeplab_mnv3_{large,small}_cityscapes_trainfine`` of DeepLab's model zoo -> mmseg
  ``EncoderDecoder`` for ``configs/seg/lraspp_v3_{large,small}_tf-deeplab_cityscapes.py``.

Every variable is consumed exactly once, except ``global_step``, optimizer slots and, by default, raw variables
that have an ``ExponentialMovingAverage`` shadow (the shadow is used, as slim's evaluation does;
``--no-ema`` uses the raw variables). Wrong ``--arch`` / ``--source``, another model's checkpoint and
truncated or corrupt files are refused with one line (exit 2) before anything is written.
"""
import argparse

import torch

from mmv3.apis import run_cli
from mmv3.converters.common import ConversionError


def main(argv=None):
    from mmv3.converters import tf1
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='TF checkpoint prefix (e.g. deeplab_mnv3_large_cityscapes_trainfine/model.ckpt)')
    parser.add_argument('dst', help='output mmv3 checkpoint (.pth)')
    parser.add_argument('--source', required=True, help=f'one of {list(tf1.SOURCES)}')
    parser.add_argument('--arch', required=True, help=f'one of {list(tf1.ARCHS)}')
    parser.add_argument('--widen-factor', type=float, default=None,
                        help=f'width multiplier (default: inferred from the shapes among {list(tf1.WIDTH_CANDIDATES)})')
    parser.add_argument('--no-ema', action='store_true',
                        help='use the raw variables, not their ExponentialMovingAverage shadows')
    parser.add_argument('--keep-background', action='store_true',
                        help='slim: keep the background logit (1001 classes, slot 0 = background)')
    parser.add_argument('--image-pooling-crop-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='deeplab: --image_pooling_crop_size of the training run (default: the model zoo\'s '
                             '769 769)')
    parser.add_argument('--image-pooling-stride', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='deeplab: --image_pooling_stride (default: the model zoo\'s 4 5)')
    parser.add_argument('--no-crc', action='store_true', help='skip the CRC32C check of the tensors (faster)')
    args = parser.parse_args(argv)
    flags = {}
    if args.image_pooling_crop_size:
        flags['image_pooling_crop_size'] = tuple(args.image_pooling_crop_size)
    if args.image_pooling_stride:
        flags['image_pooling_stride'] = tuple(args.image_pooling_stride)
    if flags and args.source != 'deeplab':
        raise ConversionError('--image-pooling-* are DeepLab flags; they need --source deeplab')
    out, cfg, report = tf1.convert_checkpoint(args.src, args.source, args.arch, ema=not args.no_ema,
                                              widen_factor=args.widen_factor, keep_background=args.keep_background,
                                              verify_crc=not args.no_crc, **flags)
    scope = 'mmseg' if args.source == 'deeplab' else 'mmpretrain'
    tf1.build_model(cfg, out, scope=scope)  # strict load: every shape checked before anything is written
    import mmengine
    import os.path as osp
    mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.dst)))
    meta = dict(source=f'tf1:{args.source}:{args.src}', model=cfg, dropped=report['dropped'], ema=report['ema'])
    torch.save(dict(state_dict=out, meta=meta), args.dst)
    print(f'read {report["num_variables"]} model variables ({len(report["ema"])} from their moving average; '
          f'{len(report["dropped"])} dropped: global_step / optimizer slots / replaced by a moving average)')
    print(f'saved {len(out)} tensors to {args.dst}')
    print(f'model config for this checkpoint ({scope}, custom_imports=dict(imports=[\'mmv3\'])):')
    print(mmengine.Config(dict(model=cfg)).pretty_text)


if __name__ == '__main__':
    run_cli(main, 'tf2mmv3.py')
