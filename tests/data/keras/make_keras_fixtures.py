"""Generate the Keras fixtures of ``tests/test_converter_keras.py`` by running Keras itself.

Run from the repository root, once per Keras major version (TensorFlow is needed here only; mmv3 and
its tests never import it)::

    /work/envs/tf215/bin/python tests/data/keras/make_keras_fixtures.py   # Keras 2.15 (tf.keras)
    /work/envs/tf221/bin/python tests/data/keras/make_keras_fixtures.py   # Keras 3

Each run builds ``keras.applications.MobileNetV3Large / MobileNetV3Small(weights=None, ...)`` from the
installed Keras (the public model code, run, not copied), gives every variable random values
(conv kernels, biases, BN gamma / beta **and** moving mean / variance), saves the weights with Keras' own
saving functions, reloads that file into a fresh Keras model and checks that it computes the same
outputs, and stores the model's outputs on fixed input images. Files written to this folder:

- ``inputs.npz`` (written by the first run, read by the second): uint8 RGB images, ``x224``
  (2x224x224x3) and ``x_odd`` (2x193x225x3): pixels in 0..255 as Keras' models take them (their
  ``Rescaling`` layer maps them to [-1, 1]).
- ``<name>.h5.xz``: the file Keras wrote, byte for byte, xz-compressed (the tests decompress it).
- ``<name>.npz``: the reference outputs (float32): ``out224`` / ``out_odd`` from the model as
  ``keras.applications`` builds it (``input_shape=None``: its strided depthwise convs are padded with
  ``correct_pad`` of an unknown size), ``out_odd_static`` from the same weights in a model built with
  ``input_shape=(193, 225, 3)`` (``correct_pad`` of the known odd size = TF SAME); ``classes``,
  ``alpha``, ``arch``, ``minimalistic``, ``include_top``, the Keras version and the saving call.
  With ``include_top=True`` the outputs are logits (``classifier_activation=None``, pre-softmax);
  without top, the globally average-pooled features (``pooling='avg'``).

Fixtures (what each one proves):

=====================================  =========  ==================================================
file                                   Keras      model, saving call
=====================================  =========  ==================================================
keras2_large_100.h5.xz                 2.15       Large 1.0, 1000 classes; ``save_weights('x.h5')``:
                                                  the legacy HDF5 layout of the files
                                                  ``MobileNetV3Large(weights='imagenet')`` downloads
                                                  (``weights_mobilenet_v3_large_224_1.0_float.h5``)
keras2_small_075_notop.weights.h5.xz   2.15       Small 0.75 without top; ``save_weights('x.weights.h5')``
                                                  (Keras 2.13+'s new layout, no layer-name attributes)
keras3_small_100.weights.h5.xz         3.x        Small 1.0, 1000 classes; ``save_weights`` (Keras 3's
                                                  ``.weights.h5``)
keras3_small_minimalistic_c10.h5.xz    3.x        Small 1.0 minimalistic, 10 classes; full-model
                                                  ``model.save('x.h5')`` (``model_weights`` group)
=====================================  =========  ==================================================

Size: the random values are drawn from small sets of numbers exact in float16 (kernels ternary
{-1, 0, 1} x a power of two chosen per layer for unit gain; BN and bias values on a 1/16 or 1/64 grid),
so that the files, xz-compressed, are about 0.2 bytes per parameter (Large 1.0 with its 1000 classes:
5.5M parameters, ~1.2 MB) instead of 4. The values are as random as the conversion needs: every
tensor is a different random pattern, so any misplaced, transposed or skipped tensor changes the outputs.
"""
import argparse
import lzma
import os
import os.path as osp
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402

HERE = osp.dirname(osp.abspath(__file__))
ODD_HW = (193, 225)
# kernel std = GAIN / sqrt(fan_in): below ~1.25 the logits hardly depend on the image, above ~1.4 they explode
GAIN = 1.3

FIXTURES = {
    2: [
        dict(name='keras2_large_100', arch='large', alpha=1.0, classes=1000, include_top=True,
             minimalistic=False, save='save_weights', suffix='.h5'),
        dict(name='keras2_small_075_notop', arch='small', alpha=0.75, classes=1000, include_top=False,
             minimalistic=False, save='save_weights', suffix='.weights.h5'),
    ],
    3: [
        dict(name='keras3_small_100', arch='small', alpha=1.0, classes=1000, include_top=True,
             minimalistic=False, save='save_weights', suffix='.weights.h5'),
        dict(name='keras3_small_minimalistic_c10', arch='small', alpha=1.0, classes=10, include_top=True,
             minimalistic=True, save='save', suffix='.h5'),
    ],
}


def _image(rng, h, w, block):
    """Random coloured blocks (``block`` px, random offset) plus sparse one-level noise, on a 17-step grid.

    Blocks, not i.i.d. noise: two noise images have nearly the same pooled features, so the logits
    would hardly depend on the image (and a wrong padding or stem would hardly show)."""
    oy, ox = rng.integers(0, block, 2)
    coarse = rng.integers(0, 16, ((h + oy) // block + 1, (w + ox) // block + 1, 3))
    img = coarse.repeat(block, 0).repeat(block, 1)[oy:oy + h, ox:ox + w]
    img = img + rng.integers(-1, 2, img.shape) * (rng.random(img.shape) < 0.3)
    return (np.clip(img, 0, 15) * 17).astype(np.uint8)


def make_inputs(path, seed=0):
    """Two 224x224 and two 193x225 RGB uint8 images (pixel values on a 17-step grid: they compress)."""
    rng = np.random.default_rng(seed)
    x224 = np.stack([_image(rng, 224, 224, b) for b in (16, 40)])
    x_odd = np.stack([_image(rng, *ODD_HW, b) for b in (24, 56)])
    np.savez_compressed(path, x224=x224, x_odd=x_odd)


def _kernel(rng, shape, fan_in):
    """Ternary {-1, 0, 1} x one scale per tensor: GAIN / sqrt(fan_in) / std({-1, 0, 1}), rounded to
    3 significant bits (exact in float16)."""
    scale = GAIN / np.sqrt(fan_in) / np.sqrt(2 / 3)
    e = np.floor(np.log2(scale))
    scale = np.round(scale / 2 ** e * 4) / 4 * 2 ** e
    return (rng.integers(-1, 2, shape) * scale).astype(np.float32)


def randomize(model, keras, seed):
    """Random values for every variable of ``model`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    layers = keras.layers
    n = 0
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if isinstance(layer, layers.DepthwiseConv2D):
            (k, ) = ws
            new = [_kernel(rng, k.shape, k.shape[0] * k.shape[1])]
        elif isinstance(layer, layers.Conv2D):
            k = ws[0]
            new = [_kernel(rng, k.shape, k.shape[0] * k.shape[1] * k.shape[2])]
            if len(ws) == 2:
                new.append((rng.integers(-4, 5, ws[1].shape) / 16).astype(np.float32))
        elif isinstance(layer, layers.BatchNormalization):
            c = ws[0].shape
            new = [(0.5 + rng.integers(0, 16, c) / 16).astype(np.float32),    # gamma
                   (rng.integers(-8, 8, c) / 32).astype(np.float32),          # beta
                   (rng.integers(-8, 8, c) / 64).astype(np.float32),          # moving_mean
                   (0.5 + rng.integers(0, 16, c) / 16).astype(np.float32)]    # moving_variance
        else:
            raise RuntimeError(f'unexpected layer with variables: {layer.name} ({type(layer).__name__})')
        assert [w.shape for w in new] == [w.shape for w in ws], layer.name
        layer.set_weights(new)
        n += sum(w.size for w in new)
    return n


def build(keras, fx, input_shape=None):
    fn = getattr(keras.applications, f'MobileNetV3{fx["arch"].capitalize()}')
    kw = dict(classes=fx['classes'], classifier_activation=None) if fx['include_top'] else dict(pooling='avg')
    return fn(input_shape=input_shape, alpha=fx['alpha'], minimalistic=fx['minimalistic'],
              include_top=fx['include_top'], weights=None, **kw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=HERE, help='output folder (default: this folder)')
    args = parser.parse_args()
    import keras
    import tensorflow as tf
    major = int(keras.__version__.split('.')[0])
    print(f'keras {keras.__version__}, tensorflow {tf.__version__}')
    inputs_path = osp.join(args.out, 'inputs.npz')
    if not osp.exists(inputs_path):
        make_inputs(inputs_path)
    inputs = np.load(inputs_path)
    x224, x_odd = inputs['x224'].astype(np.float32), inputs['x_odd'].astype(np.float32)
    for seed, fx in enumerate(FIXTURES[major], start=major * 10):
        keras.backend.clear_session()
        model = build(keras, fx)
        nparams = randomize(model, keras, seed)
        ref = dict(out224=model.predict(x224, verbose=0), out_odd=model.predict(x_odd, verbose=0))
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, 'model' + fx['suffix'])
            getattr(model, fx['save'])(path)
            # the saved file is the reference's weights: a fresh model loads it and computes the same
            fresh = build(keras, fx)
            fresh.load_weights(path)
            assert np.array_equal(fresh.predict(x224, verbose=0), ref['out224']), fx['name']
            static = build(keras, fx, input_shape=(*ODD_HW, 3))
            static.load_weights(path)
            ref['out_odd_static'] = static.predict(x_odd, verbose=0)
            with open(path, 'rb') as f:
                raw = f.read()
        xz = osp.join(args.out, fx['name'] + fx['suffix'] + '.xz')
        with open(xz, 'wb') as f:
            f.write(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
        np.savez(osp.join(args.out, fx['name'] + '.npz'), **{k: v.astype(np.float32) for k, v in ref.items()},
                 arch=fx['arch'], alpha=fx['alpha'], classes=fx['classes'], include_top=fx['include_top'],
                 minimalistic=fx['minimalistic'], keras_version=keras.__version__,
                 saved_with=f'model.{fx["save"]}(*{fx["suffix"]})')
        o = ref['out224']
        d = np.abs(ref['out_odd'] - ref['out_odd_static']).max()
        print(f'{fx["name"]}: {nparams} values, {len(raw) / 1e6:.2f} MB -> {osp.getsize(xz) / 1e6:.2f} MB xz; '
              f'out224 range {np.abs(o).max():.3g}, std over classes {o.std(axis=1).min():.3g}, '
              f'odd size: dynamic vs static-shape model max diff {d:.3g}')


if __name__ == '__main__':
    main()
