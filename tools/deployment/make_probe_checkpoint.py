"""Make a quantization test checkpoint for a classification config from ImageNet-format sample data.

    python tools/deployment/make_probe_checkpoint.py CONFIG --data-root data/imagenet --out probe.pth

No ImageNet-trained weights can be downloaded here, and a randomly initialised classifier predicts the
same class for every image, which makes int8-vs-float top-1 agreement meaningless. This tool keeps the
random backbone, re-estimates every BN's statistics on the training images and fits the final
classifier layer (linear probe), so the model makes varied, data-driven predictions (accuracy printed).
See ``mmv3/analysis/probe.py``. The checkpoint holds only tensors (``weights_only`` loadable).
"""
import argparse
import os
import os.path as osp
import warnings

import torch

from mmv3.analysis.probe import make_probe_model
from mmv3.apis import run_cli
from mmv3.deploy.pipeline import prepare


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--data-root', required=True, help='ImageNet-format root (train/, val/, meta/)')
    p.add_argument('--out', required=True, help='output checkpoint (.pth)')
    p.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), default=None)
    p.add_argument('--num-images', type=int, default=200, help='training images used. Default: 200')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    torch.manual_seed(args.seed)  # the random backbone too, not only the probe
    prep = prepare(args.config, shape=args.shape, fold=False)
    acc = make_probe_model(prep, args.data_root, args.num_images, seed=args.seed)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(dict(state_dict=prep.model.model.state_dict()), args.out)
    print(f'probe classifier on {acc["num_classes"]} classes: train top-1 {acc["train_top1"] * 100:.1f}% '
          f'({acc["num_train"]} images), val top-1 {acc["val_top1"] * 100:.1f}% ({acc["num_val"]} images)')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    run_cli(main, 'make_probe_checkpoint.py')
