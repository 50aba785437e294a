# MobileNetV2 1.0 for ImageNet classification (Sandler et al. 2018), the paper's
# main baseline (Table 3 row "V2 1.0": 72.0 top-1, 300M MAdds, 3.4M params).
#
# backbone: stem + 17 bnecks + the 1x1 conv to 1280 with BN + ReLU6
#           (out_indices=(18,)). The 1280 conv is not narrowed for multipliers
#           < 1 and widens for > 1 (the MobileNetV2 paper's convention).
#           BN momentum 0.01 / eps 1e-3: the V3 paper's protocol (BN decay 0.99),
#           used here for all classification baselines.
# neck/head: global average pooling -> dropout (keep 0.8) -> fully connected
#           (TF slim's MobileNetV2 logits), mmv3.DropoutLinearClsHead.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmv3.MobileNetV2',
        widen_factor=1.0,
        out_indices=(18, ),
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
