"""TensorFlow 1 checkpoints of the paper's authors -> mmv3 configs + checkpoints (no TensorFlow needed).

Two sources, both read with :mod:`mmv3.converters.tf_checkpoint`:

- ``'slim'``: the MobileNetV3 ImageNet classifiers of ``tensorflow/models`` ``research/slim/nets/mobilenet``
  (``v3-{large,small}_224_{1.0,0.75}_float``), graph ``mobilenet_v3.large`` / ``.small``: variables
  ``MobilenetV3/Conv`` (stem), ``MobilenetV3/expanded_conv{,_1.._14}/{expand,depthwise,squeeze_excite,project}``
  (the bnecks), ``MobilenetV3/Conv_1`` (final 1x1 conv + BN), ``MobilenetV3/Conv_2`` (the 1280 / 1024 conv after
  pooling, bias, no BN) and ``MobilenetV3/Logits/Conv2d_1c_1x1`` (1001 classes: slot 0 is TF's background).
  -> an mmpretrain ``ImageClassifier`` (:func:`slim_model_config`).
- ``'deeplab'``: the DeepLab model zoo's LR-ASPP Cityscapes models (``deeplab_mnv3_{large,small}_cityscapes_
  trainfine``), graph ``research/deeplab/model.py`` with the zoo's MobileNetV3 flags: the backbone above up to
  ``Conv_1`` with RF2 (``mobilenet_v3_*_seg``), ``aspp0`` (1x1 conv F + BN + ReLU: branch A), ``image_pooling``
  (1x1 conv with bias + q-sigmoid on the pooled features: branch B), ``decoder/decoder_conv0`` (1x1 conv F ->
  19 on the upsampled gated features) and ``decoder/feature_projection0`` (1x1 conv of the 1/8 features -> 19),
  summed (``--decoder_use_sum_merge``, ``--decoder_output_is_logits``).
  -> an mmseg ``EncoderDecoder`` with :class:`~mmv3.models.decode_heads.LRASPPHead` (:func:`deeplab_model_config`).

Every variable of the checkpoint is consumed exactly once or dropped by one of these rules (nothing else is
skipped; a left-over variable refuses the conversion, as does a missing one):

- ``global_step`` and the optimizers' bookkeeping: slots ``<var>/<slot>`` of a variable ``<var>`` of the
  checkpoint with ``<slot>`` in :data:`OPTIMIZER_SLOTS` (Momentum, RMSProp, Adam, ...), Adam's
  ``beta1_power`` / ``beta2_power``;
- ``ExponentialMovingAverage`` shadows ``<var>/ExponentialMovingAverage``: by default the shadow *replaces*
  ``<var>`` (``ema=True``), which is what slim's ``eval_image_classifier.py --moving_average_decay`` evaluates
  and reports; ``ema=False`` keeps the raw ``<var>`` and drops the shadow.

The TF models differ from PyTorch's MobileNetV3 in three ways the configs set as arguments: TF's ``'SAME'``
padding (``pad_type='same'``), BN epsilon 1e-3 (head BN of DeepLab 1e-5) and the hard-sigmoid constant
``relu6(x + 3) * 0.16667`` of the SE gates and of DeepLab's gate (``mmv3.QSigmoid``).
"""
import copy
import re
from collections import OrderedDict

import numpy as np
import torch

from .common import ConversionError, TrackedStateDict
from .tf_checkpoint import TFCheckpoint

SOURCES = ('slim', 'deeplab')
ARCHS = ('large', 'small')
NUM_BLOCKS = dict(large=15, small=11)
SCOPE = 'MobilenetV3'
#: slot variables TF1 optimizers add as ``<var>/<slot>`` (tf.compat.v1.train.*Optimizer)
OPTIMIZER_SLOTS = ('Momentum', 'RMSProp', 'RMSProp_1', 'Adam', 'Adam_1', 'Adagrad', 'AdagradDA',
                   'AdagradDA_1', 'Ftrl', 'Ftrl_1', 'ProximalAdagrad', 'Adadelta', 'Adadelta_1')
GLOBAL_BOOKKEEPING = ('global_step', 'beta1_power', 'beta2_power')
EMA_SUFFIX = '/ExponentialMovingAverage'
WIDTH_CANDIDATES = (1.0, 0.75, 0.5, 0.35, 0.25)
TF_BN_EPS = 1e-3  # slim.batch_norm's default epsilon (the MobileNet backbones)
DEEPLAB_HEAD_BN_EPS = 1e-5  # research/deeplab/model.py: ASPP / decoder batch norm epsilon
QSIGMOID = dict(type='mmv3.QSigmoid', scale=0.16667)


# ------------------------------------------------------------------------------------------------------
# reading: the variables a conversion consumes
# ------------------------------------------------------------------------------------------------------
def select_variables(tensors, ema=True):
    """Apply the documented drop rules to a checkpoint's ``tensors`` (name -> array).

    Returns:
        tuple: (``OrderedDict`` of the model's variables, ``dict(dropped=[...], ema=[...])``: the names
        dropped by a rule and the variables whose moving average was used).
    """
    names = set(tensors)
    model, dropped, used_ema = OrderedDict(), [], []
    for name, value in tensors.items():
        base, _, last = name.rpartition('/')
        if name in GLOBAL_BOOKKEEPING or (last in OPTIMIZER_SLOTS and base in names):
            dropped.append(name)
        elif name.endswith(EMA_SUFFIX) and name[:-len(EMA_SUFFIX)] in names:
            if ema:
                model[name[:-len(EMA_SUFFIX)]] = value
                used_ema.append(name[:-len(EMA_SUFFIX)])
            else:
                dropped.append(name)
        elif name + EMA_SUFFIX in names and ema:
            dropped.append(name)  # replaced by its moving average
        else:
            model.setdefault(name, value)
    return model, dict(dropped=dropped, ema=used_ema)


def read_variables(path, ema=True, verify_crc=True):
    """The model variables of the TF checkpoint at ``path`` (see :func:`select_variables`)."""
    return select_variables(TFCheckpoint(path, verify_crc=verify_crc).read_all(), ema=ema)


# ------------------------------------------------------------------------------------------------------
# tensor layouts
# ------------------------------------------------------------------------------------------------------
def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _conv(w):
    """TF conv kernel (kh, kw, in, out) -> PyTorch (out, in, kh, kw)."""
    return _t(w.transpose(3, 2, 0, 1))


def _depthwise(w):
    """TF depthwise kernel (kh, kw, channels, 1) -> PyTorch grouped conv (channels, 1, kh, kw)."""
    return _t(w.transpose(2, 3, 0, 1))


def _linear(w):
    """TF 1x1 conv kernel (1, 1, in, out) -> PyTorch Linear (out, in)."""
    if w.shape[:2] != (1, 1):
        raise ConversionError(f'expected a 1x1 conv kernel, got shape {w.shape}')
    return _t(w[0, 0].T)


def _bn(sd, out, src, dst):
    out[f'{dst}.weight'] = _t(sd.take(f'{src}/gamma'))
    out[f'{dst}.bias'] = _t(sd.take(f'{src}/beta'))
    out[f'{dst}.running_mean'] = _t(sd.take(f'{src}/moving_mean'))
    out[f'{dst}.running_var'] = _t(sd.take(f'{src}/moving_variance'))
    out[f'{dst}.num_batches_tracked'] = torch.tensor(0)


def _conv_bn(sd, out, src, dst, depthwise=False):
    key = f'{src}/depthwise/depthwise_weights' if depthwise else f'{src}/weights'
    out[f'{dst}.conv.weight'] = (_depthwise if depthwise else _conv)(sd.take(key))
    _bn(sd, out, f'{src}/depthwise/BatchNorm' if depthwise else f'{src}/BatchNorm', f'{dst}.bn')


def num_blocks_of(variables):
    """How many ``expanded_conv`` blocks the checkpoint's MobilenetV3 has."""
    ids = {m.group(1) or '0' for m in (re.match(rf'{SCOPE}/expanded_conv(?:_(\d+))?/', k) for k in variables) if m}
    return len(ids)


def check_source(variables, source, arch):
    """One-line refusals for a checkpoint that is not ``source`` / ``arch`` (before any tensor is mapped)."""
    if source not in SOURCES:
        raise ConversionError(f'--source {source!r} is not one of {list(SOURCES)}')
    if arch not in ARCHS:
        raise ConversionError(f'--arch {arch!r} is not one of {list(ARCHS)}')
    scopes = sorted({k.split('/')[0] for k in variables})
    if f'{SCOPE}/Conv/weights' not in variables:
        raise ConversionError(f'not a TF MobileNetV3 checkpoint: no {SCOPE}/Conv/weights; its variables are under '
                              f'{scopes[:6]}')
    is_deeplab = 'aspp0/weights' in variables or 'image_pooling/weights' in variables
    is_slim = f'{SCOPE}/Logits/Conv2d_1c_1x1/weights' in variables
    if source == 'slim' and not is_slim:
        hint = ' (it has aspp0 / image_pooling: a DeepLab model, use --source deeplab)' if is_deeplab else ''
        raise ConversionError(f'not a slim MobileNetV3 classification checkpoint: no {SCOPE}/Logits{hint}')
    if source == 'deeplab' and not is_deeplab:
        hint = ' (it has MobilenetV3/Logits: a slim classifier, use --source slim)' if is_slim else ''
        raise ConversionError(f'not a DeepLab MobileNetV3 checkpoint: no aspp0 / image_pooling{hint}')
    n = num_blocks_of(variables)
    found = {v: k for k, v in NUM_BLOCKS.items()}.get(n)
    if found != arch:
        what = f'MobileNetV3-{found.capitalize()}' if found else f'a network with {n} MobileNetV3 blocks'
        raise ConversionError(f'--arch {arch} but the checkpoint is {what} ({n} expanded_conv blocks); '
                              f'use --arch {found}' if found else f'--arch {arch} but the checkpoint is {what}')


def _backbone(sd, out, arch, dst='backbone.'):
    """slim's MobileNetV3 variables -> mmv3 ``MobileNetV3`` keys (``layer0`` stem .. ``layer{N+1}`` final conv)."""
    _conv_bn(sd, out, f'{SCOPE}/Conv', f'{dst}layer0')
    n = NUM_BLOCKS[arch]
    for i in range(1, n + 1):
        src = f'{SCOPE}/expanded_conv' + ('' if i == 1 else f'_{i - 1}')
        p = f'{dst}layer{i}'
        if f'{src}/expand/weights' in sd:
            _conv_bn(sd, out, f'{src}/expand', f'{p}.expand_conv')
        _conv_bn(sd, out, src, f'{p}.depthwise_conv', depthwise=True)
        if f'{src}/squeeze_excite/Conv/weights' in sd:
            for j, name in ((1, 'Conv'), (2, 'Conv_1')):
                out[f'{p}.se.conv{j}.conv.weight'] = _conv(sd.take(f'{src}/squeeze_excite/{name}/weights'))
                out[f'{p}.se.conv{j}.conv.bias'] = _t(sd.take(f'{src}/squeeze_excite/{name}/biases'))
        _conv_bn(sd, out, f'{src}/project', f'{p}.linear_conv')
    _conv_bn(sd, out, f'{SCOPE}/Conv_1', f'{dst}layer{n + 1}')


def _backbone_shapes(arch, widen_factor, **kwargs):
    from mmv3.models.backbones import MobileNetV3
    bb = MobileNetV3(arch=arch, widen_factor=widen_factor, out_indices=(NUM_BLOCKS[arch] + 1, ), init_cfg=None,
                     **kwargs)
    return {k: tuple(v.shape) for k, v in bb.state_dict().items()}


def infer_widen_factor(out, arch, widen_factor=None, prefix='backbone.', **kwargs):
    """The width multiplier whose mmv3 backbone has exactly the converted tensors' shapes."""
    want = {k[len(prefix):]: tuple(v.shape) for k, v in out.items() if k.startswith(prefix)}
    candidates = WIDTH_CANDIDATES if widen_factor is None else (widen_factor, )
    best = None
    for w in candidates:
        have = _backbone_shapes(arch, w, **kwargs)
        if have == want:
            return w
        bad = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        if best is None or len(bad) < len(best[1]):
            best = (w, bad, have)
    w, bad, have = best
    raise ConversionError(
        f'no MobileNetV3-{arch.capitalize()} width multiplier in {list(candidates)} has this checkpoint\'s shapes; '
        f'nearest {w}: {len(bad)} tensors differ, e.g. {bad[0]} checkpoint {want.get(bad[0])} vs mmv3 '
        f'{have.get(bad[0])} (give --widen-factor for another multiplier)')


# ------------------------------------------------------------------------------------------------------
# slim classification
# ------------------------------------------------------------------------------------------------------
def slim_model_config(arch, widen_factor, head_channels, num_classes):
    """The mmpretrain ``ImageClassifier`` that computes slim's ``mobilenet_v3`` logits."""
    n = NUM_BLOCKS[arch]
    from mmv3.models.backbones import MobileNetV3
    final = MobileNetV3(arch=arch, widen_factor=widen_factor, out_indices=(n + 1, ), init_cfg=None).out_channels[0]
    return dict(
        type='ImageClassifier',
        backbone=dict(type='mmv3.MobileNetV3', arch=arch, widen_factor=widen_factor, out_indices=(n + 1, ),
                      pad_type='same', se_gate_cfg=dict(QSIGMOID),
                      norm_cfg=dict(type='BN', eps=TF_BN_EPS, momentum=0.01)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='StackedLinearClsHead', num_classes=num_classes, in_channels=final,
                  mid_channels=[head_channels], dropout_rate=0.2, act_cfg=dict(type='HSwish'),
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))


def convert_slim(variables, arch, widen_factor=None, keep_background=False):
    """slim MobileNetV3 classifier variables -> (mmpretrain state dict, model config).

    Args:
        variables (dict): name -> array, after :func:`select_variables`.
        arch (str): ``'large'`` or ``'small'`` (checked against the checkpoint).
        widen_factor (float, optional): Default: inferred from the shapes (:data:`WIDTH_CANDIDATES`).
        keep_background (bool): Keep TF's background logit (slot 0; 1001 classes). Default: drop it, so
            that class ``i`` is ImageNet class ``i`` as mmpretrain numbers them (slim's label ``i + 1``).
    """
    check_source(variables, 'slim', arch)
    sd = TrackedStateDict(variables)
    out = OrderedDict()
    _backbone(sd, out, arch)
    out['head.layers.0.fc.weight'] = _linear(sd.take(f'{SCOPE}/Conv_2/weights'))
    out['head.layers.0.fc.bias'] = _t(sd.take(f'{SCOPE}/Conv_2/biases'))
    w = _linear(sd.take(f'{SCOPE}/Logits/Conv2d_1c_1x1/weights'))
    b = _t(sd.take(f'{SCOPE}/Logits/Conv2d_1c_1x1/biases'))
    if not keep_background:
        w, b = w[1:], b[1:]
    out['head.layers.1.fc.weight'], out['head.layers.1.fc.bias'] = w, b
    sd.check_all_used("mmv3's MobileNetV3 classifier (slim)")
    width = infer_widen_factor(out, arch, widen_factor, pad_type='same')
    cfg = slim_model_config(arch, width, out['head.layers.0.fc.weight'].shape[0], w.shape[0])
    return out, cfg


# ------------------------------------------------------------------------------------------------------
# DeepLab LR-ASPP
# ------------------------------------------------------------------------------------------------------
#: research/deeplab/g3doc/model_zoo.md: the flags of the MobileNetV3 Cityscapes models (training and eval)
DEEPLAB_ZOO_FLAGS = dict(image_pooling_crop_size=(769, 769), image_pooling_stride=(4, 5), aspp_convs_filters=128,
                         output_stride=32, decoder_output_stride=8, decoder_filters=19)
#: research/deeplab/core/feature_extractor.py networks_to_feature_maps[...][DECODER_END_POINTS][8]: the
#: 1/8 features are 'layer_7/depthwise_output' (Large) / 'layer_4/depthwise_output' (Small); slim's layer_i is
#: spec entry i - 1 (layer_1 = the stem), i.e. mmv3's block 6 / 3
DEEPLAB_SKIP_TAP = dict(large='6.depthwise', small='3.depthwise')


def scale_dimension(dim, scale):
    """research/deeplab/core/utils.py ``scale_dimension``: ``int((dim - 1) * scale + 1)``."""
    return int((float(dim) - 1.0) * scale + 1.0)


def deeplab_model_config(arch, widen_factor=1.0, num_classes=19, image_pooling_crop_size=(769, 769),
                         image_pooling_stride=(4, 5), aspp_convs_filters=128, output_stride=32):
    """The mmseg ``EncoderDecoder`` that computes DeepLab's logits for the model zoo's MobileNetV3 flags.

    Each flag is an argument (research/deeplab/common.py, model.py):

    - ``--model_variant=mobilenet_v3_{large,small}_seg``: ``reduce_tail='rf2'`` (feature_extractor.py halves
      the last stage and its first expansion), ``pad_type='same'``, ``se_gate_cfg=QSigmoid``, BN eps 1e-3;
    - ``--output_stride=32``: ``output_stride=32`` (no atrous convolution);
    - ``--decoder_output_stride=8``: the 1/8 tap :data:`DEEPLAB_SKIP_TAP` and the logits at 1/8;
    - ``--image_pooling_crop_size=769,769``: ``pool_kernel = scale_dimension(769, 1/32) = 25``;
    - ``--image_pooling_stride=4,5``: ``pool_stride=(4, 5)``;
    - ``--aspp_convs_filters=128``: ``channels=128`` (F);
    - ``--add_image_level_feature --aspp_with_squeeze_and_excitation --aspp_with_concat_projection=0``: the
      LR-ASPP gating (branch B multiplies branch A, no projection, no dropout);
    - ``--image_se_uses_qsigmoid``: ``gate_act_cfg=QSigmoid`` (with the 1x1 conv's bias: ``gate_bias=True``);
    - ``--decoder_use_sum_merge --decoder_output_is_logits --decoder_filters=19``: ``conv_seg`` (1x1, bias) on
      the upsampled gated features plus ``skip_cls`` (1x1, bias) on the 1/8 features;
    - ASPP / decoder batch norm: epsilon 1e-5, decay 0.9997 (momentum 0.0003); every resize bilinear with
      ``align_corners=True`` (``utils.resize_bilinear``).
    """
    from mmv3.models.backbones import MobileNetV3
    n = NUM_BLOCKS[arch]
    taps = (DEEPLAB_SKIP_TAP[arch], n + 1)
    bb = dict(type='mmv3.MobileNetV3', arch=arch, widen_factor=widen_factor, out_indices=taps,
              output_stride=output_stride, reduce_tail='rf2', pad_type='same', se_gate_cfg=dict(QSIGMOID),
              norm_cfg=dict(type='BN', eps=TF_BN_EPS, momentum=0.01), init_cfg=None)
    in_channels = MobileNetV3(**{k: v for k, v in bb.items() if k != 'type'}).out_channels
    pool = tuple(scale_dimension(c, 1.0 / output_stride) for c in image_pooling_crop_size)
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                               bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
        backbone=bb,
        decode_head=dict(
            type='mmv3.LRASPPHead', in_channels=tuple(in_channels), in_index=(0, 1), channels=aspp_convs_filters,
            pool_kernel=pool, pool_stride=tuple(image_pooling_stride), gate_bias=True,
            gate_act_cfg=dict(QSIGMOID), dropout_ratio=0.0, num_classes=num_classes,
            norm_cfg=dict(type='BN', eps=DEEPLAB_HEAD_BN_EPS, momentum=0.0003), act_cfg=dict(type='ReLU'),
            align_corners=True, loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def convert_deeplab(variables, arch, widen_factor=None, image_pooling_crop_size=(769, 769),
                    image_pooling_stride=(4, 5)):
    """DeepLab MobileNetV3 LR-ASPP variables -> (mmseg state dict, model config).

    Args:
        variables (dict): name -> array, after :func:`select_variables`.
        arch (str): ``'large'`` or ``'small'`` (checked against the checkpoint).
        widen_factor (float, optional): ``--depth_multiplier``; default: inferred from the shapes.
        image_pooling_crop_size, image_pooling_stride: the training run's flags (default: the model zoo's);
            they set branch B's pooling and are not recorded in the checkpoint.
    """
    check_source(variables, 'deeplab', arch)
    sd = TrackedStateDict(variables)
    out = OrderedDict()
    _backbone(sd, out, arch)
    h = 'decode_head.'
    out[f'{h}conv_high.conv.weight'] = _conv(sd.take('aspp0/weights'))
    _bn(sd, out, 'aspp0/BatchNorm', f'{h}conv_high.bn')
    out[f'{h}conv_gate.weight'] = _conv(sd.take('image_pooling/weights'))
    out[f'{h}conv_gate.bias'] = _t(sd.take('image_pooling/biases'))
    out[f'{h}conv_seg.weight'] = _conv(sd.take('decoder/decoder_conv0/weights'))
    out[f'{h}conv_seg.bias'] = _t(sd.take('decoder/decoder_conv0/biases'))
    out[f'{h}skip_cls.weight'] = _conv(sd.take('decoder/feature_projection0/weights'))
    out[f'{h}skip_cls.bias'] = _t(sd.take('decoder/feature_projection0/biases'))
    sd.check_all_used("mmv3's LR-ASPP (DeepLab)")
    width = infer_widen_factor(out, arch, widen_factor, reduce_tail='rf2', output_stride=32, pad_type='same')
    cfg = deeplab_model_config(arch, width, num_classes=out[f'{h}conv_seg.weight'].shape[0],
                               image_pooling_crop_size=image_pooling_crop_size,
                               image_pooling_stride=image_pooling_stride,
                               aspp_convs_filters=out[f'{h}conv_high.conv.weight'].shape[0])
    return out, cfg


# ------------------------------------------------------------------------------------------------------
# building and checking
# ------------------------------------------------------------------------------------------------------
def build_model(cfg, state_dict=None, scope='mmpretrain'):
    """Build ``cfg`` in the toolbox ``scope`` (eval mode) and load ``state_dict`` strictly (shapes checked)."""
    import mmv3  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg))
    if state_dict is not None:
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as e:
            lines = str(e).splitlines()
            raise ConversionError(f'converted tensors do not fit the mmv3 model: {" ".join(lines[:3])[:400]}') \
                from None
    return model.eval()


def convert_checkpoint(path, source, arch, ema=True, widen_factor=None, keep_background=False, verify_crc=True,
                       **deeplab_flags):
    """Read the TF checkpoint at ``path`` and convert it (see :func:`convert_slim` / :func:`convert_deeplab`).

    Returns:
        tuple: (state dict, model config, report ``dict(dropped=..., ema=..., source=..., arch=...)``).
    """
    if source not in SOURCES:
        raise ConversionError(f'--source {source!r} is not one of {list(SOURCES)}')
    if arch not in ARCHS:
        raise ConversionError(f'--arch {arch!r} is not one of {list(ARCHS)}')
    variables, report = read_variables(path, ema=ema, verify_crc=verify_crc)
    if source == 'slim':
        out, cfg = convert_slim(variables, arch, widen_factor, keep_background)
    else:
        out, cfg = convert_deeplab(variables, arch, widen_factor, **deeplab_flags)
    report.update(source=source, arch=arch, num_variables=len(variables))
    return out, cfg, report
