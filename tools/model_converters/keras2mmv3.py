"""Convert Keras applications' MobileNetV3Large / MobileNetV3Small weights into an mmv3 / mmpretrain checkpoint.

Usage:
    python tools/model_converters/keras2mmv3.py WEIGHTS.h5 OUT.pth --arch large|small

``WEIGHTS.h5`` is what ``keras.applications.MobileNetV3Large(weights='imagenet')`` downloads
(``~/.keras/models/weights_mobilenet_v3_large_224_1.0_float.h5``, from
https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/), or a file written by
``model.save_weights('x.h5')`` / ``model.save('x.h5')`` (Keras 2 or 3) or Keras 3's
``model.save_weights('x.weights.h5')``. Read with ``h5py``; TensorFlow is not needed. The width
(``alpha`` 1.0 / 0.75, or 0.5 / 0.35 / 1.25 where mmv3's rounding matches Keras'), ``minimalistic`` and
``include_top`` (the ``_no_top_v2.h5`` files give a backbone-only checkpoint) are read from the file.

The printed config computes Keras' outputs: ``pad_type='keras'``, BN eps 1e-3, inputs RGB 0..255 scaled
to [-1, 1] (mean = std = 127.5). For alpha 1.0 it is ``configs/cls/mobilenet-v3-{large,small}_keras-in1k.py``.
Every variable of the file is used exactly once and every shape is checked (logic and the
architecture details in :mod:`mmv3.converters.keras`); a file that does not fit is refused in one line.
"""
import argparse

from mmv3.apis import run_cli

try:
    from _mobilenetv3_common import save
except ImportError:  # imported as tools.model_converters.keras2mmv3
    from ._mobilenetv3_common import save


def main(argv=None):
    from mmv3.converters.keras import ARCHS, build_classifier, convert_keras
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='Keras weights file (.h5 / .weights.h5)')
    parser.add_argument('dst', help='output mmv3 checkpoint (.pth)')
    parser.add_argument('--arch', required=True, choices=ARCHS,
                        help='large (MobileNetV3Large) or small (MobileNetV3Small)')
    args = parser.parse_args(argv)
    out, cfg, info = convert_keras(args.src, args.arch)  # ConversionError: one line, exit 2 (run_cli)
    build_classifier(cfg, out)  # strict load: every shape checked before anything is written
    name = f'MobileNetV3{args.arch.capitalize()}'
    print(f'read {info["variables"]} variables of {info["layers"]} layers ({info["layout"]}), each used once: '
          f'{name}(alpha={info["alpha"]}, minimalistic={info["minimalistic"]}, '
          f'include_top={info["include_top"]}' + (f', classes={info["num_classes"]})' if info['include_top'] else ')'))
    notes = list(info['notes']) + [
        "inputs: RGB pixels 0..255 with mean = std = 127.5 (Keras' Rescaling layer): keep this data_preprocessor",
        "pad_type='keras' pads like the Keras model built with input_shape=None; 'same' like one built with a "
        'fixed input_shape (identical at 224x224)']
    if info['alpha'] == 1.0 and not info['minimalistic'] and info['num_classes'] == 1000:
        notes.append(f'the same model: configs/cls/mobilenet-v3-{args.arch}_keras-in1k.py')
    if not info['include_top']:
        notes.append('include_top=False: backbone only (backbone.* keys); load it with model.backbone.init_cfg='
                     f"dict(type='Pretrained', checkpoint='{args.dst}', prefix='backbone.')")
    save(out, cfg, args.dst, source=f'keras:{name}:{args.src}', notes=notes)


if __name__ == '__main__':
    run_cli(main, 'keras2mmv3.py')
