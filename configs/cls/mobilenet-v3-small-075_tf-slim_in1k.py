# The released MobileNetV3-Small 0.75 ImageNet classifier of TF slim (v3-small_224_0.75_float, 65.4% top-1 as the
# slim README reports it, not re-measured), converted exactly (see mobilenet-v3-small_tf-slim_in1k.py):
#   python tools/model_converters/tf2mmv3.py v3-small_224_0.75_float/ema \
#       mobilenet-v3-small-075_tf-slim.pth --source slim --arch small
#   python tools/test.py configs/cls/mobilenet-v3-small-075_tf-slim_in1k.py mobilenet-v3-small-075_tf-slim.pth
# Its 1024 head conv is not scaled (slim's finegrain_classification_mode), as in mmv3's configs.
_base_ = './mobilenet-v3-small_tf-slim_in1k.py'

model = dict(backbone=dict(widen_factor=0.75), head=dict(in_channels=432))
