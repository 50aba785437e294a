"""Post-processing of exported detection models (what the ONNX graph leaves out).

The ONNX graph of a detector ends at the dense head's raw outputs, one pair per feature level ``l``:

- ``cls_score_l``: ``(N, A_l * C, H_l, W_l)`` class logits, ``A_l`` anchors per location (SSDLite: 3 on
  the first map, 6 on the others), ``C`` = classes (+1 background slot for SSD's softmax heads:
  91 for COCO).
- ``bbox_pred_l``: ``(N, A_l * 4, H_l, W_l)`` box deltas ``(dx, dy, dw, dh)``.

To get boxes (exactly what mmdet's ``bbox_head.predict_by_feat`` does, and what :func:`postprocess`
calls with the ONNX Runtime outputs):

1. anchors: ``bbox_head.prior_generator.grid_priors([(H_l, W_l) ...])`` (SSD: ``SSDAnchorGenerator``
   with the config's strides / ratios / basesize ratio range);
2. scores: softmax over the ``C`` slots (SSD, ``use_sigmoid_cls=False``; the last slot is background)
   or sigmoid;
3. boxes: ``bbox_head.bbox_coder.decode(anchors, deltas)`` (``DeltaXYWHBBoxCoder`` with the config's
   ``target_means`` / ``target_stds``, e.g. 0.1, 0.1, 0.2, 0.2), clipped to the image;
4. per-class NMS (``test_cfg.nms``, IoU 0.45 for SSD), score threshold ``test_cfg.score_thr``, top
   ``test_cfg.max_per_img`` boxes; rescale to the original image by the resize factor.
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch


def postprocess(model, outputs: Sequence[np.ndarray], img_shape: Tuple[int, int],
                scale_factor: Tuple[float, float] = (1.0, 1.0), rescale: bool = False) -> List:
    """Boxes from the raw head outputs of an exported detector, with mmdet's own head code.

    Args:
        model: The mmdet detector (or its :class:`~mmv3.apis.TaskWrapper`).
        outputs (list[np.ndarray]): ``cls_score_0..L-1, bbox_pred_0..L-1`` as ONNX Runtime returns them.
        img_shape (tuple): ``(H, W)`` of the network input.
        scale_factor (tuple): ``(w_scale, h_scale)`` of the resize from the original image.
        rescale (bool): Map boxes back to the original image. Default: False.

    Returns:
        list[InstanceData]: Per image, ``bboxes`` (x1, y1, x2, y2), ``scores`` and ``labels``.
    """
    det = getattr(model, 'model', model)
    head = det.bbox_head
    levels = len(outputs) // 2
    cls_scores = [torch.from_numpy(np.asarray(o)) for o in outputs[:levels]]
    bbox_preds = [torch.from_numpy(np.asarray(o)) for o in outputs[levels:]]
    n = cls_scores[0].shape[0]
    h, w = img_shape
    metas = [dict(img_shape=(h, w), ori_shape=(int(round(h / scale_factor[1])), int(round(w / scale_factor[0]))),
                  scale_factor=scale_factor, pad_shape=(h, w)) for _ in range(n)]
    # mmdet 3.3.0's SSDHead never sets ``loss_cls``, which predict_by_feat reads (open-mmlab/mmdetection
    # issues #11305, #11780): give it a harmless None for the call when it is missing.
    patched = 'loss_cls' not in head.__dict__ and not hasattr(type(head), 'loss_cls') and \
        'loss_cls' not in head._modules
    if patched:
        head.__dict__['loss_cls'] = None
    try:
        with torch.no_grad():
            return head.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=metas, rescale=rescale)
    finally:
        if patched:
            del head.__dict__['loss_cls']
