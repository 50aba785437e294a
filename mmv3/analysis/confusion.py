"""Confusion matrices of a trained classifier or segmenter on its test split (what
``tools/analysis_tools/confusion_matrix.py`` runs): rows are the ground truth, columns the
prediction (mmpretrain's ``ConfusionMatrix`` convention); for segmentation each labelled pixel
counts once and ``ignore_index`` pixels are left out.
"""
import json
import os
import os.path as osp
from typing import Optional, Tuple

import numpy as np

from mmv3.apis import ToolError, build_model, check_dataset_roots, check_registered_types, setup_scope, task_of


def _ignore_index(cfg) -> int:
    heads = cfg.model.get('decode_head', {})
    heads = heads if isinstance(heads, (list, tuple)) else [heads]
    return int(heads[0].get('ignore_index', 255)) if heads else 255


def compute_confusion_matrix(cfg, checkpoint: str, max_batches: Optional[int] = None) -> Tuple[np.ndarray, list]:
    """The confusion matrix of ``checkpoint`` on ``cfg.test_dataloader`` (cls or seg).

    Returns:
        tuple: ``(matrix, classes)``: an ``int64`` array ``(C, C)``, ``matrix[gt, pred]``, and the
        class names from the dataset's metainfo.
    """
    import torch
    from mmengine.runner import Runner
    setup_scope(cfg)
    task = task_of(cfg)
    if task not in ('cls', 'seg'):
        raise ToolError(f'confusion_matrix.py handles classification and segmentation configs, not {task} '
                        f'(for detection use mmdet\'s tools/analysis_tools/confusion_matrix.py)')
    check_dataset_roots(cfg, ('test_dataloader', ))
    check_registered_types(cfg, ('test', ))
    model = build_model(cfg, checkpoint)
    loader = Runner.build_dataloader(cfg.test_dataloader)
    classes = list(loader.dataset.metainfo.get('classes', []))
    num_classes = len(classes)
    if not num_classes:
        raise ToolError('the test dataset has no metainfo classes: cannot size the confusion matrix')
    ignore = _ignore_index(cfg)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    with torch.no_grad():
        for b, data in enumerate(loader):
            if max_batches is not None and b >= max_batches:
                break
            for out in model.test_step(data):
                if task == 'cls':
                    gt = out.gt_label.reshape(-1)[:1].numpy()
                    pred = out.pred_label.reshape(-1)[:1].numpy()
                else:
                    gt = out.gt_sem_seg.data.reshape(-1).numpy()
                    pred = out.pred_sem_seg.data.reshape(-1).numpy()
                    if gt.shape != pred.shape:
                        raise ToolError(f'{out.img_path}: prediction {tuple(out.pred_sem_seg.shape)} and label '
                                        f'{tuple(out.gt_sem_seg.shape)} differ in size: load the annotations '
                                        f'after Resize in the test pipeline, as mmseg\'s configs do')
                    keep = gt != ignore
                    gt, pred = gt[keep], pred[keep]
                matrix += np.bincount(gt.astype(np.int64) * num_classes + pred.astype(np.int64),
                                      minlength=num_classes**2).reshape(num_classes, num_classes)
    return matrix, classes


def save_confusion_matrix(matrix: np.ndarray, classes: list, out_dir: str, title: str = '') -> Tuple[str, str]:
    """Write ``confusion_matrix.png`` (rows normalised to %, mmpretrain's ``ConfusionMatrix.plot``)
    and ``confusion_matrix.json`` (the counts) into ``out_dir``.

    Returns:
        tuple: ``(png_path, json_path)``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch
    from mmpretrain.evaluation import ConfusionMatrix
    os.makedirs(out_dir, exist_ok=True)
    rows = matrix.sum(1, keepdims=True)
    percent = np.round(100.0 * matrix / np.maximum(rows, 1)).astype(np.int64)
    fig = ConfusionMatrix.plot(torch.from_numpy(percent), include_values=len(classes) <= 20,
                               classes=[str(c) for c in classes], show=False)
    fig.axes[0].set_title(title or 'confusion matrix (% of each ground-truth row)')
    png = osp.join(out_dir, 'confusion_matrix.png')
    fig.savefig(png, bbox_inches='tight')
    plt.close(fig)
    js = osp.join(out_dir, 'confusion_matrix.json')
    with open(js, 'w') as f:
        json.dump(dict(classes=[str(c) for c in classes], rows='ground truth', columns='prediction',
                       matrix=matrix.tolist()), f)
    return png, js
