# SSDLite training schedule (mmdet's ssdlite-mobilenetv2 recipe): SGD momentum 0.9, lr 0.015
# at batch 192 (8 GPUs x 24), weight decay 4e-5, 500-iteration linear warm-up, cosine decay
# to 0 over 120 epochs of a 5x RepeatDataset = 600 COCO epochs. (TensorFlow's SSDLite-V3
# recipe is also momentum SGD with cosine decay: lr 0.4 at batch 512, 400k steps.)
max_epochs = 120
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='CosineAnnealingLR',
        begin=0,
        T_max=max_epochs,
        end=max_epochs,
        by_epoch=True,
        eta_min=0),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.015, momentum=0.9, weight_decay=4.0e-5))

# the lr above is for 8 GPUs x 24 images; `tools/train.py --auto-scale-lr` rescales it
auto_scale_lr = dict(enable=False, base_batch_size=192)

custom_hooks = [
    # stop at the first NaN/inf loss (iteration named); nothing saved over the last good checkpoint
    dict(type='mmv3.NonFiniteLossHook'),
    dict(type='NumClassCheckHook'),
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW'),
]
