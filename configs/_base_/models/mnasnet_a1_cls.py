# MnasNet-A1 for ImageNet classification (Tan et al. 2019), a baseline of the
# paper (Table 3 row "MnasNet-A1": 75.2 top-1, 315M MAdds, 3.9M params).
#
# backbone: stem, SepConv, 15 MBConv blocks (SE with sigmoid gate on the k5x5 /
#           k3x3-112 stages), 1x1 conv to 1280 with BN + ReLU (out_indices=(17,)).
#           BN momentum 0.01 / eps 1e-3 (the V3 paper's protocol).
# neck/head: global average pooling -> dropout (keep 0.8) -> fully connected,
#           mmv3.DropoutLinearClsHead.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmv3.MnasNet',
        arch='a1',
        widen_factor=1.0,
        out_indices=(17, ),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.01)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmv3.DropoutLinearClsHead',
        num_classes=1000,
        in_channels=1280,  # = backbone.out_channels[-1]: the 1280 conv
        dropout_rate=0.2,  # keep probability 0.8
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(
            type='Normal', layer='Linear', mean=0., std=0.01, bias=0.),
        topk=(1, 5)))
