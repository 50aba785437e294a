# R-ASPP (the MobileNetV2 paper's reduced ASPP) on MobileNetV2 1.0, output stride 16, no RF2,
# F = 256: Table 7 row 1 (row 2 adds RF2). Same head, data preprocessing and norm as
# raspp_mobilenet-v3-large-d16.py. BN (not SyncBN); see default_runtime_seg.py for SyncBN.
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
        type='mmv3.MobileNetV2',
        widen_factor=1.0,
        # (1/16 = the 320-channel bneck); the layers after the deepest tap (the 1280 conv)
        # are not built
        out_indices=(17, ),
        output_stride=16,  # last stage at stride 1, dilation 2 (atrous)
        reduce_tail=None,
        norm_cfg=norm_cfg,
        init_cfg=None),  # trained from scratch, as in the paper
    decode_head=dict(
        type='mmv3.RASPPHead',
        in_channels=320,  # = backbone.out_channels[-1]: bneck 17 (320)
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
