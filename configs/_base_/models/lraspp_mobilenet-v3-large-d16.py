# LR-ASPP on MobileNetV3-Large, output stride 16, RF2, F = 128: Table 7 row 8, the paper's model.
# BN everywhere (not SyncBN) so single-process runs work; see default_runtime_seg.py for SyncBN.
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
        # (1/8 skip = depthwise output of the 6th bneck, 1/16 = the final 1x1 conv)
        out_indices=('6.depthwise', 16),
        output_stride=16,  # last stage at stride 1, dilation 2 (atrous)
        reduce_tail='rf2',  # RF2: last stage and final conv at half width (final conv 480)
        norm_cfg=norm_cfg,
        init_cfg=None),  # trained from scratch, as in the paper
    decode_head=dict(
        type='mmv3.LRASPPHead',
        # = backbone.out_channels: bneck 6's expansion (120), the final 1x1 conv at RF2 (960 / 2 = 480)
        in_channels=(120, 480),
        in_index=(0, 1),
        channels=128,  # F
        pool_kernel=49,
        pool_stride=(16, 20),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU'),
        align_corners=True,  # odd sizes (769, 1025x2049), as DeepLab
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    # single-scale evaluation on the whole (full-resolution) image
    test_cfg=dict(mode='whole'))
