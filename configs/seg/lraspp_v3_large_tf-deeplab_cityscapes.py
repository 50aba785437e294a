# DeepLab's released MobileNetV3-Large LR-ASPP for Cityscapes (the paper's authors' checkpoint
# deeplab_mnv3_large_cityscapes_trainfine_2019_11_15, research/deeplab/g3doc/model_zoo.md: 72.41% mIoU on val,
# eval output stride 32, single scale, no flip, 15.95B Multiply-Adds: the model zoo's numbers, not re-measured),
# converted exactly:
#   python tools/model_converters/tf2mmv3.py deeplab_mnv3_large_cityscapes_trainfine/model.ckpt \
#       lraspp_v3_large_tf-deeplab.pth --source deeplab --arch large
#   python tools/test.py configs/seg/lraspp_v3_large_tf-deeplab_cityscapes.py lraspp_v3_large_tf-deeplab.pth
# NOT Table 7 row 8: trained with the model zoo's flags, each an argument here (mmv3/converters/tf1.py,
# deeplab_model_config): output stride 32 (no atrous stage; row 8 is 16), branch B pooled with a 25x25 kernel
# (--image_pooling_crop_size=769,769 at stride 32) and stride (4, 5) and gated by relu6(x + 3) * 0.16667
# (--image_se_uses_qsigmoid), F = 128 (--aspp_convs_filters), no projection / dropout, logits = 1x1 conv of the
# upsampled gated features + 1x1 conv of bneck 6's depthwise output (--decoder_use_sum_merge
# --decoder_output_is_logits --decoder_filters=19 --decoder_output_stride=8); TF 'SAME' padding; SE gates
# relu6(x + 3) * 0.16667 (slim's mobilenet_v3.py); BN eps 1e-3 (backbone) / 1e-5 (head).
#
# Evaluation protocol as DeepLab's (research/deeplab/eval.py, datasets/data_generator.py,
# input_preprocess.py, core/feature_extractor.py, model.py):
# - eval_crop_size 1025x2049: the 1024x2048 image is NOT resized (min/max_resize_value unset for cityscapes) but
#   padded at the bottom / right to 1025x2049 with the mean pixel 127.5 (input_preprocess.py,
#   preprocess_utils.pad_to_bounding_box), i.e. 0 after the [-1, 1] mapping: data_preprocessor test_cfg size
#   (1025, 2049) with pad_val=0 (mmseg pads after normalising, bottom / right);
# - preprocessing (2 / 255) * x - 1 (feature_extractor._preprocess_zero_mean_unit_range) = (x - 127.5) / 127.5,
#   RGB;
# - logits at 1/8 (129x257) resized to 1025x2049 bilinear with align_corners=True (model.predict_labels), the
#   padded border ignored (labels padded with 255; mmseg crops the padding before the metric);
# - labels: Cityscapes trainIds 0-18 in trainId order, 255 ignored (data_generator.py: cityscapes num_classes
#   19, ignore_label 255; build_cityscapes_data.py reads *_gtFine_labelTrainIds.png), mIoU over the 19 classes.
_base_ = [
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',  # only to fine-tune; evaluation needs none of it
]

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], bgr_to_rgb=True,
        pad_val=0, seg_pad_val=255, test_cfg=dict(size=(1025, 2049))),
    backbone=dict(
        type='mmv3.MobileNetV3', arch='large', widen_factor=1.0, out_indices=('6.depthwise', 16), output_stride=32,
        reduce_tail='rf2', pad_type='same', se_gate_cfg=dict(type='mmv3.QSigmoid', scale=0.16667),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.01), init_cfg=None),
    decode_head=dict(
        type='mmv3.LRASPPHead', in_channels=(120, 480), in_index=(0, 1), channels=128, pool_kernel=(25, 25),
        pool_stride=(4, 5), gate_bias=True, gate_act_cfg=dict(type='mmv3.QSigmoid', scale=0.16667),
        dropout_ratio=0.0, num_classes=19, norm_cfg=dict(type='BN', eps=1e-5, momentum=0.0003),
        act_cfg=dict(type='ReLU'), align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# whole 1024x2048 images, no resize (padding to 1025x2049 is the data preprocessor's)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='mmv3.CheckSegLabels', num_classes=19, ignore_index=255),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
