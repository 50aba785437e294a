# The MobileNetV3 paper's ImageNet training protocol (Section 6.1.1):
#   RMSProp, momentum 0.9, initial lr 0.1 at batch 4096, "learning rate decay rate
#   of 0.01 every 3 epochs", dropout 0.8 (keep prob; set in the model head),
#   L2 weight decay 1e-5, Inception preprocessing (dataset config), weight EMA
#   0.9999, BN decay 0.99 (= PyTorch BN momentum 0.01, set in the backbone).
#
# Interpretations (the paper leaves these open; all are ours, stated here):
# * lr decay: read as an exponential step decay by a *rate* of 0.01, i.e. the lr
#   is multiplied by (1 - 0.01) = 0.99 once every 3 epochs (TF's
#   exponential_decay(staircase=True) with decay factor 0.99). Multiplying by
#   0.01 itself would end training after ~6 epochs.
# * epochs: not stated in the paper; 600 as in mmpretrain's / torchvision's
#   MobileNetV3 recipes (final lr = 0.1 * 0.99**200 = 0.0134).
# * RMSProp: TF's decay 0.9 -> PyTorch alpha=0.9; TF's epsilon 1e-3 sits inside
#   the square root, PyTorch's outside, so eps = sqrt(1e-3) = 0.0316.
# * weight decay: TF slim's L2 regulariser covers regular conv / classifier
#   weights only (not depthwise kernels, BN or biases); mirrored by paramwise_cfg.
# * EMA: decay 0.9999 == mmengine momentum 1e-4, averaging BN statistics too
#   (slim averages all model variables). TF additionally caps the decay at
#   (1 + step) / (10 + step) early on; mmengine's plain EMA does not.
# * No warm-up (the paper states none).
optim_wrapper = dict(
    optimizer=dict(
        type='RMSprop',
        lr=0.1,  # at a total batch of 4096 (8 GPUs x 512); see auto_scale_lr
        alpha=0.9,
        momentum=0.9,
        eps=0.0316,
        weight_decay=1e-5),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0, dwconv_decay_mult=0.0))

param_scheduler = dict(
    type='StepLR', by_epoch=True, step_size=3, gamma=0.99)

train_cfg = dict(by_epoch=True, max_epochs=600, val_interval=1)
val_cfg = dict()
test_cfg = dict()

custom_hooks = [
    # stop at the first NaN/inf loss (iteration named); nothing saved over the last good checkpoint
    dict(type='mmv3.NonFiniteLossHook'),
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=1e-4,  # = 1 - 0.9999
        update_buffers=True,
        priority='ABOVE_NORMAL')
]

# lr 0.1 is for a total batch of 4096. With a different number of GPUs or
# per-GPU batch, pass `--auto-scale-lr` to tools/train.py to scale it linearly
# (lr = 0.1 * total_batch / 4096).
auto_scale_lr = dict(base_batch_size=4096, enable=False)
