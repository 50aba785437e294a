# MobileNetV3-Large 1.0 at input resolution 96x96, ImageNet-1k.
# Paper: Figure 7 (resolution sweep 96-256 at multiplier 1.0).
# Same model, schedule and preprocessing as mobilenet-v3-large_8xb512_in1k.py; only the data
# sizes change, all from `resolution` (mmv3.datasets.resolution.at_resolution). Train: Inception
# random crop resized to 96. Eval: the Inception central crop of 87.5 %: short edge ->
# round(96 / 0.875) = 110, centre crop 96.
_base_ = ['./mobilenet-v3-large_8xb512_in1k.py']
from mmv3.datasets.resolution import at_resolution  # noqa: E402  (imports must follow _base_)

resolution = 96

train_pipeline = at_resolution(_base_.train_pipeline, resolution)
test_pipeline = at_resolution(_base_.test_pipeline, resolution)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
