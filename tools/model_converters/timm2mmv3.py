"""Convert a timm MobileNetV3 checkpoint into an mmv3 / mmpretrain checkpoint.

Usage:
    python tools/model_converters/timm2mmv3.py SRC DST --model-name mobilenetv3_large_100 [--verify]

``SRC`` is a state dict (``.pth``/``.bin``/``.safetensors``) of the timm model named by
``--model-name`` (a timm checkpoint does not record its model name, and two timm models
with identical tensors can compute different functions, so the name is required).

Supported (outputs equal timm's, max abs diff < 1e-5): ``mobilenetv3_large_100``,
``mobilenetv3_large_075``, ``mobilenetv3_small_100``, ``mobilenetv3_small_075``.
They use PyTorch's symmetric padding, as mmv3, and BN eps 1e-5 (PyTorch's default), which
the printed config sets (``norm_cfg=dict(type='BN', eps=1e-5, momentum=0.01)``).

Also ``tf_mobilenetv3_large_100`` / ``_075`` and ``tf_mobilenetv3_small_100`` / ``_075``:
timm's ports of the TensorFlow (slim) checkpoints. They need TF's 'SAME' padding (asymmetric
at stride 2 and even sizes) and TF's BN eps 1e-3; the printed config sets
``pad_type='same'`` and ``eps=1e-3``, and inputs in [-1, 1] (mmv3's default preprocessing).

Refused, with the reason:
- ``*_minimal_*``: the minimalistic variants (no SE, no h-swish, 3x3 kernels only) are not
  an mmv3 architecture.
- ``mobilenetv3_small_050``: timm keeps its stem at 16 channels (``fix_stem``), mmv3 scales it.
- ``mobilenetv3_large_150d``, ``mobilenetv3_rw``: different stems / heads.
timm models normalise inputs with the ImageNet mean/std (RGB), not mmv3's [-1, 1].
"""
import argparse

import torch

from mmv3.apis import run_cli

try:
    from _mobilenetv3_common import Canonical, ConversionError, infer_and_check, load_state_dict, save, to_mmv3
except ImportError:  # imported as tools.model_converters.timm2mmv3
    from ._mobilenetv3_common import (Canonical, ConversionError, infer_and_check, load_state_dict, save,
                                      to_mmv3)

SUPPORTED = {
    'mobilenetv3_large_100': ('large', 1.0),
    'mobilenetv3_large_075': ('large', 0.75),
    'mobilenetv3_small_100': ('small', 1.0),
    'mobilenetv3_small_075': ('small', 0.75),
    'tf_mobilenetv3_large_100': ('large', 1.0),
    'tf_mobilenetv3_large_075': ('large', 0.75),
    'tf_mobilenetv3_small_100': ('small', 1.0),
    'tf_mobilenetv3_small_075': ('small', 0.75),
}
REFUSED = {
    'minimal': 'the minimalistic MobileNetV3 (no SE, no h-swish, 3x3 only) is not an mmv3 architecture',
    'mobilenetv3_small_050': "timm keeps the stem at 16 channels for multipliers < 0.75 (fix_stem), mmv3 "
                             'scales it with the multiplier',
    'mobilenetv3_large_150d': 'its deep stem is not the paper\'s architecture',
    'mobilenetv3_rw': "Ross Wightman's variant has a different head (no bias, BN) and SE placement",
}
TIMM_BN_EPS = 1e-5
TF_BN_EPS = 1e-3  # timm's tf_* models use TF's BN eps (and 'SAME' padding)
IMAGENET_PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def check_model_name(name):
    """Return ``(arch, widen_factor)`` of a supported timm model, or raise with the reason."""
    if name in SUPPORTED:
        return SUPPORTED[name]
    for key, why in REFUSED.items():
        if name.startswith(key) or key in name:
            raise ConversionError(f'--model-name {name!r} is not supported: {why}. Supported: {sorted(SUPPORTED)}')
    raise ConversionError(f'--model-name {name!r} is not a supported timm MobileNetV3; '
                          f'supported: {sorted(SUPPORTED)}')


def parse_timm(sd, arch):
    """Read timm's ``conv_stem`` / ``blocks.s.b`` / ``conv_head`` layout into a :class:`Canonical`."""
    if 'conv_stem.weight' not in sd or 'conv_head.weight' not in sd or 'classifier.weight' not in sd:
        raise ConversionError('not a timm MobileNetV3 state dict: expected conv_stem.*, blocks.*, '
                              'conv_head.* and classifier.* keys')
    if 'conv_head.bias' not in sd:
        raise ConversionError('timm head conv has no bias (head_bias=False / mobilenetv3_rw): not supported')
    ids = sorted({tuple(int(t) for t in k.split('.')[1:3]) for k in sd if k.startswith('blocks.')})
    blocks = []
    for s, b in ids[:-1]:
        p = f'blocks.{s}.{b}.'
        blk = {}
        if f'{p}conv_pwl.weight' in sd:  # InvertedResidual: conv_pw/bn1, conv_dw/bn2, se, conv_pwl/bn3
            blk['expand'] = (f'{p}conv_pw.', f'{p}bn1.')
            blk['depthwise'] = (f'{p}conv_dw.', f'{p}bn2.')
            blk['linear'] = (f'{p}conv_pwl.', f'{p}bn3.')
        elif f'{p}conv_dw.weight' in sd:  # DepthwiseSeparable: conv_dw/bn1, se, conv_pw/bn2
            blk['depthwise'] = (f'{p}conv_dw.', f'{p}bn1.')
            blk['linear'] = (f'{p}conv_pw.', f'{p}bn2.')
        else:
            raise ConversionError(f'{p[:-1]} is neither an inverted residual nor a depthwise-separable block')
        if f'{p}se.conv_reduce.weight' in sd:
            blk['se'] = (f'{p}se.conv_reduce.', f'{p}se.conv_expand.')
        blocks.append(blk)
    s, b = ids[-1]
    last = f'blocks.{s}.{b}.'
    if f'{last}conv.weight' not in sd:
        raise ConversionError(f'{last[:-1]} is not the final 1x1 ConvBnAct')
    return Canonical(stem=('conv_stem.', 'bn1.'), blocks=blocks, final=(f'{last}conv.', f'{last}bn1.'),
                     head_fc='conv_head.', head_fc_is_conv=True, classifier='classifier.')


def convert(sd, model_name):
    """timm state dict -> (mmv3 state dict, mmpretrain model config, built mmv3 model)."""
    arch, widen_factor = check_model_name(model_name)
    can = parse_timm(sd, arch)
    out = to_mmv3(sd, can)
    tf = model_name.startswith('tf_')
    cfg, model = infer_and_check(out, arch, bn_eps=TF_BN_EPS if tf else TIMM_BN_EPS, widen_factor=widen_factor,
                                 reduce_tail=None, pad_type='same' if tf else '')
    return out, cfg, model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='timm MobileNetV3 checkpoint (state dict, .pth/.bin/.safetensors)')
    parser.add_argument('dst', help='output mmv3 checkpoint')
    parser.add_argument('--model-name', required=True,
                        help=f'the timm model the checkpoint belongs to, one of {sorted(SUPPORTED)}')
    parser.add_argument('--verify', action='store_true',
                        help='rebuild the timm model and compare logits on a random input')
    args = parser.parse_args(argv)
    sd = load_state_dict(args.src)  # ConversionError: one line, exit 2 (run_cli)
    out, cfg, model = convert(sd, args.model_name)
    if args.model_name.startswith('tf_'):
        notes = ["timm's tf_* models take inputs in [-1, 1] (mmv3's default data_preprocessor, mean=std=127.5)",
                 "TF 'SAME' padding and BN eps 1e-3: keep pad_type='same' and norm_cfg eps=1e-3"]
    else:
        notes = ['timm models expect ImageNet mean/std inputs: set data_preprocessor='
                 f'{IMAGENET_PREPROCESSOR} when evaluating this checkpoint',
                 'BN eps is 1e-5 (timm); keep norm_cfg eps=1e-5 when fine-tuning this checkpoint']
    if args.verify:
        import timm
        src = timm.create_model(args.model_name, pretrained=False,
                                num_classes=cfg['head']['num_classes'])
        src.load_state_dict(sd)
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            diff = (src.eval()(x) - model(x, mode='tensor')).abs().max().item()
        print(f'verify: max |timm - mmv3| = {diff:.3g}')
        if diff >= 1e-5:
            raise ConversionError(f'outputs differ (max |diff| = {diff:.3g} >= 1e-5); conversion refused')
    save(out, cfg, args.dst, source=f'timm:{args.model_name}:{args.src}', notes=notes)


if __name__ == '__main__':
    run_cli(main, 'timm2mmv3.py')
