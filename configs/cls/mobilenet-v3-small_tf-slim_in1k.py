# The paper's authors' released MobileNetV3-Small 1.0 ImageNet classifier (TF slim, research/slim/nets/mobilenet:
# v3-small_224_1.0_float, 67.5% top-1 as the slim README reports it, not re-measured here), converted exactly:
#   python tools/model_converters/tf2mmv3.py v3-small_224_1.0_float/ema \
#       mobilenet-v3-small_tf-slim.pth --source slim --arch small
#   python tools/test.py configs/cls/mobilenet-v3-small_tf-slim_in1k.py mobilenet-v3-small_tf-slim.pth
# (the extracted archive's ema/ folder: the averaged weights slim evaluates; or give its checkpoint prefix).
# The weights need the TF reference's arithmetic, each an argument (mmv3/converters/tf1.py, slim_model_config):
# TF 'SAME' padding (pad_type='same'), BN eps 1e-3, SE gates relu6(x + 3) * 0.16667 (slim's mobilenet_v3.py;
# mmv3.QSigmoid). Inputs in [-1, 1], RGB. 1000 classes:
# the converter drops TF's background logit, so class i is mmpretrain's ImageNet class i (slim's label i + 1).
# Evaluation: slim's eval_image_classifier.py crops the central 87.5% of the image and resizes it to 224x224
# (inception preprocessing); mmpretrain's short-side 256 + centre crop 224 below is the same fraction but keeps
# the aspect ratio, so top-1 can differ slightly from slim's number.
_base_ = [
    '../_base_/models/mobilenet_v3_small_cls.py',
    '../_base_/datasets/imagenet_bs512_inception_224.py',
    '../_base_/schedules/imagenet_bs4096_rmsprop.py',  # only to fine-tune; evaluation needs none of it
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(pad_type='same', se_gate_cfg=dict(type='mmv3.QSigmoid', scale=0.16667), init_cfg=None),
    head=dict(init_cfg=None))
