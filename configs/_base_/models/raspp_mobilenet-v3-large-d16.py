# R-ASPP (the MobileNetV2 paper's reduced ASPP) on MobileNetV3-Large, output stride 16,
# no RF2, F = 256: Table 7 row 5. BN (not SyncBN); see default_runtime_seg.py for SyncBN.
norm_cfg = dict(type='BN', eps=0.001, requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # TF MobileNet/DeepLab input scaling: (x - 127.5) / 127.5, RGB
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(769, 769))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmv3.MobileNetV3',
        arch='large',
        widen_factor=1.0,
        out_indices=(16, ),  # the final 1x1 conv (960), at 1/16
        output_stride=16,  # last stage at stride 1, dilation 2 (atrous)
        reduce_tail=None,
        norm_cfg=norm_cfg,
        init_cfg=None),  # trained from scratch, as in the paper
    decode_head=dict(
        type='mmv3.RASPPHead',
        in_channels=960,  # = backbone.out_channels[-1]: the final 1x1 conv (960)
        in_index=0,
        channels=256,  # F
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU'),
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
