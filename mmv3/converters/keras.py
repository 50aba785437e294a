"""Keras applications' ``MobileNetV3Large`` / ``MobileNetV3Small`` weights -> mmv3 (mmpretrain) config + checkpoint.

Reads the weight files with ``h5py`` only (no TensorFlow), in the three layouts Keras writes:

- **legacy HDF5** (Keras 2 ``model.save_weights('x.h5')``; the files ``MobileNetV3Large(weights='imagenet')``
  downloads, ``weights_mobilenet_v3_{large,small}[_minimalistic]_224_{1.0,0.75}_float[_no_top_v2].h5``):
  a ``layer_names`` attribute lists the layers in model order, each layer group a ``weight_names``
  attribute naming its datasets;
- **legacy full model** (``model.save('x.h5')``, Keras 2 or 3): the same under a ``model_weights`` group
  (an ``optimizer_weights`` group is optimizer state, not the model's, and is left out);
- **``.weights.h5``** (Keras 3 ``save_weights``; Keras 2.13+ with that suffix): ``layers/<auto name>/vars/<i>``,
  the auto name being the layer's class with a per-class counter in model order (``conv2d_3``,
  ``batch_normalization_12``, ``depthwise_conv2d``), so the counters give each class's order.

The layers are consumed in the model's order, as Keras itself loads a legacy file (by order, not
by name: files written by Keras 2 carry its names ``Conv``, ``expanded_conv_1/expand`` ..., which
Keras 3 has renamed), and each is checked against the mmv3 layer it becomes: every dataset of the file
is read exactly once (:class:`~mmv3.converters.common.TrackedStateDict`; a leftover or a second read is
an error), every shape is checked, and the result is loaded into the mmv3 model with ``strict=True``.

The architecture, read from the Keras source (``keras/src/applications/mobilenet_v3.py``, Keras 2.15
and 3.x compute the same function) and how mmv3 expresses each detail:

- inputs: a ``Rescaling(1 / 127.5, offset=-1)`` layer on RGB pixels in 0..255 -> mmpretrain's
  ``data_preprocessor`` mean = std = 127.5, ``to_rgb=True`` (mmv3's default);
- stem ``Conv2D(16, 3, strides=2, padding='same')`` (16 whatever ``alpha``: mmv3 rounds 16 x alpha to 8,
  the same for alpha >= 0.75), BN eps 1e-3 (momentum 0.999, a training setting only);
- blocks as Tables 1 / 2, every width ``_depth`` = mmv3's ``make_divisible``; an expansion conv in every
  block but the first; strided depthwise convs after ``ZeroPadding2D(correct_pad(x, k))`` with a VALID
  conv: in a model built with ``input_shape=None`` (the default) ``correct_pad`` does not know the size
  and pads ``(k//2 - 1, k//2)``, TF SAME of an even size -> ``pad_type='keras'``
  (:class:`~mmv3.models.layers.conv2d_same.Conv2dSameEven`; equal to ``'same'`` at 224x224 and at every
  size with a known ``input_shape``);
- SE: global pooling, ``Conv2D(_depth(exp / 4))`` with bias, ReLU, ``Conv2D(exp)`` with bias, hard-sigmoid
  ``relu6(x + 3) / 6`` (mmv3's SELayer; Keras' hard-swish is ``x * relu6(x + 3) / 6``, ``nn.Hardswish``);
- the final ``Conv2D(_depth(last * 6), 1)`` without bias + BN + activation = mmv3's last backbone layer;
- top: global average pooling, ``Conv2D(1280 | 1024, 1)`` with bias, no BN, activation, ``Dropout(0.2)``,
  ``Conv2D(classes, 1)`` with bias, ``Flatten``, softmax = ``GlobalAveragePooling`` +
  ``StackedLinearClsHead(mid_channels=[1280 | 1024], dropout_rate=0.2)`` (the head width is the file's:
  Keras scales it for ``alpha > 1`` only); ``include_top=False`` files give a backbone-only checkpoint;
- ``minimalistic=True``: 3x3 kernels, no SE, ReLU everywhere (head included) -> the backbone's
  ``minimalistic=True`` and the head's ``act_cfg=dict(type='ReLU')``.
"""
import os.path as osp
import re
import zipfile
from collections import OrderedDict, deque

import numpy as np
import torch

from .common import ConversionError, TrackedStateDict

ARCHS = ('large', 'small')
NUM_BLOCKS = dict(large=15, small=11)
ALPHAS = (1.0, 0.75, 0.5, 0.35, 1.25)  # tried in this order; Keras publishes 1.0 and 0.75
KERAS_BN_EPS = 1e-3
BN_ROLES = ('gamma', 'beta', 'moving_mean', 'moving_variance')
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var')
_CLASS_KIND = {'conv2d': 'conv', 'depthwise_conv2d': 'depthwise', 'batch_normalization': 'bn'}
_KIND_NAME = dict(conv='Conv2D', depthwise='DepthwiseConv2D', bn='BatchNormalization')
# Keras' published accuracies (ImageNet-1k val top-1, the table of the MobileNetV3 docstring in
# keras/src/applications/mobilenet_v3.py), by the weight file's model name.
KERAS_TOP1 = {
    'large_224_1.0_float': 75.6, 'large_224_0.75_float': 73.3, 'large_minimalistic_224_1.0_float': 72.3,
    'small_224_1.0_float': 68.1, 'small_224_0.75_float': 65.4, 'small_minimalistic_224_1.0_float': 61.9,
}
KERAS_WEIGHTS_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/'
# md5 of the published files (WEIGHTS_HASHES in the same Keras file: (with top, no top)); a file with one
# of these names is checked against it, so a damaged download is refused instead of converted.
_KERAS_MD5 = {
    'large_224_0.75_float': ('765b44a33ad4005b3ac83185abf1d0eb', '40af19a13ebea4e2ee0c676887f69a2e'),
    'large_224_1.0_float': ('59e551e166be033d707958cf9e29a6a7', '07fb09a5933dd0c8eaafa16978110389'),
    'large_minimalistic_224_1.0_float': ('675e7b876c45c57e9e63e6d90a36599c', 'ec5221f64a2f6d1ef965a614bdae7973'),
    'small_224_0.75_float': ('cb65d4e5be93758266aa0a7f2c6708b7', 'ebdb5cc8e0b497cd13a7c275d475c819'),
    'small_224_1.0_float': ('8768d4c2e7dee89b9d02b2d03d65d862', 'd3e8ec802a04aa4fc771ee12a9a9b836'),
    'small_minimalistic_224_1.0_float': ('99cd97fb2fcdad2bf028eb838de69e37', 'cde8136e733e811080d9fcd8a252f7e4'),
}
KERAS_FILE_MD5 = {f'weights_mobilenet_v3_{name}{suffix}.h5': md5
                  for name, pair in _KERAS_MD5.items() for suffix, md5 in zip(('', '_no_top_v2'), pair)}


class KerasLayer:
    """One Keras layer with variables: ``name``, ``kind`` (``'conv'``, ``'depthwise'``, ``'bn'``) and the
    dataset paths of its variables in Keras' order (kernel, bias / gamma, beta, moving mean, variance)."""

    def __init__(self, name, kind, paths):
        self.name, self.kind, self.paths = name, kind, list(paths)


class KerasWeights:
    """The variables of a Keras weights file, layout-independent.

    Attributes:
        path (str): The file.
        layout (str): Which Keras layout it has (for messages).
        tensors (TrackedStateDict): Every dataset of the model's weights, by its path in the file.
        layers (list[KerasLayer]): The layers with variables, in model order (legacy layouts) or in
            per-class order (``.weights.h5``: ``ordered=False``).
        ordered (bool): Whether ``layers`` is in model order; otherwise each kind is in model order.
        notes (list[str]): What was left out and why (optimizer state).
    """

    def __init__(self, path, layout, tensors, layers, ordered, notes):
        self.path, self.layout, self.tensors, self.layers = path, layout, tensors, layers
        self.ordered, self.notes = ordered, notes

    def count(self, kind):
        return sum(layer.kind == kind for layer in self.layers)


def _str(v):
    return v.decode('utf8') if isinstance(v, bytes) else str(v)


def _names(attr):
    return [_str(v) for v in np.asarray(attr).reshape(-1)]


def _datasets(group, skip=()):
    """``{relative path: numpy array}`` of every dataset under ``group`` (top-level names in ``skip`` left out)."""
    import h5py
    out = OrderedDict()

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.split('/')[0] not in skip:
            out[name] = np.asarray(obj[()])
    group.visititems(visit)
    return out


def _legacy_kind(name, weight_names, shapes):
    """The layer's class from its variables: Keras 2 names a depthwise kernel ``depthwise_kernel``, Keras 3
    ``kernel``; a kernel of shape (k, k, C, 1) with k > 1 is a depthwise one (MobileNetV3's dense convs with
    k > 1, the stem, have 16 outputs)."""
    base = [w.split('/')[-1].split(':')[0] for w in weight_names]
    if base == list(BN_ROLES):
        return 'bn'
    if base == ['depthwise_kernel'] or (base == ['kernel'] and len(shapes[0]) == 4 and shapes[0][3] == 1
                                        and shapes[0][0] > 1):
        return 'depthwise'
    if base in (['kernel'], ['kernel', 'bias']) and len(shapes[0]) == 4:
        return 'conv'
    raise ConversionError(f'Keras layer {name!r} has variables {base} with shapes {shapes}: not a layer of a '
                          'MobileNetV3 (Conv2D, DepthwiseConv2D, BatchNormalization)')


def _read_legacy(path, f):
    notes = []
    root = f
    if 'layer_names' not in f.attrs:
        root = f['model_weights']
        if 'optimizer_weights' in f:
            notes.append('the file\'s optimizer_weights (optimizer state, not model variables) were left out')
    tensors = TrackedStateDict(_datasets(root))
    layers = []
    for name in _names(root.attrs['layer_names']):
        if name not in root:
            raise ConversionError(f'{path}: layer {name!r} is listed in layer_names but has no group: the file is '
                                  'damaged')
        wnames = _names(root[name].attrs.get('weight_names', []))
        if not wnames:
            continue
        paths = [f'{name}/{w}' for w in wnames]
        missing = [p for p in paths if p not in tensors]
        if missing:
            raise ConversionError(f'{path}: variable {missing[0]!r} is listed but missing: the file is damaged')
        layers.append(KerasLayer(name, _legacy_kind(name, wnames, [tensors.data[p].shape for p in paths]), paths))
    layout = ('legacy HDF5 weights (Keras 2 save_weights / keras.applications download)' if root is f else
              'legacy HDF5 full model (model.save, model_weights group)')
    return KerasWeights(path, layout, tensors, layers, True, notes)


def _read_weights_h5(path, f):
    notes = []
    skip = ()
    if 'optimizer' in f:
        skip = ('optimizer', )
        notes.append('the file\'s optimizer group (optimizer state, not model variables) was left out')
    tensors = TrackedStateDict(_datasets(f, skip))
    layers = []
    for gname in f['layers']:
        g = f['layers'][gname]
        vars_ = g['vars'] if 'vars' in g else {}
        if not len(vars_):
            continue
        m = re.fullmatch(r'(.*?)(?:_(\d+))?', gname)
        kind = _CLASS_KIND.get(m.group(1))
        real = _str(vars_.attrs.get('name', gname)) if hasattr(vars_, 'attrs') else gname
        if kind is None:
            raise ConversionError(f'{path}: layer {gname!r} ({real}) has variables but is not a Conv2D, '
                                  'DepthwiseConv2D or BatchNormalization: not a Keras MobileNetV3')
        keys = sorted(vars_, key=lambda k: int(k) if k.isdigit() else -1)
        paths = [f'layers/{gname}/vars/{k}' for k in keys]
        layer = KerasLayer(f'{real} ({gname})' if real != gname else gname, kind, paths)
        layer.order = int(m.group(2) or 0)
        layers.append(layer)
    layers.sort(key=lambda layer: (layer.kind, layer.order))
    layout = '.weights.h5 (Keras 3 save_weights; Keras 2.13+ with that suffix)'
    return KerasWeights(path, layout, tensors, layers, False, notes)


def check_published_md5(path):
    """A file named as one of Keras' published MobileNetV3 weights must have its md5 (Keras' own check)."""
    want = KERAS_FILE_MD5.get(osp.basename(path))
    if want is None:
        return
    import hashlib
    md5 = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            md5.update(chunk)
    if md5.hexdigest() != want:
        raise ConversionError(f'{path} has md5 {md5.hexdigest()}, but Keras publishes {osp.basename(path)} with md5 '
                              f'{want}: a damaged or different file; download it again from {KERAS_WEIGHTS_URL}')


def read_keras_h5(path):
    """Open a Keras weights file (any of the three layouts) with h5py: a :class:`KerasWeights`.

    Raises:
        ConversionError: missing / truncated / not HDF5 / a ``.keras`` archive / not Keras' layout.
    """
    if not osp.isfile(path):
        raise ConversionError(f'weights file {path!r} does not exist')
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if 'model.weights.h5' in z.namelist():
                raise ConversionError(f'{path} is a .keras archive (zip): unzip it and convert the model.weights.h5 '
                                      'inside (unzip -o FILE.keras model.weights.h5)')
        raise ConversionError(f'{path} is a zip archive (a PyTorch checkpoint?), not a Keras HDF5 weights file '
                              '(.h5 / .weights.h5)')
    check_published_md5(path)
    try:
        import h5py
    except ImportError:
        raise ConversionError('reading Keras weight files needs h5py: pip install h5py '
                              '(it is in requirements/optional.txt)') from None
    try:
        f = h5py.File(path, 'r')
    except OSError as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f'{path} is not a readable HDF5 file ({why}): a truncated or damaged download? '
                              'Download it again') from None
    try:
        with f:
            if 'layer_names' in f.attrs or ('model_weights' in f and 'layer_names' in f['model_weights'].attrs):
                return _read_legacy(path, f)
            if 'layers' in f:
                return _read_weights_h5(path, f)
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        if isinstance(e, ConversionError):
            raise
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f'{path}: reading the HDF5 data failed ({why}): the file is damaged') from None
    raise ConversionError(f'{path} is an HDF5 file but not Keras weights: expected a layer_names attribute '
                          '(Keras 2 save_weights / keras.applications download), a model_weights group '
                          "(model.save('x.h5')) or a layers group (Keras 3 .weights.h5)")


class _Stream:
    """Hands out the file's layers in the order the mmv3 walk asks for them (see :class:`KerasWeights`)."""

    def __init__(self, src):
        self.src = src
        if src.ordered:
            self.queue = deque(src.layers)
        else:
            self.queues = {k: deque(layer for layer in src.layers if layer.kind == k) for k in _KIND_NAME}

    def next(self, kind, what):
        q = self.queue if self.src.ordered else self.queues[kind]
        if not q:
            raise ConversionError(f'the file has no {_KIND_NAME[kind]} left for {what}: it holds fewer layers '
                                  'than this MobileNetV3 (truncated, or another model)')
        layer = q.popleft()
        if layer.kind != kind:
            raise ConversionError(f'Keras layer {layer.name!r} is a {_KIND_NAME[layer.kind]}, expected the '
                                  f'{_KIND_NAME[kind]} of {what}: the layers are not those of this MobileNetV3')
        return layer

    def left(self, kind=None):
        if self.src.ordered:
            return [layer for layer in self.queue if kind is None or layer.kind == kind]
        return [layer for k, q in self.queues.items() if kind is None or k == kind for layer in q]


def _take(src, layer, i, shape, what):
    """Variable ``i`` of ``layer`` as float32 numpy, checked against the Keras ``shape``."""
    v = src.tensors.take(layer.paths[i])
    if tuple(v.shape) != tuple(shape):
        raise ConversionError(f'Keras layer {layer.name!r} ({what}) has a variable of shape {tuple(v.shape)}, this '
                              f'MobileNetV3 needs {tuple(shape)}')
    return v.astype(np.float32)


def _conv(src, stream, out, dst, kh, cin, cout, what, bias=False, depthwise=False, linear=False):
    """One Keras (depthwise) conv -> ``dst.weight`` (+ ``dst.bias``): HWIO / HWC1 -> OIHW / C1HW."""
    layer = stream.next('depthwise' if depthwise else 'conv', what)
    n = 2 if bias else 1
    if len(layer.paths) != n:
        raise ConversionError(f'Keras layer {layer.name!r} ({what}) has {len(layer.paths)} variables, expected '
                              f'{n} ({"kernel and bias" if bias else "a kernel without bias"})')
    k = _take(src, layer, 0, (kh, kh, cin, 1) if depthwise else (kh, kh, cin, cout), what)
    w = torch.from_numpy(np.ascontiguousarray(k.transpose(2, 3, 0, 1) if depthwise else k.transpose(3, 2, 0, 1)))
    out[f'{dst}.weight'] = w.flatten(1) if linear else w
    if bias:
        out[f'{dst}.bias'] = torch.from_numpy(_take(src, layer, 1, (cout, ), what))


def _bn(src, stream, out, dst, c, what):
    layer = stream.next('bn', what)
    if len(layer.paths) != 4:
        raise ConversionError(f'Keras layer {layer.name!r} ({what}) has {len(layer.paths)} variables, expected '
                              'BatchNormalization\'s 4 (gamma, beta, moving_mean, moving_variance)')
    for i, key in enumerate(BN_KEYS):
        out[f'{dst}.{key}'] = torch.from_numpy(_take(src, layer, i, (c, ), what))
    out[f'{dst}.num_batches_tracked'] = torch.tensor(0, dtype=torch.long)


def _walk(src, arch, alpha, minimalistic):
    """Map the file onto the mmv3 model of (arch, alpha, minimalistic): (state dict, head width, classes)."""
    from mmv3.models.backbones import MobileNetV3
    from mmv3.models.backbones.base_mobilenet import se_channels
    bb = MobileNetV3(arch, widen_factor=alpha, minimalistic=minimalistic, out_indices=(NUM_BLOCKS[arch] + 1, ))
    plan, stream, out = bb.plan, _Stream(src), OrderedDict()
    p = plan[0]
    _conv(src, stream, out, 'backbone.layer0.conv', p.k, 3, p.out, 'the stem conv')
    _bn(src, stream, out, 'backbone.layer0.bn', p.out, 'the stem BN')
    for i, p in enumerate(plan[1:-1], start=1):
        d, w = f'backbone.layer{i}', f'bneck {i}'
        if p.expand:
            _conv(src, stream, out, f'{d}.expand_conv.conv', 1, p.in_ch, p.mid, f'{w} expand')
            _bn(src, stream, out, f'{d}.expand_conv.bn', p.mid, f'{w} expand BN')
        _conv(src, stream, out, f'{d}.depthwise_conv.conv', p.k, p.mid, p.mid, f'{w} depthwise', depthwise=True)
        _bn(src, stream, out, f'{d}.depthwise_conv.bn', p.mid, f'{w} depthwise BN')
        if p.se:
            s = se_channels(bb.spec, p.in_ch, p.mid)
            _conv(src, stream, out, f'{d}.se.conv1.conv', 1, p.mid, s, f'{w} SE squeeze', bias=True)
            _conv(src, stream, out, f'{d}.se.conv2.conv', 1, s, p.mid, f'{w} SE excite', bias=True)
        _conv(src, stream, out, f'{d}.linear_conv.conv', 1, p.mid, p.out, f'{w} project')
        _bn(src, stream, out, f'{d}.linear_conv.bn', p.out, f'{w} project BN')
    p, last = plan[-1], len(plan) - 1
    _conv(src, stream, out, f'backbone.layer{last}.conv', 1, p.in_ch, p.out, 'the final 1x1 conv')
    _bn(src, stream, out, f'backbone.layer{last}.bn', p.out, 'the final BN')
    head_ch = num_classes = None
    top = stream.left('conv')
    if top:
        if len(top) != 2:
            raise ConversionError(f'after the final conv the file has {len(top)} Conv2D layers ({top[0].name!r} '
                                  '...), expected the top\'s 2 (conv_2 and logits) or none (include_top=False)')
        head_ch = src.tensors.data[top[0].paths[0]].shape[-1]
        num_classes = src.tensors.data[top[1].paths[0]].shape[-1]
        _conv(src, stream, out, 'head.layers.0.fc', 1, p.out, head_ch, 'the top 1x1 conv (conv_2)', bias=True,
              linear=True)
        _conv(src, stream, out, 'head.layers.1.fc', 1, head_ch, num_classes, 'the classifier (logits)', bias=True,
              linear=True)
    left = stream.left()
    if left:
        raise ConversionError(f'{len(left)} Keras layers with variables have no place in this MobileNetV3, e.g. '
                              f'{[layer.name for layer in left[:3]]}')
    src.tensors.check_all_used(f'a Keras MobileNetV3{arch.capitalize()}')
    return out, head_ch, num_classes


def num_bn(arch):
    """BatchNormalization layers of Keras' MobileNetV3 (stem, 3 per block but the first's 2, the final conv)."""
    return 1 + 2 + 3 * (NUM_BLOCKS[arch] - 1) + 1


def model_config(arch, alpha, minimalistic=False, num_classes=1000, head_channels=None, pad_type='keras'):
    """The mmpretrain ``ImageClassifier`` config of a converted Keras MobileNetV3 (see the module docstring)."""
    from mmv3.models.backbones import MobileNetV3
    in_ch = MobileNetV3(arch, widen_factor=alpha, minimalistic=minimalistic).out_channels[-1]
    act = dict(type='ReLU') if minimalistic else dict(type='HSwish')
    backbone = dict(type='mmv3.MobileNetV3', arch=arch, widen_factor=alpha, out_indices=(NUM_BLOCKS[arch] + 1, ),
                    pad_type=pad_type, norm_cfg=dict(type='BN', eps=KERAS_BN_EPS, momentum=0.01))
    if minimalistic:
        backbone['minimalistic'] = True
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(num_classes=num_classes, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='StackedLinearClsHead', num_classes=num_classes, in_channels=in_ch,
                  mid_channels=[head_channels or dict(large=1280, small=1024)[arch]], dropout_rate=0.2,
                  act_cfg=act, loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))


def convert_keras(path, arch, alphas=ALPHAS):
    """A Keras MobileNetV3 weights file -> ``(mmv3 state dict, model config, info)``.

    ``arch`` is ``'large'`` or ``'small'``; the width multiplier, ``minimalistic`` and ``include_top`` are read
    from the file (the candidates ``alphas`` are tried in order). Without top, the state dict holds the
    backbone only (``backbone.*``: load it with ``init_cfg=dict(type='Pretrained', prefix='backbone.')``).

    Raises:
        ConversionError: a file that is not this architecture exactly, with the reason on one line.
    """
    if arch not in ARCHS:
        raise ConversionError(f'--arch must be one of {list(ARCHS)}, got {arch!r}')
    src = read_keras_h5(path)
    want, have = num_bn(arch), src.count('bn')
    if have != want:
        other = [a for a in ARCHS if num_bn(a) == have]
        hint = (f'this file holds a MobileNetV3{other[0].capitalize()} ({have} BatchNormalization layers): pass '
                f'--arch {other[0]}' if other else
                f'it has {have} BatchNormalization layers, a Keras MobileNetV3{arch.capitalize()} has {want}')
        raise ConversionError(f'{path} is not a Keras MobileNetV3{arch.capitalize()} ({src.layout}): {hint}')
    best = None
    for minimalistic in (False, True):
        for alpha in alphas:
            src.tensors.used.clear()
            try:
                out, head_ch, num_classes = _walk(src, arch, alpha, minimalistic)
            except ConversionError as e:
                progress = len(src.tensors.used)
                if best is None or progress > best[0]:
                    best = (progress, alpha, minimalistic, e)
                continue
            cfg = model_config(arch, alpha, minimalistic, num_classes or 1000, head_ch)
            info = dict(layout=src.layout, alpha=alpha, minimalistic=minimalistic, include_top=head_ch is not None,
                        num_classes=num_classes, variables=len(src.tensors.data), layers=len(src.layers),
                        notes=list(src.notes))
            return out, cfg, info
    _, alpha, minimalistic, err = best
    raise ConversionError(f'{path} ({src.layout}) is no Keras MobileNetV3{arch.capitalize()} that mmv3 builds '
                          f'exactly (alpha in {list(alphas)}, minimalistic or not); nearest alpha={alpha}'
                          f'{", minimalistic" if minimalistic else ""}: {err}')


def build_classifier(cfg, state_dict=None):
    """Build the mmpretrain model of ``cfg`` (eval mode); load ``state_dict`` strictly (every shape checked).

    A backbone-only state dict (``include_top=False``) is loaded into the backbone."""
    import copy

    import mmv3  # noqa: F401  (registers mmv3.*)
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(copy.deepcopy(cfg))
    if state_dict is not None:
        target, sd = model, state_dict
        if not any(k.startswith('head.') for k in state_dict):
            target = model.backbone
            sd = OrderedDict((k[len('backbone.'):], v) for k, v in state_dict.items())
        try:
            target.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            lines = str(e).splitlines()
            raise ConversionError(f'converted tensors do not fit the mmv3 model: {lines[0]} {lines[1:3]}') from None
    return model.eval()
