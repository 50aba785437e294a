# DeepLab's released MobileNetV3-Small LR-ASPP for Cityscapes (the paper's authors' checkpoint
# deeplab_mnv3_small_cityscapes_trainfine_2019_11_15, research/deeplab/g3doc/model_zoo.md: 68.99% mIoU on val,
# eval output stride 32, single scale, no flip, 4.63B Multiply-Adds: the model zoo's numbers, not re-measured),
# converted exactly:
#   python tools/model_converters/tf2mmv3.py deeplab_mnv3_small_cityscapes_trainfine/model.ckpt \
#       lraspp_v3_small_tf-deeplab.pth --source deeplab --arch small
#   python tools/test.py configs/seg/lraspp_v3_small_tf-deeplab_cityscapes.py lraspp_v3_small_tf-deeplab.pth
# NOT Table 7 row 11: trained with the model zoo's flags, each an argument here (mmv3/converters/tf1.py,
# deeplab_model_config): output stride 32 (no atrous stage; row 11 is 16), branch B pooled with a 25x25 kernel
# (--image_pooling_crop_size=769,769 at stride 32) and stride (4, 5) and gated by relu6(x + 3) * 0.16667
# (--image_se_uses_qsigmoid), F = 128 (--aspp_convs_filters), no projection / dropout, logits = 1x1 conv of the
# upsampled gated features + 1x1 conv of bneck 3's depthwise output (--decoder_use_sum_merge
# --decoder_output_is_logits --decoder_filters=19 --decoder_output_stride=8); TF 'SAME' padding; SE gates
# relu6(x + 3) * 0.16667 (slim's mobilenet_v3.py); BN eps 1e-3 (backbone) / 1e-5 (head).
#
# Evaluation protocol: DeepLab's, as in lraspp_v3_large_tf-deeplab_cityscapes.py (the same file: only the
# backbone and the channels the head reads differ).
_base_ = './lraspp_v3_large_tf-deeplab_cityscapes.py'

model = dict(
    backbone=dict(arch='small', out_indices=('3.depthwise', 12)),  # 1/8: bneck 3's depthwise output; 1/32
    decode_head=dict(in_channels=(88, 288)))  # bneck 3's depthwise output (88), the RF2 final conv (288)
