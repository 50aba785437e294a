# MobileNetV3-Small 1.0 for ImageNet classification (Table 2 of the paper).
#
# backbone: Table 2 up to and including the 1x1 conv to 576 (out_indices=(12,)).
#           No SE on that conv although Table 2 marks one: the released models
#           have none, and with one the params are +8.4 % off Table 3.
#           BN momentum 0.01 / eps 1e-3 (= TF's BN decay 0.99, epsilon 0.001).
# neck:     7x7 global average pooling ("pool 7x7").
# head:     the efficient last stage (Figure 5): 1x1 conv 576 -> 1024 with bias
#           and no BN ("NBN"), h-swish, dropout (keep 0.8), 1x1 conv -> k.
#           At 1x1 resolution a 1x1 conv is a Linear layer, so mmpretrain's
#           StackedLinearClsHead is this stage exactly. The 1024 width is NOT
#           scaled by the width multiplier (TF finegrain_classification_mode,
#           used by the released V3 models; scaling it would cost params at
#           alpha < 1 and miss Table 3).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmv3.MobileNetV3',
        arch='small',
        widen_factor=1.0,
        out_indices=(12, ),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.01)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=1000,
        in_channels=576,  # = backbone.out_channels[-1] (576 x alpha, rounded to 8)
        mid_channels=[1024],
        dropout_rate=0.2,  # keep probability 0.8
        act_cfg=dict(type='HSwish'),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(
            type='Normal', layer='Linear', mean=0., std=0.01, bias=0.),
        topk=(1, 5)))
