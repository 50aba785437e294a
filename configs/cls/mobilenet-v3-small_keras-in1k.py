# Keras applications' trained MobileNetV3Small (alpha 1.0, ImageNet-1k), converted exactly (not trained here).
# Keras reports 68.1 top-1 on ImageNet-1k val (the table in the MobileNetV3 docstring of
# keras/src/applications/mobilenet_v3.py: Keras' number, not re-measured here).
# Weights: https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/
#          weights_mobilenet_v3_small_224_1.0_float.h5
# (what keras.applications.MobileNetV3Small(weights='imagenet') downloads to ~/.keras/models/).
#   python tools/model_converters/keras2mmv3.py weights_mobilenet_v3_small_224_1.0_float.h5 \
#       mobilenet-v3-small_keras_mmv3.pth --arch small
#   python tools/test.py configs/cls/mobilenet-v3-small_keras-in1k.py mobilenet-v3-small_keras_mmv3.pth
#
# Keras' model against mobilenet-v3-small_8xb512_in1k.py (read in the Keras source; each difference is an
# argument, see mmv3/converters/keras.py): the same layers and widths (stem 16, bneck widths by the same
# rounding, SE squeeze make_divisible(exp / 4, 8) with biases, hard-sigmoid relu6(x + 3) / 6, final 1x1
# conv + BN, 1024 1x1 conv with bias and no BN after pooling, h-swish, dropout 0.2, classifier with bias),
# BN eps 1e-3. One difference: Keras pads each strided depthwise conv with ZeroPadding2D(correct_pad(...))
# before a VALID conv, and in the model keras.applications builds (input_shape=None) correct_pad pads as
# for an even size (k//2 - 1 before, k//2 after) whatever the size: pad_type='keras' (= TF SAME at
# 224x224 and at every even size; the stem conv is Keras' padding='same', TF SAME, in both).
# Inputs: Keras' model starts with Rescaling(1 / 127.5, offset=-1) on RGB pixels 0..255, i.e.
# mean = std = 127.5 on RGB (mmcv loads BGR: to_rgb=True) = the base config's data_preprocessor.
# Eval crop: Keras ships no ImageNet evaluation pipeline (its docs resize the whole image to 224x224);
# the published numbers are TF slim's checkpoints evaluated with slim's Inception eval (central crop of
# 87.5% of each side, bilinear resize to 224x224). mmpretrain has no fractional crop, so this keeps the
# base config's standard equivalent: short edge -> 256 (bilinear, pillow), centre crop 224 (= a centred
# square of 87.5% of the short edge; the aspect ratio is kept where slim stretches it).
_base_ = ['./mobilenet-v3-small_8xb512_in1k.py']

model = dict(backbone=dict(pad_type='keras', norm_cfg=dict(type='BN', eps=0.001, momentum=0.01)))
data_preprocessor = dict(num_classes=1000, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)
