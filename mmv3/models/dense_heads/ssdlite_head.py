"""mmdet's SSD head in its SSDLite form, usable for inference with mmdet 3.3."""
from typing import List, Optional, Sequence

import torch
from mmdet.models.dense_heads import SSDHead
from mmengine.structures import InstanceData

from mmv3.registry import MODELS, toolbox_scope

POSTPROCESS_MODES = ('mmdet', 'torchvision')


@MODELS.register_module()
class SSDLiteHead(SSDHead):
    """SSDLite box/class predictors: mmdet's ``SSDHead`` with ``use_depthwise=True``.

    Per feature map, boxes and classes separately: depthwise 3x3 conv + BN + ReLU6, then a
    1x1 conv with bias to ``A x 4`` / ``A x (num_classes + 1)`` outputs (``A`` = the anchor
    generator's boxes on that map; softmax over the classes and a background slot, hard
    negative mining 3:1, smooth-L1 box loss, as ``SSDHead``). The layers, their names and the
    losses are exactly ``SSDHead``'s, so checkpoints move freely between the two.

    Additions:

    - mmdet 3.3's ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls``, which
      ``SSDHead`` never defines, so ``SSDHead.predict`` raises ``AttributeError`` (upstream
      issues open-mmlab/mmdetection#11063, #11305, #11780; fix PR #11524 not merged). This
      head defines ``loss_cls = None`` (SSD's classification loss is computed inline), so
      validation and testing work.
    - Its arguments are checked up front: one ``in_channels`` entry per anchor level.
    - ``label_slots``: the head may predict more class slots than the dataset has labels
      (torchvision's COCO detectors score 90 category-id slots, 10 of them "N/A", for mmdet's
      80 labels). Dataset label ``i`` is slot ``label_slots[i]``; the softmax runs over all
      slots (+ background, last), so scores are the source model's; detections of slots that
      are no dataset label are dropped at the very end (after NMS and ``max_per_img``, where
      the source drops them too: COCO evaluation ignores their unknown category ids), and
      training maps ground-truth labels to their slots.
    - ``postprocess='torchvision'``: torchvision's ``SSD.postprocess_detections`` instead of
      mmdet's ``_predict_by_feat_single``: softmax; for each class slot the anchors with score
      ``> score_thr``, the ``topk_per_class`` best of them over all levels together; decode and
      clip to the network input; NMS per class (``torchvision.ops.batched_nms``, the function
      torchvision calls, IoU ``nms.iou_threshold``) in the network-input frame; the
      ``max_per_img`` best; then boxes scaled by ``ori_shape / img_shape`` per axis
      (torchvision's ``resize_boxes``, same float operations). mmdet's mode instead keeps the
      ``nms_pre`` best (anchor, class) pairs *per level* (no per-class limit), drops boxes not
      larger than ``min_bbox_size`` (fully clipped boxes have zero size) and runs NMS after
      rescaling (IoU is invariant under a per-axis scale, so that order changes only float
      rounding). ``test_cfg`` keys of this mode: ``score_thr``, ``topk_per_class``, ``nms`` and
      ``max_per_img``.

    Args:
        num_classes (int): Object class slots, without background (80 for mmdet's
            ``CocoDataset``; 90 for TensorFlow's / torchvision's COCO label map, the paper's 91
            slots).
        in_channels (Sequence[int]): Channels of each input feature map (the neck's
            ``out_channels``).
        use_depthwise (bool): SSDLite predictors (True) or SSD's 3x3 convs. Defaults to True.
        label_slots (Sequence[int], optional): Slot of each dataset label (distinct, in
            ``[0, num_classes)``); None: label ``i`` is slot ``i``. Defaults to None.
        postprocess (str): ``'mmdet'`` (default) or ``'torchvision'`` (above).
        **kwargs: Any other ``SSDHead`` argument: ``norm_cfg``, ``act_cfg``,
            ``anchor_generator``, ``bbox_coder``, ``train_cfg``, ``test_cfg``, ``init_cfg``...
    """

    def __init__(self, num_classes: int = 80, in_channels: Sequence[int] = (), use_depthwise=True,
                 label_slots: Optional[Sequence[int]] = None, postprocess: str = 'mmdet', **kwargs) -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f'SSDLiteHead: num_classes must be a positive int (80 for mmdet\'s '
                             f'CocoDataset, 90 for the paper\'s 91 class slots), got {num_classes!r}')
        if not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise ValueError(f'SSDLiteHead: in_channels must list the channels of every feature map '
                             f'(the neck\'s out_channels), got {in_channels!r}')
        if postprocess not in POSTPROCESS_MODES:
            raise ValueError(f'SSDLiteHead: postprocess={postprocess!r} is not one of {POSTPROCESS_MODES}')
        if label_slots is not None:
            slots = list(label_slots)
            if (len(set(slots)) != len(slots) or not slots
                    or not all(isinstance(s, int) and 0 <= s < num_classes for s in slots)):
                raise ValueError(f'SSDLiteHead: label_slots must be distinct slot indices in [0, {num_classes}) '
                                 f'(one per dataset label), got {label_slots!r}')
        test_cfg = kwargs.get('test_cfg')
        if postprocess == 'torchvision' and test_cfg is not None:
            missing = [k for k in ('score_thr', 'topk_per_class', 'nms', 'max_per_img') if k not in test_cfg]
            if missing or 'nms_pre' in test_cfg:
                raise ValueError(f"SSDLiteHead: postprocess='torchvision' takes test_cfg keys score_thr, "
                                 f"topk_per_class, nms, max_per_img (missing {missing}; nms_pre is mmdet's mode)")
        with toolbox_scope('mmdet'):
            super().__init__(num_classes=num_classes, in_channels=tuple(in_channels),
                             use_depthwise=use_depthwise, **kwargs)
        if len(self.num_base_priors) != len(self.in_channels):
            raise ValueError(
                f'SSDLiteHead: in_channels has {len(self.in_channels)} feature maps but the anchor '
                f'generator has {len(self.num_base_priors)} levels; give one anchor stride per map')
        self.loss_cls = None
        self.postprocess = postprocess
        self.label_slots = None if label_slots is None else list(label_slots)
        if self.label_slots is not None:
            slot_to_label = torch.full((num_classes, ), -1, dtype=torch.long)
            slot_to_label[torch.tensor(self.label_slots)] = torch.arange(len(self.label_slots))
            self.register_buffer('slot_to_label', slot_to_label, persistent=False)
            self.register_buffer('label_to_slot', torch.tensor(self.label_slots), persistent=False)

    def _slots_to_labels(self, results: InstanceData) -> InstanceData:
        """Slot indices -> dataset labels; detections of slots without a label are dropped."""
        if self.label_slots is None:
            return results
        labels = self.slot_to_label[results.labels]
        results = results[labels >= 0]
        results.labels = labels[labels >= 0]
        return results

    def loss_by_feat(self, cls_scores, bbox_preds, batch_gt_instances, batch_img_metas,
                     batch_gt_instances_ignore=None):
        """``SSDHead.loss_by_feat`` with ground-truth labels mapped to their slots (``label_slots``)."""
        if self.label_slots is not None:
            mapped = []
            for gt in batch_gt_instances:
                gt = gt.clone()
                gt.labels = self.label_to_slot[gt.labels]
                mapped.append(gt)
            batch_gt_instances = mapped
        return super().loss_by_feat(cls_scores, bbox_preds, batch_gt_instances, batch_img_metas,
                                    batch_gt_instances_ignore)

    def _predict_by_feat_single(self, cls_score_list, bbox_pred_list, score_factor_list, mlvl_priors,
                                img_meta, cfg, rescale=False, with_nms=True) -> InstanceData:
        if self.postprocess == 'mmdet':
            results = super()._predict_by_feat_single(cls_score_list, bbox_pred_list, score_factor_list,
                                                      mlvl_priors, img_meta, cfg, rescale, with_nms)
            return self._slots_to_labels(results)
        return self._predict_torchvision(cls_score_list, bbox_pred_list, mlvl_priors, img_meta,
                                         self.test_cfg if cfg is None else cfg, rescale, with_nms)

    def _predict_torchvision(self, cls_score_list: List[torch.Tensor], bbox_pred_list: List[torch.Tensor],
                             mlvl_priors: List[torch.Tensor], img_meta: dict, cfg, rescale: bool,
                             with_nms: bool) -> InstanceData:
        """torchvision's ``SSD.postprocess_detections`` + ``transform.postprocess`` for one image."""
        from torchvision.ops import batched_nms
        from mmdet.structures.bbox import get_box_tensor
        logits = torch.cat([s.permute(1, 2, 0).reshape(-1, self.cls_out_channels) for s in cls_score_list])
        deltas = torch.cat([b.permute(1, 2, 0).reshape(-1, 4) for b in bbox_pred_list])
        priors = torch.cat([get_box_tensor(p) for p in mlvl_priors])
        scores = logits.softmax(-1)
        img_h, img_w = img_meta['img_shape'][:2]
        boxes = get_box_tensor(self.bbox_coder.decode(priors, deltas, max_shape=(img_h, img_w)))
        all_boxes, all_scores, all_slots = [], [], []
        for slot in range(self.num_classes):  # background is the last channel
            score = scores[:, slot]
            keep = score > cfg['score_thr']
            score, box = score[keep], boxes[keep]
            score, idxs = score.topk(min(int(cfg['topk_per_class']), score.size(0)))
            all_boxes.append(box[idxs])
            all_scores.append(score)
            all_slots.append(torch.full_like(idxs, slot))
        boxes, scores, slots = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_slots)
        if with_nms:
            keep = batched_nms(boxes, scores, slots, float(cfg['nms']['iou_threshold']))[:cfg['max_per_img']]
            boxes, scores, slots = boxes[keep], scores[keep], slots[keep]
        if rescale:
            ori_h, ori_w = img_meta['ori_shape'][:2]
            ratio_h = torch.tensor(ori_h, dtype=torch.float32, device=boxes.device) / torch.tensor(
                img_h, dtype=torch.float32, device=boxes.device)
            ratio_w = torch.tensor(ori_w, dtype=torch.float32, device=boxes.device) / torch.tensor(
                img_w, dtype=torch.float32, device=boxes.device)
            x1, y1, x2, y2 = boxes.unbind(1)
            boxes = torch.stack((x1 * ratio_w, y1 * ratio_h, x2 * ratio_w, y2 * ratio_h), dim=1)
        results = InstanceData(bboxes=boxes, scores=scores, labels=slots)
        return self._slots_to_labels(results)
