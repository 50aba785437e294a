"""A quantization test model without ImageNet training: BN re-estimation + a fitted classifier.

Agreement between an int8 and a float classifier is only informative when the float model makes
varied, confident predictions; a randomly initialised network predicts one class for every image.
Training MobileNetV3 on ImageNet is out of reach on a CPU, so :func:`make_probe_model` turns the random
network into a working classifier on the (sample) ImageNet-format data cheaply and deterministically:

1. **BN re-estimation**: the running mean/var of every BN are recomputed on training images
   (cumulative average, forward passes only), so activations have realistic ranges (what int8
   calibration sees in a trained network);
2. **linear probe**: the final classifier layer is fitted (multinomial logistic regression, L-BFGS) on
   the pre-logit features of the training images; rows of classes absent from the data get a large
   negative bias.

The backbone weights stay random. The result is a legitimate test subject for quantization, not a
substitute for the paper's accuracy.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def imagenet_labels(root: str, split: str) -> List[Tuple[str, int]]:
    """``(image path, class index)`` from mmpretrain's ``<root>/meta/<split>.txt``."""
    ann = osp.join(root, 'meta', f'{split}.txt')
    if not osp.isfile(ann):
        raise FileNotFoundError(f'{ann!r} not found: an ImageNet-format folder (train/, val/, meta/) is needed')
    out = []
    with open(ann) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out.append((osp.join(root, split, parts[0]), int(parts[1])))
    return out


@torch.no_grad()
def recalibrate_bn(forward, model: nn.Module, batches: Sequence[torch.Tensor]) -> int:
    """Recompute BN running statistics as the plain average over ``batches``; returns the BN count."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    model.train()
    for x in batches:
        forward(x)
    for bn, mom in zip(bns, momenta):
        bn.momentum = mom
    model.eval()
    return len(bns)


def last_linear(module: nn.Module, num_outputs: Optional[int] = None) -> nn.Module:
    """The last ``nn.Linear`` (or 1x1 ``nn.Conv2d``) of ``module`` (with ``num_outputs`` outputs if given)."""
    found = None
    for m in module.modules():
        if isinstance(m, nn.Linear) and (num_outputs is None or m.out_features == num_outputs):
            found = m
        elif isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and \
                (num_outputs is None or m.out_channels == num_outputs):
            found = m
    if found is None:
        raise ValueError('no final Linear / 1x1 conv classifier layer found in the head')
    return found


def fit_probe(features: torch.Tensor, targets: torch.Tensor, num_classes: int, l2: float = 1e-3,
              steps: int = 100) -> Tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression ``(W, b)`` on standardised-free features, L-BFGS."""
    w = torch.zeros(num_classes, features.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    x, y = features.double(), targets.long()
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(x @ w.T + b, y) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().float(), b.detach().float()


def make_probe_model(prep, root: str, num_bn_images: int = 200, batch_size: int = 20, seed: int = 0
                     ) -> Dict[str, float]:
    """Turn ``prep.model`` (a cls :class:`~mmv3.deploy.pipeline.Prepared`) into a probe classifier in place.

    Args:
        prep: From :func:`mmv3.deploy.pipeline.prepare` with ``fold=False``.
        root (str): ImageNet-format root with ``train/``, ``val/`` and ``meta/{train,val}.txt``.
        num_bn_images (int): Training images used for BN re-estimation and the probe. Default: 200.
        batch_size (int): Batch size of the BN passes. Default: 20.

    Returns:
        dict: ``train_top1`` / ``val_top1`` of the probe classifier (fractions), image counts.
    """
    from mmv3.apis import preprocess_params
    from mmv3.deploy.calibration import preprocess_image
    if prep.task != 'cls':
        raise ValueError(f'make_probe_model is for classification configs, got task {prep.task!r}')
    torch.manual_seed(seed)
    pre = preprocess_params(prep.model)
    train = imagenet_labels(root, 'train')
    rng = np.random.default_rng(seed)
    train = [train[i] for i in sorted(rng.permutation(len(train))[:num_bn_images])]
    val = imagenet_labels(root, 'val')

    def load(items):
        x = np.concatenate([preprocess_image(p, prep.shape, pre['mean'], pre['std'], pre['to_rgb'], 'cls')
                            for p, _ in items])
        return torch.from_numpy(x), torch.tensor([c for _, c in items])

    x_train, y_train = load(train)
    x_val, y_val = load(val)
    wrapper = prep.model
    recalibrate_bn(wrapper, wrapper, list(torch.split(x_train, batch_size)))
    model = wrapper.model
    num_classes = int(getattr(model.head, 'num_classes', 0)) or None
    fc = last_linear(model.head, num_classes)
    feats = []
    handle = fc.register_forward_hook(lambda m, i, o: feats.append(i[0].flatten(1)))
    with torch.no_grad():
        for xb in torch.split(x_train, batch_size):
            wrapper(xb)
    handle.remove()
    f_train = torch.cat(feats)
    classes = sorted(set(y_train.tolist()))
    remap = {c: i for i, c in enumerate(classes)}
    w, b = fit_probe(f_train, torch.tensor([remap[c] for c in y_train.tolist()]), len(classes))
    with torch.no_grad():
        weight = fc.weight.view(fc.weight.shape[0], -1)
        weight.zero_()
        fc.bias.fill_(-30.0)
        for c, i in remap.items():
            weight[c] = w[i]
            fc.bias[c] = b[i]
        acc = {}
        for name, xs, ys in (('train', x_train, y_train), ('val', x_val, y_val)):
            logits = torch.cat([wrapper(xb)[0] for xb in torch.split(xs, batch_size)])
            acc[f'{name}_top1'] = float((logits.argmax(1) == ys).float().mean())
    acc.update(num_train=len(train), num_val=len(val), num_classes=len(classes))
    return acc
