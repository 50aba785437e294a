"""Write the TF1 checkpoint fixtures of ``tests/test_converter_tf1.py`` by running the reference TensorFlow code.

Run it in a TensorFlow 1.x-compatible environment (TF 2.15 + ``tf_slim`` works: /work/envs/tf215), never in
mmv3's environment, with a checkout of ``tensorflow/models`` (its ``research/slim`` and ``research/deeplab``
code is *run* from there, never copied into mmv3)::

    git clone --depth 1 https://github.com/tensorflow/models /tmp/tfmodels
    /work/envs/tf215/bin/python tests/data/tf1/make_fixtures.py --models-dir /tmp/tfmodels [--out tests/data/tf1]

What it writes under ``--out`` (a few MB in all; the weights are random, drawn so that their float32 bytes
compress well in git):

- ``<fixture>/model.ckpt.{index,data-00000-of-00001}``: a real TF1 checkpoint (``tf.compat.v1.train.Saver``) of
  the reference graph with random weights and random BN statistics; ``<fixture>/io.npz``: input images and the
  reference outputs computed by the reference graph restored from that checkpoint; ``<fixture>/meta.json``:
  how the graph was built.

  * ``slim_large_025``: slim ``mobilenet_v3.large`` (``nets/mobilenet/mobilenet_v3.py``) at depth multiplier
    0.25, 11 classes (background + 10); also holds ``ExponentialMovingAverage`` shadows of a few variables,
    RMSProp slots and ``global_step`` (what training checkpoints hold); its reference logits are computed the
    way slim's ``eval_image_classifier.py`` does with ``--moving_average_decay``: every variable restored
    from its moving average where the checkpoint has one.
  * ``slim_small_035``: ``mobilenet_v3.small`` at 0.35 with ``finegrain_classification_mode=True`` (the 1024
    head conv kept at full width, as in the released 0.75 checkpoints).
  * ``deeplab_small``, ``deeplab_large_050``: DeepLab (``research/deeplab/model.py``, the graph ``eval.py``
    builds: ``multi_scale_logits`` at scale 1.0, then the logits resized to the input as ``predict_labels``
    does) with the model zoo's MobileNetV3 flags (:data:`DEEPLAB_FLAGS`), V3-Small at full width and V3-Large
    at depth multiplier 0.5 (a full-width V3-Large would be 6 MB), 19 classes, on small inputs: 129x257 (odd,
    like the 1025x2049 evaluation crop) and 128x160 (even), with the image-pooling crop scaled down with them
    (65x65: a 3x3 pooling kernel at output stride 32; stride (1, 2) so that the pooled map is not 1x1).

- ``manifests.json``: for each released checkpoint (slim V3-Large/Small 1.0 and 0.75, the two DeepLab
  Cityscapes models) the variables (name -> shape) of the reference graph built with its flags: the converter
  is tested on exactly these variable sets without shipping the weights.
- ``reader/``: a small sharded checkpoint (float32 / float64 / int32 / int64, a multi-block index) plus
  ``reader_ref.npz`` with the values TensorFlow's own reader returns, and ``reader_string/``: a checkpoint with
  a string tensor (refused by mmv3's reader).

Running the 2019-2020 reference code on TF 2.x needs shims, all of them here (none in ``--models-dir``):
``tf`` is ``tf.compat.v1`` for the reference modules, ``tf.contrib.slim`` / ``tensorflow.contrib`` is
``tf_slim``, ``np.int`` is ``int``, and the DeepLab modules the MobileNetV3 path never calls (NAS, ResNet,
Xception feature extractors, the dense prediction cell, a TPU batch norm) are empty stand-ins.
"""
import argparse
import json
import os
import os.path as osp
import sys
import types

import numpy as np

SEED = 0
# research/deeplab/g3doc/model_zoo.md, "Note for mobilenet v3 models, we use additional commandline flags"
DEEPLAB_FLAGS = dict(image_pooling_crop_size=[769, 769], image_pooling_stride=[4, 5], add_image_level_feature=True,
                     aspp_convs_filters=128, aspp_with_concat_projection=False,
                     aspp_with_squeeze_and_excitation=True, decoder_use_sum_merge=True, decoder_filters=19,
                     decoder_output_is_logits=True, image_se_uses_qsigmoid=True, decoder_output_stride=[8],
                     output_stride=32)


def setup_reference(models_dir):
    """Import TF with the shims and put ``research/slim`` and ``research`` on the path."""
    import tensorflow as tf2
    import tf_slim
    tf = tf2.compat.v1
    tf.disable_v2_behavior()
    np.int = int  # removed from numpy >= 1.24; mobilenet_v3.py's detection defs use it at import
    # tf.layers (which tf_slim's batch_norm / pooling use) load their classes from the 'tf_keras' package, the
    # Keras 2 that TF 2.15 ships as 'keras'
    import importlib
    import keras
    sys.modules.setdefault('tf_keras', keras)
    for sub in ('legacy_tf_layers', 'legacy_tf_layers.base', 'legacy_tf_layers.convolutional',
                'legacy_tf_layers.core', 'legacy_tf_layers.normalization', 'legacy_tf_layers.pooling'):
        sys.modules.setdefault(f'tf_keras.{sub}', importlib.import_module(f'keras.src.{sub}'))
    contrib = types.ModuleType('tensorflow.contrib')
    contrib.slim = tf_slim
    contrib.framework = tf_slim
    tf.contrib = contrib
    sys.modules['tensorflow.contrib'] = contrib
    sys.modules['tensorflow.contrib.slim'] = tf_slim
    sys.modules['tensorflow.contrib.framework'] = tf_slim
    # the reference modules say "import tensorflow as tf" and mean TF1: give them tf.compat.v1 while importing
    for sub in ('research/slim', 'research'):
        path = osp.join(models_dir, sub)
        if not osp.isdir(path):
            raise SystemExit(f'{path} does not exist: --models-dir must be a tensorflow/models checkout')
        sys.path.insert(0, path)
    return tf2, tf, tf_slim


def import_reference(tf2, tf, names):
    """Import reference modules with ``tensorflow`` = ``tf.compat.v1`` (restored afterwards)."""
    import importlib
    saved = sys.modules['tensorflow']
    sys.modules['tensorflow'] = tf
    try:
        return [importlib.import_module(n) for n in names]
    finally:
        sys.modules['tensorflow'] = saved


def stub_module(name, **attrs):
    """An importable module whose every attribute is a stand-in (never called on the MobileNetV3 path)."""
    mod = types.ModuleType(name)

    def missing(attr):
        if attr.startswith('__'):
            raise AttributeError(attr)
        return lambda *a, **k: (_ for _ in ()).throw(RuntimeError(f'stub {name}.{attr} called'))
    mod.__getattr__ = missing
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def compressible(rng, shape, std):
    """Normal(0, std) values rounded to 3 mantissa bits: random, but their float32 bytes compress in git."""
    x = (rng.standard_normal(shape) * std).astype(np.float32)
    return (x.view(np.uint32) & np.uint32(0xFFF00000)).view(np.float32)


def random_value(rng, var_name, shape):
    """A random value for one variable, by its role (conv weights by fan-in; BN statistics in useful ranges)."""
    parts = [t for t in var_name.split(':')[0].split('/') if t != 'ExponentialMovingAverage']
    base = parts[-1]
    if base == 'gamma':
        return compressible(rng, shape, 0.25) + np.float32(1.0)
    if base in ('beta', 'moving_mean', 'biases'):
        return compressible(rng, shape, 0.2)
    if base == 'moving_variance':
        return np.abs(compressible(rng, shape, 0.5)) + np.float32(0.5)
    if base == 'depthwise_weights':
        return compressible(rng, shape, (2.0 / int(np.prod(shape[:2]))) ** 0.5)
    return compressible(rng, shape, (2.0 / max(int(np.prod(shape[:-1])), 1)) ** 0.5)


def randomize(tf, sess, rng, variables):
    """Assign random values to ``variables`` (global_step left at 0)."""
    for v in variables:
        if v.op.name == 'global_step':
            continue
        shape = v.shape.as_list()
        v.load(random_value(rng, v.op.name, shape), sess)


def calibrate_bn(tf, sess, rng, feed):
    """Set every BN's moving statistics to its input's moments on ``feed`` (then perturbed), layer by layer.

    With random weights a deep network either explodes or collapses to its biases; statistics measured on
    data (as training leaves them) keep every layer's output near unit scale, so the fixtures' outputs depend
    on the input at full strength. The perturbation keeps the BN folding non-trivial.
    """
    graph = sess.graph
    bns = [op for op in graph.get_operations() if op.type.startswith('FusedBatchNorm')]
    by_name = {v.op.name: v for v in tf.global_variables()}
    assert len(bns) == sum(n.endswith('/moving_mean') for n in by_name), 'every BN must be a fused BN op'
    for op in bns:
        scope = op.name.rsplit('/', 1)[0]
        x = sess.run(op.inputs[0], feed)
        mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
        mean = mean + rng.standard_normal(mean.shape) * 0.1 * np.sqrt(var)
        var = var * rng.uniform(0.7, 1.3, var.shape) + 1e-3
        by_name[f'{scope}/moving_mean'].load(quantize(mean), sess)
        by_name[f'{scope}/moving_variance'].load(quantize(var), sess)
    return len(bns)


def quantize(x):
    """float32 with 3 mantissa bits (see :func:`compressible`)."""
    return (np.asarray(x, np.float32).view(np.uint32) & np.uint32(0xFFF00000)).view(np.float32)


def save_checkpoint(tf, sess, variables, prefix):
    os.makedirs(osp.dirname(prefix), exist_ok=True)
    for f in os.listdir(osp.dirname(prefix)):
        if f.startswith('model.ckpt') or f == 'checkpoint':
            os.remove(osp.join(osp.dirname(prefix), f))
    tf.train.Saver(variables).save(sess, prefix, write_meta_graph=False, write_state=False)


def manifest(tf):
    return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


# ----------------------------------------------------------------------------------------------------
# slim classification
# ----------------------------------------------------------------------------------------------------
SLIM_FIXTURES = {
    'slim_large_025': dict(arch='large', depth_multiplier=0.25, finegrain=False, num_classes=11,
                           sizes=[(96, 96), (65, 65)], extras=True),
    'slim_small_035': dict(arch='small', depth_multiplier=0.35, finegrain=True, num_classes=11,
                           sizes=[(96, 96), (65, 65)], extras=False),
}
SLIM_RELEASED = {  # research/slim/nets/mobilenet/README.md: v3-{large,small}_224_{1.0,0.75}_float
    'v3-large_224_1.0_float': dict(arch='large', depth_multiplier=1.0, finegrain=False),
    'v3-large_224_0.75_float': dict(arch='large', depth_multiplier=0.75, finegrain=True),
    'v3-small_224_1.0_float': dict(arch='small', depth_multiplier=1.0, finegrain=False),
    'v3-small_224_0.75_float': dict(arch='small', depth_multiplier=0.75, finegrain=True),
}


def slim_graph(tf, mobilenet_v3, slim, spec, size, batch=2):
    """slim's classification graph as ``eval_image_classifier.py`` builds it (inference mode)."""
    images = tf.placeholder(tf.float32, [batch, size[0], size[1], 3], name='images')
    fn = mobilenet_v3.large if spec['arch'] == 'large' else mobilenet_v3.small
    with slim.arg_scope(mobilenet_v3.training_scope(is_training=False)):
        logits, _ = fn(images, num_classes=spec.get('num_classes', 1001), depth_multiplier=spec['depth_multiplier'],
                       finegrain_classification_mode=spec['finegrain'], is_training=False)
    return images, logits


def make_slim(tf, mobilenet_v3, slim, name, spec, out):
    rng = np.random.default_rng([SEED, len(name)])
    prefix = osp.join(out, name, 'model.ckpt')
    ema_vars = []
    graph = tf.Graph()
    with graph.as_default():
        images, logits = slim_graph(tf, mobilenet_v3, slim, spec, spec['sizes'][0])
        model_vars = tf.global_variables()
        if spec['extras']:  # what a training checkpoint also holds: EMA shadows, optimizer slots, global_step
            step = tf.train.get_or_create_global_step()
            ema_vars = [v for v in model_vars if v.op.name.startswith(('MobilenetV3/Conv/', 'MobilenetV3/Logits/'))]
            ema = tf.train.ExponentialMovingAverage(0.9999, step)
            ema.apply(ema_vars)
            head = [v for v in model_vars if v.op.name.startswith('MobilenetV3/Logits/')]
            tf.train.RMSPropOptimizer(0.01, momentum=0.9).minimize(tf.reduce_sum(logits), var_list=head,
                                                                     global_step=step)
        calib = rng.integers(0, 256, (2, ) + tuple(spec['sizes'][0]) + (3, )).astype(np.float32) / 127.5 - 1
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            randomize(tf, sess, rng, tf.global_variables())
            calibrate_bn(tf, sess, rng, {images: calib})
            for v in ema_vars:  # the shadows: the model value, slightly off
                shadow = [s for s in tf.global_variables() if s.op.name == v.op.name + '/ExponentialMovingAverage']
                shadow[0].load(quantize(sess.run(v) * rng.uniform(0.8, 1.2, v.shape.as_list())), sess)
            save_checkpoint(tf, sess, tf.global_variables(), prefix)
            ema_names = {v.op.name for v in ema_vars}
    io = {}
    for size in spec['sizes']:
        pixels = rng.integers(0, 256, (2, size[0], size[1], 3), dtype=np.uint8)
        x = pixels.astype(np.float32) / np.float32(127.5) - np.float32(1)  # slim's inputs: [-1, 1], NHWC
        graph = tf.Graph()
        with graph.as_default():
            images, logits = slim_graph(tf, mobilenet_v3, slim, spec, size)
            # eval_image_classifier.py with --moving_average_decay: each variable from its average if saved
            restore = {(f'{v.op.name}/ExponentialMovingAverage' if v.op.name in ema_names else v.op.name): v
                       for v in tf.global_variables()}
            with tf.Session() as sess:
                tf.train.Saver(restore).restore(sess, prefix)
                y = sess.run(logits, {images: x})
        key = f'{size[0]}x{size[1]}'
        io[f'pixels_{key}'] = pixels.transpose(0, 3, 1, 2).copy()  # NCHW uint8 RGB; input = pixels / 127.5 - 1
        io[f'logits_{key}'] = y
        print(f'{name} {key}: logits range {np.abs(y).max():.3g}')
    np.savez(osp.join(out, name, 'io.npz'), **io)
    meta = dict(source='slim', arch=spec['arch'], depth_multiplier=spec['depth_multiplier'],
                finegrain_classification_mode=spec['finegrain'], num_classes=spec['num_classes'],
                sizes=[list(s) for s in spec['sizes']], ema_variables=sorted(ema_names),
                input='pixels: NCHW uint8 RGB; the graph input is float32 pixels / 127.5 - 1 (slim preprocessing)',
                output='logits (num_classes, slot 0 = background)')
    with open(osp.join(out, name, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def slim_manifests(tf, mobilenet_v3, slim):
    out = {}
    for name, spec in SLIM_RELEASED.items():
        with tf.Graph().as_default():
            slim_graph(tf, mobilenet_v3, slim, spec, (224, 224), batch=1)
            out[name] = dict(source='slim', arch=spec['arch'], variables=manifest(tf))
    return out


# ----------------------------------------------------------------------------------------------------
# DeepLab
# ----------------------------------------------------------------------------------------------------
DEEPLAB_FIXTURES = {  # small inputs: the image-pooling crop scaled down with them (kernel 3 at output stride 32)
    'deeplab_small': dict(arch='small', depth_multiplier=1.0, sizes=[(129, 257), (128, 160)],
                          image_pooling_crop_size=[65, 65], image_pooling_stride=[1, 2]),
    'deeplab_large_050': dict(arch='large', depth_multiplier=0.5, sizes=[(129, 257), (128, 160)],
                              image_pooling_crop_size=[65, 65], image_pooling_stride=[1, 2]),
}
DEEPLAB_RELEASED = {  # research/deeplab/g3doc/model_zoo.md
    'deeplab_mnv3_large_cityscapes_trainfine': dict(arch='large', depth_multiplier=1.0),
    'deeplab_mnv3_small_cityscapes_trainfine': dict(arch='small', depth_multiplier=1.0),
}
# research/deeplab/common.py ModelOptions fields (flag defaults, then the model zoo's MobileNetV3 flags)
MODEL_OPTION_FIELDS = (
    'outputs_to_num_classes', 'crop_size', 'atrous_rates', 'output_stride', 'preprocessed_images_dtype',
    'merge_method', 'add_image_level_feature', 'image_pooling_crop_size', 'image_pooling_stride',
    'aspp_with_batch_norm', 'aspp_with_separable_conv', 'multi_grid', 'decoder_output_stride',
    'decoder_use_separable_conv', 'logits_kernel_size', 'model_variant', 'depth_multiplier', 'divisible_by',
    'prediction_with_upsampled_logits', 'dense_prediction_cell_config', 'nas_architecture_options',
    'use_bounded_activation', 'aspp_with_concat_projection', 'aspp_with_squeeze_and_excitation',
    'aspp_convs_filters', 'decoder_use_sum_merge', 'decoder_filters', 'decoder_output_is_logits',
    'image_se_uses_qsigmoid', 'label_weights', 'sync_batch_norm_method', 'batch_norm_decay')


def model_options(tf, spec, crop_size, **overrides):
    """``common.ModelOptions`` as eval.py builds it from the flags (defaults + :data:`DEEPLAB_FLAGS`)."""
    import collections
    options = collections.namedtuple('ModelOptions', MODEL_OPTION_FIELDS)
    values = dict(outputs_to_num_classes={'semantic': 19}, crop_size=list(crop_size), atrous_rates=None,
                  preprocessed_images_dtype=tf.float32, merge_method='max', aspp_with_batch_norm=True,
                  aspp_with_separable_conv=True, multi_grid=None, decoder_use_separable_conv=True,
                  logits_kernel_size=1, model_variant=f"mobilenet_v3_{spec['arch']}_seg",
                  depth_multiplier=spec['depth_multiplier'], divisible_by=None, prediction_with_upsampled_logits=True,
                  dense_prediction_cell_config=None,
                  nas_architecture_options=dict(nas_stem_output_num_conv_filters=20,
                                                nas_use_classification_head=False, nas_remove_os32_stride=False),
                  use_bounded_activation=False, label_weights=1.0, sync_batch_norm_method='None',
                  batch_norm_decay=0.9997)
    values.update(DEEPLAB_FLAGS)
    values.update(overrides)
    return options(**values)


def deeplab_graph(tf, model, spec, size, batch=1):
    """eval.py's graph: ``model.predict_labels`` -> multi_scale_logits (1/8) and the logits resized to the input."""
    images = tf.placeholder(tf.float32, [batch, size[0], size[1], 3], name='images')  # pixels in [0, 255]
    options = model_options(tf, spec, size, image_pooling_crop_size=spec.get('image_pooling_crop_size', [769, 769]),
                            image_pooling_stride=spec.get('image_pooling_stride', [4, 5]))
    logits = model.multi_scale_logits(images, model_options=options, image_pyramid=[1.0], is_training=False,
                                      fine_tune_batch_norm=False)['semantic'][model.MERGED_LOGITS_SCOPE]
    full = model._resize_bilinear(logits, tf.shape(images)[1:3], logits.dtype)  # as predict_labels does
    return images, logits, full


def make_deeplab(tf, model, name, spec, out):
    rng = np.random.default_rng([SEED, len(name), 1])
    prefix = osp.join(out, name, 'model.ckpt')
    with tf.Graph().as_default():
        images, logits, _ = deeplab_graph(tf, model, spec, spec['sizes'][0])
        calib = rng.integers(0, 256, (1, ) + tuple(spec['sizes'][0]) + (3, )).astype(np.float32)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            randomize(tf, sess, rng, tf.global_variables())
            calibrate_bn(tf, sess, rng, {images: calib})
            save_checkpoint(tf, sess, tf.global_variables(), prefix)
            names = sorted(v.op.name for v in tf.global_variables())
    io = {}
    for size in spec['sizes']:
        pixels = rng.integers(0, 256, (1, size[0], size[1], 3), dtype=np.uint8)
        with tf.Graph().as_default():
            images, logits, full = deeplab_graph(tf, model, spec, size)
            with tf.Session() as sess:
                tf.train.Saver().restore(sess, prefix)
                y, yf = sess.run([logits, full], {images: pixels.astype(np.float32)})
        key = f'{size[0]}x{size[1]}'
        io[f'pixels_{key}'] = pixels.transpose(0, 3, 1, 2).copy()
        io[f'logits_{key}'] = y.transpose(0, 3, 1, 2).copy()  # 1/8 resolution, NCHW
        # the logits resized to the input (align_corners=True): a fixed random sample of pixels, and the labels
        ys, xs = rng.integers(0, size[0], 400), rng.integers(0, size[1], 400)
        io[f'full_yx_{key}'] = np.stack([ys, xs])
        io[f'full_logits_{key}'] = yf[0, ys, xs, :]
        io[f'labels_{key}'] = yf[0].argmax(-1).astype(np.uint8)
        print(f'{name} {key}: logits {y.shape} range {np.abs(y).max():.3g}')
    np.savez(osp.join(out, name, 'io.npz'), **io)
    meta = dict(source='deeplab', arch=spec['arch'], depth_multiplier=spec['depth_multiplier'],
                sizes=[list(s) for s in spec['sizes']], flags=dict(DEEPLAB_FLAGS,
                image_pooling_crop_size=spec['image_pooling_crop_size'],
                image_pooling_stride=spec['image_pooling_stride']), variables=names,
                input='pixels: NCHW uint8 RGB (DeepLab maps them to [-1, 1] inside its graph)',
                output='logits at 1/8 (NCHW, 19 classes); full_*: the logits resized to the input at full_yx pixels')
    with open(osp.join(out, name, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def deeplab_manifests(tf, model):
    out = {}
    for name, spec in DEEPLAB_RELEASED.items():
        with tf.Graph().as_default():
            deeplab_graph(tf, model, spec, (769, 769))
            out[name] = dict(source='deeplab', arch=spec['arch'], variables=manifest(tf))
    return out


# ----------------------------------------------------------------------------------------------------
# the reader fixtures
# ----------------------------------------------------------------------------------------------------
def make_reader(tf, out):
    rng = np.random.default_rng([SEED, 7])
    values = {'scope/a_float32': rng.standard_normal((2, 3, 4)).astype(np.float32),
              'scope/b_float64': rng.standard_normal(5),
              'c_int32': np.arange(-3, 4, dtype=np.int32),
              'global_step': np.array(123456789012, np.int64)}
    values.update({f'block{i:03d}/with/a/long/shared/prefix/weights': rng.standard_normal(3).astype(np.float32)
                   for i in range(200)})  # > 4 KB of keys: a multi-block index
    config = tf.ConfigProto(device_count={'CPU': 2})
    with tf.Graph().as_default():
        variables = []
        for i, (k, v) in enumerate(sorted(values.items())):
            with tf.device(f'/cpu:{i % 2}'):
                variables.append(tf.get_variable(k, initializer=v))
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            prefix = osp.join(out, 'reader', 'model.ckpt')
            os.makedirs(osp.dirname(prefix), exist_ok=True)
            for f in os.listdir(osp.dirname(prefix)):
                os.remove(osp.join(osp.dirname(prefix), f))
            tf.train.Saver(variables, sharded=True).save(sess, prefix, write_meta_graph=False, write_state=False)
        reader = tf.train.NewCheckpointReader(prefix)
        ref = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    np.savez(osp.join(out, 'reader_ref.npz'), **{k.replace('/', '|'): v for k, v in ref.items()})
    with tf.Graph().as_default():
        s = tf.get_variable('label', initializer=tf.constant('a string'), dtype=tf.string)
        w = tf.get_variable('weights', initializer=np.ones(3, np.float32))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            prefix = osp.join(out, 'reader_string', 'model.ckpt')
            save_checkpoint(tf, sess, [s, w], prefix)
    print('reader fixtures:', sorted(os.listdir(osp.join(out, 'reader'))))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models-dir', required=True,
                   help='tensorflow/models checkout (with research/slim, research/deeplab)')
    p.add_argument('--out', default=osp.dirname(osp.abspath(__file__)), help='fixture folder')
    p.add_argument('--only', nargs='*', default=None, help='only these fixtures (names as in the folder)')
    args = p.parse_args()
    tf2, tf, slim = setup_reference(args.models_dir)
    (mobilenet_v3, ) = import_reference(tf2, tf, ['nets.mobilenet.mobilenet_v3'])
    for stub in ('deeplab.core.nas_network', 'deeplab.core.resnet_v1_beta', 'deeplab.core.xception',
                 'deeplab.core.dense_prediction_cell', 'nets.mobilenet.mobilenet_v2'):
        stub_module(stub)
    (model, ) = import_reference(tf2, tf, ['deeplab.model'])
    want = set(args.only) if args.only else None
    manifests_path = osp.join(args.out, 'manifests.json')
    manifests = json.load(open(manifests_path)) if osp.isfile(manifests_path) else {}
    if want is None or 'reader' in want:
        make_reader(tf, args.out)
    for name, spec in SLIM_FIXTURES.items():
        if want is None or name in want:
            make_slim(tf, mobilenet_v3, slim, name, spec, args.out)
    for name, spec in DEEPLAB_FIXTURES.items():
        if want is None or name in want:
            make_deeplab(tf, model, name, spec, args.out)
    if want is None or 'manifests' in want:
        manifests.update(slim_manifests(tf, mobilenet_v3, slim))
        manifests.update(deeplab_manifests(tf, model))
    with open(manifests_path, 'w') as f:
        json.dump(manifests, f, indent=0, sort_keys=True)
    print(f'TensorFlow {tf2.__version__}; wrote {args.out}')


if __name__ == '__main__':
    main()
