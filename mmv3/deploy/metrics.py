"""Agreement of a reduced-precision model with its float model, and how the tools print it.

Classification: top-1 agreement (and top-5 overlap); segmentation: mIoU of the int8 prediction
against the float prediction and pixel agreement (plus each model's mIoU against ground truth
when label maps are found); detection: output error of the raw head outputs.
"""
from typing import Dict, List, Optional

import numpy as np


def confusion_miou(pred: np.ndarray, ref: np.ndarray, num_classes: int, ignore_index: int = 255) -> float:
    """mIoU of ``pred`` against ``ref`` (label maps), over classes present in either."""
    mask = ref != ignore_index
    p = pred[mask].astype(np.int64)
    r = ref[mask].astype(np.int64)
    valid = (r >= 0) & (r < num_classes) & (p >= 0) & (p < num_classes)
    hist = np.bincount(num_classes * r[valid] + p[valid], minlength=num_classes**2).reshape(num_classes, num_classes)
    inter = np.diag(hist)
    union = hist.sum(0) + hist.sum(1) - inter
    present = union > 0
    if not present.any():
        return float('nan')
    return float((inter[present] / union[present]).mean())


#: float top-1 / top-2 logit margin under which an image counts as a near-tie in :func:`agreement`
NEAR_TIE = 0.1


def agreement(task: str, float_outs: List[List[np.ndarray]], int8_outs: List[List[np.ndarray]],
              labels: Optional[List[Optional[np.ndarray]]] = None) -> Dict[str, float]:
    """Agreement of the int8 model with the float model over a set of images.

    Args:
        task (str): ``'cls'``, ``'seg'`` or ``'det'``.
        float_outs, int8_outs (list): Per image, the list of model outputs.
        labels (list, optional): Per image, the class index (cls) or label map (seg), or None.

    Returns:
        dict: cls: ``top1_agreement`` (fraction), ``top5_overlap``, ``near_ties`` (images whose float top-1
        and top-2 logits are closer than :data:`NEAR_TIE`), ``flipped_margins`` (the float top-1 / top-2
        margin of each image whose top-1 changed, ascending: near-ties or real errors?), and ``top1_float`` /
        ``top1_int8`` accuracy with labels; seg: ``miou_vs_float``,
        ``pixel_agreement`` (and ``miou_float_gt`` / ``miou_int8_gt`` with labels); det:
        ``max_abs_diff``, ``mean_abs_diff``, ``score_corr``. Always ``n`` (images).
    """
    n = len(float_outs)
    if n == 0 or n != len(int8_outs):
        raise ValueError('agreement needs the same, non-zero number of float and int8 outputs')
    if task == 'cls':
        f = np.concatenate([o[0] for o in float_outs])
        q = np.concatenate([o[0] for o in int8_outs])
        top1 = float((f.argmax(1) == q.argmax(1)).mean())
        k = min(5, f.shape[1])
        f5 = np.argsort(-f, 1)[:, :k]
        q5 = np.argsort(-q, 1)[:, :k]
        overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(f5, q5)]))
        top2 = -np.sort(-f, 1)[:, :2] if f.shape[1] > 1 else np.concatenate([f, f - np.inf], 1)
        margin = top2[:, 0] - top2[:, 1]
        flipped = f.argmax(1) != q.argmax(1)
        res = dict(top1_agreement=top1, top5_overlap=overlap, n=n, near_ties=int((margin < NEAR_TIE).sum()),
                   flipped_margins=sorted(round(float(m), 4) for m in margin[flipped]))
        if labels and all(lab is not None for lab in labels):
            gt = np.asarray(labels)
            res['top1_float'] = float((f.argmax(1) == gt).mean())
            res['top1_int8'] = float((q.argmax(1) == gt).mean())
        return res
    if task == 'seg':
        num_classes = float_outs[0][0].shape[1]
        fp = np.concatenate([o[0].argmax(1).ravel() for o in float_outs])
        qp = np.concatenate([o[0].argmax(1).ravel() for o in int8_outs])
        res = dict(miou_vs_float=confusion_miou(qp, fp, num_classes), pixel_agreement=float((fp == qp).mean()), n=n)
        if labels and all(lab is not None for lab in labels):
            gt = np.concatenate([lab.ravel() for lab in labels])
            res['miou_float_gt'] = confusion_miou(fp, gt, num_classes)
            res['miou_int8_gt'] = confusion_miou(qp, gt, num_classes)
        return res
    fa = np.concatenate([x.ravel() for o in float_outs for x in o])
    qa = np.concatenate([x.ravel() for o in int8_outs for x in o])
    return dict(max_abs_diff=float(np.abs(fa - qa).max()), mean_abs_diff=float(np.abs(fa - qa).mean()),
                score_corr=float(np.corrcoef(fa, qa)[0, 1]), n=n)


def format_agreement(task: str, agr: Dict[str, float]) -> str:
    """The one-line summary ``tools/deployment/quantize.py`` prints for :func:`agreement`'s result."""
    if task == 'cls':
        line = (f'top-1 agreement int8 vs float: {agr["top1_agreement"] * 100:.2f}% '
                f'(top-5 overlap {agr["top5_overlap"] * 100:.2f}%) on {agr["n"]} images')
        if 'near_ties' in agr:
            flips = agr['flipped_margins']
            line += (f'\nfloat near-ties (top-2 logits within {NEAR_TIE}): {agr["near_ties"]} images; '
                     f'{len(flips)} top-1 changes, float margin of each: '
                     + (', '.join(f'{m:.3g}' for m in flips[:12]) + (' ...' if len(flips) > 12 else '') or '-'))
        if 'top1_float' in agr:
            line += (f'\ntop-1 accuracy vs labels: float {agr["top1_float"] * 100:.2f}%, '
                     f'int8 {agr["top1_int8"] * 100:.2f}%')
        return line
    if task == 'seg':
        line = (f'mIoU of int8 vs float predictions: {agr["miou_vs_float"] * 100:.2f}%, pixel agreement '
                f'{agr["pixel_agreement"] * 100:.2f}% on {agr["n"]} images')
        if 'miou_float_gt' in agr:
            line += (f'; vs ground truth: float {agr["miou_float_gt"] * 100:.2f}% / '
                     f'int8 {agr["miou_int8_gt"] * 100:.2f}% mIoU')
        return line
    return (f'raw outputs int8 vs float: max abs diff {agr["max_abs_diff"]:.3g}, mean {agr["mean_abs_diff"]:.3g}, '
            f'correlation {agr["score_corr"]:.4f} on {agr["n"]} images')
