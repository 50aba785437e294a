# torchvision's trained SSDLite (`torchvision.models.detection.ssdlite320_mobilenet_v3_large`, weights COCO_V1),
# converted exactly. torchvision reports 21.3 box mAP on COCO val2017 (the source's number, not re-measured here).
# Convert (the .pth from https://download.pytorch.org/models/ssdlite320_mobilenet_v3_large_coco-a79551df.pth):
#   python tools/model_converters/torchvision2mmv3.py ssdlite320_mobilenet_v3_large_coco-a79551df.pth \
#       ssdlite_tv_mmv3.pth --model ssdlite320_mobilenet_v3_large --verify
#   python tools/test.py configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py ssdlite_tv_mmv3.pth
# Each part equals torchvision's (torchvision/models/detection/{ssdlite,ssd,anchor_utils,_utils,transform}.py,
# torchvision 0.29.1), as arguments of mmv3 / mmdet modules (tests/test_converter_ssdlite.py checks each):
# - backbone: mobilenet_v3_large(reduced_tail=True) (what the COCO weights load into: torchvision builds it
#   with reduce_tail when no ImageNet backbone is requested) = mmv3 reduce_tail='dagger' (bneck 13 exp 672 out 80,
#   bnecks 14-15 exp 480 out 80, final conv 480); BN eps 0.001, momentum 0.03 everywhere (its norm_layer);
#   C4 = bneck 13's expansion conv output (672, after h-swish), C5 = the final 1x1 conv (480).
# - extra layers: torchvision's _extra_block (1x1 to d/2, depthwise 3x3 stride 2, 1x1 to d; BN + ReLU6 each, no
#   conv bias), d = 512, 256, 256, 128 = mmdet SSDNeck(use_depthwise=True, act ReLU6).
# - head: torchvision's SSDLiteHead (per map, classes and boxes separately: depthwise 3x3 + BN + ReLU6, 1x1 conv
#   with bias) = mmv3.SSDLiteHead(use_depthwise=True); outputs laid out (anchor, column) in both.
# - classes: torchvision scores 91 slots (background 0, COCO category ids 1..90 incl. 10 "N/A") with one softmax;
#   the converter moves background last (mmdet's convention), so slot s = category id s + 1, num_classes=90, and
#   label_slots maps mmdet's 80 CocoDataset labels to their slots (= category id - 1); N/A slots are scored and
#   compete in NMS / the 300 cap as in torchvision, then dropped (COCO evaluation ignores them anyway).
# - anchors: DefaultBoxGenerator([[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95), 6 boxes on every map, widths and
#   heights clipped to the image, = mmv3.SSDDefaultBoxGenerator (bitwise the same anchors at 320x320).
# - box coder: BoxCoder(weights=(10, 10, 5, 5), bbox_xform_clip=log(1000 / 16)) = DeltaXYWHBBoxCoder(stds 0.1, 0.1,
#   0.2, 0.2, wh_ratio_clip 16 / 1000): no +1 in either, centre = (x1 + x2) / 2; equal up to float rounding
#   (<= 1e-4 px), except that mmdet also clamps dw, dh from below at -log(1000 / 16) (a box < 1.6% of its anchor).
# - preprocessing: GeneralizedRCNNTransform(320, 320, fixed_size=(320, 320), mean = std = 0.5) on RGB in [0, 1]:
#   PIL decoding without EXIF rotation (torchvision's CocoDetection: Image.open(...).convert('RGB')), bilinear
#   resize of the float image to 320x320 whatever the aspect (mmv3.FloatResize; mmdet's Resize would round a cv2
#   resize to uint8), (x - 127.5) / 127.5 = (x / 255 - 0.5) / 0.5.
# - post-processing: SSD.postprocess_detections (score > 0.001 and the 300 best per class, decode, clip to
#   320x320, batched_nms IoU 0.55 per class, 300 per image), then boxes scaled per axis back to the image:
#   SSDLiteHead(postprocess='torchvision') with the same values in test_cfg (mmdet's own post-processing keeps the
#   nms_pre best (anchor, class) pairs per level, with no per-class limit: other detections).
# Params: 3,440,060 (torchvision's own count for this model; tools/analysis_tools/get_flops.py).
_base_ = [
    '../_base_/datasets/coco_detection_ssdlite-320.py',
    '../_base_/default_runtime_det.py',
]
custom_imports = dict(imports=['mmv3'], allow_failed_imports=False)

norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], bgr_to_rgb=True,
        pad_size_divisor=1),
    backbone=dict(
        type='mmv3.MobileNetV3', arch='large', widen_factor=1.0, reduce_tail='dagger', out_indices=('13.expand', 16),
        norm_cfg=norm_cfg, init_cfg=None),
    neck=dict(
        type='SSDNeck', in_channels=(672, 480), out_channels=(672, 480, 512, 256, 256, 128),
        level_strides=(2, 2, 2, 2), level_paddings=(1, 1, 1, 1), l2_norm_scale=None, use_depthwise=True,
        norm_cfg=norm_cfg, act_cfg=dict(type='ReLU6'), init_cfg=None),
    bbox_head=dict(
        type='mmv3.SSDLiteHead',
        num_classes=90,
        in_channels=(672, 480, 512, 256, 256, 128),
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        # mmdet CocoDataset label i -> slot (COCO category id - 1)
        label_slots=[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 27, 30, 31, 32,
            33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
            60, 61, 62, 63, 64, 66, 69, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 83, 84, 85, 86, 87, 88, 89],
        postprocess='torchvision',
        init_cfg=None,
        anchor_generator=dict(
            type='mmv3.SSDDefaultBoxGenerator', aspect_ratios=[[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95,
            input_size=320),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.1, 0.1, 0.2, 0.2])),
    # fine-tuning: the SSD matching of the mmv3 SSDLite configs (torchvision's SSDMatcher also uses IoU 0.5)
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0., ignore_iof_thr=-1,
            gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'),
        smoothl1_beta=1.,
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        debug=False),
    # torchvision's ssdlite320_mobilenet_v3_large defaults
    test_cfg=dict(score_thr=0.001, topk_per_class=300, nms=dict(type='nms', iou_threshold=0.55), max_per_img=300))

test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation'),
    dict(type='mmv3.FloatResize', scale=(320, 320)),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# An evaluation config for the converted weights (torchvision's own training recipe is not reproduced here); to
# fine-tune, add a schedule, e.g. '../_base_/schedules/schedule_ssdlite_sgd_600e.py', and a train_dataloader.
train_dataloader = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
