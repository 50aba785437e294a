"""torchvision's trained dense MobileNetV3 models -> mmv3 (mmseg) configs + checkpoints.

``lraspp_mobilenet_v3_large`` (torchvision/models/segmentation/lraspp.py): a *variant* of the
paper's LR-ASPP, not Table 7: backbone ``mobilenet_v3_large(dilated=True)`` (output stride 16,
full-width tail, bneck 13 already dilated: ``atrous_rate_first=True``), low-level features the
40-channel output of bneck 4 (stride 8, ``out_indices=(4, 16)``), head with F = 128, branch B a
*global* average pool and a 1x1 conv without bias (``pool_kernel=None, gate_bias=False``),
head BN with PyTorch's eps 1e-5 (the backbone's is 1e-3), bilinear upsampling with
``align_corners=False``, no dropout, 21 VOC classes, ImageNet mean/std inputs.
"""
import copy
from collections import OrderedDict

from .common import BN_KEYS, ConversionError, TrackedStateDict

LRASPP_CONFIG = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
    backbone=dict(
        type='mmv3.MobileNetV3', arch='large', widen_factor=1.0, out_indices=(4, 16), output_stride=16,
        atrous_rate_first=True, norm_cfg=dict(type='BN', eps=0.001, momentum=0.01), init_cfg=None),
    decode_head=dict(
        type='mmv3.LRASPPHead', in_channels=(40, 960), in_index=(0, 1), channels=128, pool_kernel=None,
        gate_bias=False, dropout_ratio=0.0, num_classes=21, norm_cfg=dict(type='BN', eps=1e-5),
        act_cfg=dict(type='ReLU'), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

NUM_FEATURES = 17  # torchvision MobileNetV3-Large: stem, 15 bnecks, final 1x1 conv


def _conv_bn(sd, out, src_conv, src_bn, dst):
    out[f'{dst}.conv.weight'] = sd.take(f'{src_conv}weight')
    for k in BN_KEYS:
        out[f'{dst}.bn.{k}'] = sd.take(f'{src_bn}{k}')


def _backbone(sd, out, src, dst):
    """torchvision ``features`` (as ``{src}{i}.``) -> mmv3 ``{dst}layer{i}.`` (same numbering)."""
    _conv_bn(sd, out, f'{src}0.0.', f'{src}0.1.', f'{dst}layer0')
    for i in range(1, NUM_FEATURES - 1):
        p = f'{src}{i}.block.'
        subs = sorted({int(k[len(p):].split('.')[0]) for k in sd.data if k.startswith(p)})
        if not subs:
            raise ConversionError(f'block {src}{i} is missing: the checkpoint is truncated or not a '
                                  'MobileNetV3-Large')
        convs = [j for j in subs if f'{p}{j}.fc1.weight' not in sd]
        names = ['expand_conv', 'depthwise_conv', 'linear_conv'][3 - len(convs):]
        for j, name in zip(convs, names):
            _conv_bn(sd, out, f'{p}{j}.0.', f'{p}{j}.1.', f'{dst}layer{i}.{name}')
        for j in subs:
            if j not in convs:
                for n in (1, 2):
                    out[f'{dst}layer{i}.se.conv{n}.conv.weight'] = sd.take(f'{p}{j}.fc{n}.weight')
                    out[f'{dst}layer{i}.se.conv{n}.conv.bias'] = sd.take(f'{p}{j}.fc{n}.bias')
    last = NUM_FEATURES - 1
    _conv_bn(sd, out, f'{src}{last}.0.', f'{src}{last}.1.', f'{dst}layer{last}')


def convert_lraspp(state_dict, num_classes=None):
    """torchvision ``lraspp_mobilenet_v3_large`` state dict -> (mmseg state dict, model config).

    Every source tensor is used exactly once; the result is loaded into the config's model with
    ``strict=True`` by the caller (:func:`build_lraspp`), which checks every shape.
    """
    if 'classifier.cbr.0.weight' not in state_dict or 'backbone.0.0.weight' not in state_dict:
        raise ConversionError('not a torchvision lraspp_mobilenet_v3_large state dict: expected keys '
                              'backbone.* and classifier.{cbr,scale,low_classifier,high_classifier}.*')
    sd = TrackedStateDict(state_dict)
    out = OrderedDict()
    _backbone(sd, out, 'backbone.', 'backbone.')
    h = 'decode_head.'
    out[f'{h}conv_high.conv.weight'] = sd.take('classifier.cbr.0.weight')
    for k in BN_KEYS:
        out[f'{h}conv_high.bn.{k}'] = sd.take(f'classifier.cbr.1.{k}')
    out[f'{h}conv_gate.weight'] = sd.take('classifier.scale.1.weight')
    for src, dst in (('high_classifier', 'conv_seg'), ('low_classifier', 'skip_cls')):
        out[f'{h}{dst}.weight'] = sd.take(f'classifier.{src}.weight')
        out[f'{h}{dst}.bias'] = sd.take(f'classifier.{src}.bias')
    sd.check_all_used("mmv3's LR-ASPP (torchvision variant)")
    cfg = copy.deepcopy(LRASPP_CONFIG)
    found = out[f'{h}conv_seg.weight'].shape[0]
    if num_classes is not None and num_classes != found:
        raise ConversionError(f'--num-classes {num_classes} but the checkpoint has {found} classes')
    cfg['decode_head']['num_classes'] = found
    return out, cfg


def build_lraspp(cfg, state_dict=None):
    """Build the mmseg model of ``cfg`` (eval mode) and load ``state_dict`` strictly (shapes checked)."""
    import mmv3  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(copy.deepcopy(cfg))
    if state_dict is not None:
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as e:
            raise ConversionError(f'converted tensors do not fit the mmv3 model: {str(e).splitlines()[0]} '
                                  f'{str(e).splitlines()[1:3]}') from None
    return model.eval()
