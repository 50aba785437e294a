# LR-ASPP on MobileNetV2 1.0, output stride 16, RF2, F = 128: Table 7 row 4 (the V2 rows 3, 4, 9, 10
# start here). Same head, data preprocessing and norm as lraspp_mobilenet-v3-large-d16.py.
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
        type='mmv3.MobileNetV2',
        widen_factor=1.0,
        # (1/8 skip = depthwise output of the 6th bneck, 1/16 = the 320-channel bneck);
        # the layers after the deepest tap (the 1280 conv) are not built
        out_indices=('6.depthwise', 17),
        output_stride=16,  # last stage at stride 1, dilation 2 (atrous)
        reduce_tail='rf2',  # RF2: the last stage (bnecks 14-17) at half width (bneck 17: 160)
        norm_cfg=norm_cfg,
        init_cfg=None),  # trained from scratch, as in the paper
    decode_head=dict(
        type='mmv3.LRASPPHead',
        # = backbone.out_channels: bneck 6's expansion (6 x 32 = 192), bneck 17 at RF2 (320 / 2 = 160)
        in_channels=(192, 160),
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
