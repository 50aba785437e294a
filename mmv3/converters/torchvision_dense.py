"""torchvision's trained dense MobileNetV3 models -> mmv3 (mmseg) configs + checkpoints.

``lraspp_mobilenet_v3_large`` (torchvision/models/segmentation/lraspp.py): a *variant* of the
paper's LR-ASPP, not Table 7: backbone ``mobilenet_v3_large(dilated=True)`` (output stride 16,
full-width tail, bneck 13 already dilated: ``atrous_rate_first=True``), low-level features the
40-channel output of bneck 4 (stride 8, ``out_indices=(4, 16)``), head with F = 128, branch B a
*global* average pool and a 1x1 conv without bias (``pool_kernel=None, gate_bias=False``),
head BN with PyTorch's eps 1e-5 (the backbone's is 1e-3), bilinear upsampling with
``align_corners=False``, no dropout, 21 VOC classes, ImageNet mean/std inputs.

``ssdlite320_mobilenet_v3_large`` (torchvision/models/detection/ssdlite.py): written for
``configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py`` (that file's comment block lists each
equivalence). Key layout: ``backbone.features.0`` = torchvision ``features[:13]`` + bneck 13's expansion
(``.13.{0,1}``), ``backbone.features.1`` = the rest of bneck 13 (``.0.{1,2,3}``: depthwise, SE, project;
``nn.Sequential`` slicing keeps the indices), bnecks 14-15 (``.1``, ``.2``) and the final conv (``.3``);
``backbone.extra.{i}.{0,1,2}`` = the extra blocks; ``head.{classification,regression}_head.module_list.{i}``
= the predictors. The class convs' output channels ``a * 91 + k`` (anchor ``a``, torchvision slot ``k``,
background 0) are permuted to mmdet's ``a * 91 + k'`` with background last: ``k' = k - 1``, background 90.
"""
import copy
from collections import OrderedDict

import torch

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
SSDLITE_CONFIG_FILE = 'configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py'
SSDLITE_C4 = 13  # torchvision's c4_pos: the last strided block, whose expansion is C4
SSDLITE_LEVELS = 6
SSDLITE_EXTRA = 4


def _conv_bn(sd, out, src_conv, src_bn, dst):
    out[f'{dst}.conv.weight'] = sd.take(f'{src_conv}weight')
    for k in BN_KEYS:
        out[f'{dst}.bn.{k}'] = sd.take(f'{src_bn}{k}')


def _block(sd, out, p, dst, subs=None):
    """One inverted residual: sub-modules ``{p}{j}.`` (``j`` in ``subs``, default: all present) ->
    mmv3 ``{dst}.{expand_conv, depthwise_conv, se, linear_conv}``."""
    if subs is None:
        subs = sorted({int(k[len(p):].split('.')[0]) for k in sd.data if k.startswith(p)})
    if not subs:
        raise ConversionError(f'block {p[:-1]} is missing: the checkpoint is truncated or not a '
                              'MobileNetV3-Large')
    convs = [j for j in subs if f'{p}{j}.fc1.weight' not in sd]
    names = ['expand_conv', 'depthwise_conv', 'linear_conv'][3 - len(convs):]
    for j, name in zip(convs, names):
        _conv_bn(sd, out, f'{p}{j}.0.', f'{p}{j}.1.', f'{dst}.{name}')
    for j in subs:
        if j not in convs:
            for n in (1, 2):
                out[f'{dst}.se.conv{n}.conv.weight'] = sd.take(f'{p}{j}.fc{n}.weight')
                out[f'{dst}.se.conv{n}.conv.bias'] = sd.take(f'{p}{j}.fc{n}.bias')


def _backbone(sd, out, src, dst):
    """torchvision ``features`` (as ``{src}{i}.``) -> mmv3 ``{dst}layer{i}.`` (same numbering)."""
    _conv_bn(sd, out, f'{src}0.0.', f'{src}0.1.', f'{dst}layer0')
    for i in range(1, NUM_FEATURES - 1):
        _block(sd, out, f'{src}{i}.block.', f'{dst}layer{i}')
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


def build_converted(cfg, scope, state_dict=None):
    """Build the model of ``cfg`` in the toolbox ``scope`` (``'mmseg'`` / ``'mmdet'``; eval mode) and load
    ``state_dict`` strictly (every shape checked; a misfit is one :class:`ConversionError` line)."""
    import importlib

    import mmv3  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    model = importlib.import_module(f'{scope}.registry').MODELS.build(copy.deepcopy(cfg))
    if state_dict is not None:
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as e:
            raise ConversionError(f'converted tensors do not fit the mmv3 model: {str(e).splitlines()[0]} '
                                  f'{str(e).splitlines()[1:3]}') from None
    return model.eval()


def build_lraspp(cfg, state_dict=None):
    """The mmseg model of ``cfg`` with ``state_dict`` (:func:`build_converted`)."""
    return build_converted(cfg, 'mmseg', state_dict)


def _background_last(t, num_slots):
    """Class conv outputs ``(A * num_slots, ...)``: torchvision's slot order (background 0) -> mmdet's
    (background last), per anchor."""
    if t.shape[0] % num_slots:
        raise ConversionError(f'class predictor has {t.shape[0]} outputs, not a multiple of {num_slots} slots')
    order = list(range(1, num_slots)) + [0]
    return t.reshape(t.shape[0] // num_slots, num_slots, *t.shape[1:])[:, order].reshape(t.shape)


def convert_ssdlite(state_dict):
    """torchvision ``ssdlite320_mobilenet_v3_large`` state dict -> (mmdet state dict, number of class slots).

    Every source tensor is used exactly once (:class:`TrackedStateDict`); the caller loads the result
    into the config's model with ``strict=True`` (:func:`build_ssdlite`), which checks every shape.
    The slot count is 91 for the COCO weights (background + COCO category ids 1..90).
    """
    head = 'head.classification_head.module_list.'
    if f'{head}0.1.weight' not in state_dict or 'backbone.features.1.0.1.0.weight' not in state_dict:
        raise ConversionError('not a torchvision ssdlite320_mobilenet_v3_large state dict: expected keys '
                              'backbone.features.{0,1}.*, backbone.extra.* and head.{classification,regression}_head.*')
    sd = TrackedStateDict(state_dict)
    out = OrderedDict()
    f0, f1, b = 'backbone.features.0.', 'backbone.features.1.', 'backbone.'
    _conv_bn(sd, out, f'{f0}0.0.', f'{f0}0.1.', f'{b}layer0')
    for i in range(1, SSDLITE_C4):
        _block(sd, out, f'{f0}{i}.block.', f'{b}layer{i}')
    # bneck 13 is split at C4: its expansion ends features.0, the rest starts features.1
    _conv_bn(sd, out, f'{f0}{SSDLITE_C4}.0.', f'{f0}{SSDLITE_C4}.1.', f'{b}layer{SSDLITE_C4}.expand_conv')
    _block(sd, out, f'{f1}0.', f'{b}layer{SSDLITE_C4}', subs=[1, 2, 3])
    for i in range(SSDLITE_C4 + 1, NUM_FEATURES - 1):
        _block(sd, out, f'{f1}{i - SSDLITE_C4}.block.', f'{b}layer{i}')
    last = NUM_FEATURES - 1
    _conv_bn(sd, out, f'{f1}{last - SSDLITE_C4}.0.', f'{f1}{last - SSDLITE_C4}.1.', f'{b}layer{last}')
    for i in range(SSDLITE_EXTRA):
        e, n = f'backbone.extra.{i}.', f'neck.extra_layers.{i}.'
        _conv_bn(sd, out, f'{e}0.0.', f'{e}0.1.', f'{n}0')
        _conv_bn(sd, out, f'{e}1.0.', f'{e}1.1.', f'{n}1.depthwise_conv')
        _conv_bn(sd, out, f'{e}2.0.', f'{e}2.1.', f'{n}1.pointwise_conv')
    num_slots = None
    for i in range(SSDLITE_LEVELS):
        for src, dst in (('classification_head', 'cls_convs'), ('regression_head', 'reg_convs')):
            p, q = f'head.{src}.module_list.{i}.', f'bbox_head.{dst}.{i}.'
            _conv_bn(sd, out, f'{p}0.0.', f'{p}0.1.', f'{q}0')
            w, bias = sd.take(f'{p}1.weight'), sd.take(f'{p}1.bias')
            if dst == 'cls_convs':
                # 6 anchors on every map (DefaultBoxGenerator([[2, 3]] * 6)): slots = outputs / 6
                slots = w.shape[0] // 6
                if num_slots not in (None, slots) or w.shape[0] != 6 * slots:
                    raise ConversionError(f'{p}1.weight has {w.shape[0]} outputs: not 6 anchors x the slots '
                                          'of the other maps')
                num_slots = slots
                w, bias = _background_last(w, slots), _background_last(bias, slots)
            out[f'{q}1.weight'], out[f'{q}1.bias'] = w, bias
    sd.check_all_used("mmv3's SSDLite (torchvision layout)")
    return out, num_slots


def ssdlite_model_config(config_file=None):
    """The model config of ``configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py`` (a plain dict)."""
    import os.path as osp
    from mmengine.config import Config
    if config_file is None:  # the checkout's configs/, else an installed package's mmv3/.mim/configs/
        pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
        candidates = [osp.join(osp.dirname(pkg), SSDLITE_CONFIG_FILE), osp.join(pkg, '.mim', SSDLITE_CONFIG_FILE)]
        found = [c for c in candidates if osp.isfile(c)]
        if not found:
            raise ConversionError(f'{SSDLITE_CONFIG_FILE} not found (looked in {candidates}); run from an mmv3 '
                                  'checkout or install mmv3 with its configs')
        config_file = found[0]
    return Config.fromfile(config_file).model.to_dict()


def build_ssdlite(cfg, state_dict=None):
    """The mmdet model of ``cfg`` with ``state_dict`` (:func:`build_converted`)."""
    return build_converted(cfg, 'mmdet', state_dict)


def ssdlite_head_outputs(model, x):
    """The mmdet model's raw head outputs in torchvision's layout: class logits ``(N, H*W*A, slots)`` with
    background back at slot 0, box regressions ``(N, H*W*A, 4)`` (levels concatenated, location-major)."""
    cls_scores, bbox_preds = model.bbox_head(model.extract_feat(x))
    n = x.shape[0]
    slots = model.bbox_head.cls_out_channels
    logits = torch.cat([c.permute(0, 2, 3, 1).reshape(n, -1, slots) for c in cls_scores], 1)
    deltas = torch.cat([b.permute(0, 2, 3, 1).reshape(n, -1, 4) for b in bbox_preds], 1)
    return logits[..., [slots - 1] + list(range(slots - 1))], deltas
