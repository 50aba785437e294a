# SSDLite at 320x320 (MobileNetV2 paper's SSDLite, MobileNetV3 paper Table 6), built from
# mmdet's SSDNeck / SSDHead with depthwise-separable convs and mmv3's TensorFlow anchor grid.
# A row config adds the backbone (taps C4 at 1/16 and C5 at 1/32) and the channel lists:
#   neck.in_channels = (C4, C5)
#   neck.out_channels = (C4, C5) + extra layers max(int(d * alpha), 16), d in (512, 256, 256, 128)
#   bbox_head.in_channels = neck.out_channels
# Extra layer (mmdet SSDNeck, use_depthwise=True): 1x1 conv d/2 + BN + ReLU6 -> depthwise 3x3
# stride 2 + BN + ReLU6 -> 1x1 conv d + BN + ReLU6 (maps 20, 10, 5, 3, 2, 1 at 320).
# Predictor per map (mmdet SSDHead, use_depthwise=True), boxes and classes separately:
# depthwise 3x3 + BN + ReLU6 -> 1x1 conv with bias to A x 4 / A x (num_classes + 1),
# A = 3 on the first map, 6 on the others (SSDLiteAnchorGenerator).
# num_classes=80: mmdet's CocoDataset (+1 background slot = 81). The paper counts TF's 90 COCO
# ids + background = 91 slots; `model.bbox_head.num_classes=90` builds that layout.
# The two submodules register mmv3.SSDLiteHead and mmv3.SSDLiteAnchorGenerator (mmdet builds
# anchor generators from its TASK_UTILS registry, which `import mmv3` alone does not fill).
custom_imports = dict(
    imports=['mmv3'],
    allow_failed_imports=False)

norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)  # TF: decay 0.97, epsilon 0.001
data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=1)
model = dict(
    type='SingleStageDetector',
    data_preprocessor=data_preprocessor,
    neck=dict(
        type='SSDNeck',
        level_strides=(2, 2, 2, 2),
        level_paddings=(1, 1, 1, 1),
        l2_norm_scale=None,
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    bbox_head=dict(
        type='mmv3.SSDLiteHead',  # mmdet's SSDHead (use_depthwise) + an inference fix
        num_classes=80,
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
        # TF ssd_anchor_generator: 6 layers, scales 0.2..0.95, aspect ratios 1, 2, 1/2, 3, 1/3
        # + one interpolated-scale square box; 3 boxes on the first layer
        anchor_generator=dict(
            type='mmv3.SSDLiteAnchorGenerator',
            input_size=320,
            strides=[16, 32, 64, 320 / 3, 160, 320],  # 320 / (20, 10, 5, 3, 2, 1)
            min_scale=0.2,
            max_scale=0.95,
            aspect_ratios=[1.0, 2.0, 0.5, 3.0, 0.3333]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[0.1, 0.1, 0.2, 0.2])),  # TF faster_rcnn_box_coder scales 10, 10, 5, 5
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.,
            ignore_iof_thr=-1,
            gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'),
        smoothl1_beta=1.,
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        nms=dict(type='nms', iou_threshold=0.45),
        min_bbox_size=0,
        score_thr=0.02,
        max_per_img=200))
