"""Convert a torchvision MobileNetV3 checkpoint into an mmv3 / mmpretrain (or mmseg) checkpoint.

Usage:
    python tools/model_converters/torchvision2mmv3.py SRC.pth DST.pth [--verify]
    python tools/model_converters/torchvision2mmv3.py SRC.pth DST.pth --model lraspp_mobilenet_v3_large [--verify]
    python tools/model_converters/torchvision2mmv3.py SRC.pth DST.pth --model ssdlite320_mobilenet_v3_large [--verify]

``--model lraspp_mobilenet_v3_large``: torchvision's LR-ASPP (segmentation), written for
``configs/seg/lraspp_mobilenet-v3-large_torchvision_coco-voc.py`` (logic in
:mod:`mmv3.converters.torchvision_dense`; every source tensor used once, shapes checked).

``--model ssdlite320_mobilenet_v3_large``: torchvision's SSDLite (COCO detection), written for
``configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py`` (the class channels are permuted to
mmdet's background-last order; same module, same checks).

``SRC`` is a state dict of ``torchvision.models.mobilenet_v3_large`` / ``_small`` (any
``width_mult`` our width rounding reproduces, ``reduced_tail`` -> mmv3's
``reduce_tail='dagger'``; ``dilated`` changes no weights). The output loads into an
mmpretrain ``ImageClassifier`` with ``type='mmv3.MobileNetV3'`` (the printed config) and
gives the same logits as torchvision (``--verify`` checks it, max abs diff < 1e-5).

Architecture facts this relies on (checked when loading, ``strict=True``):
torchvision's SE squeeze width is ``make_divisible(exp / 4, 8)`` with biases, ReLU and
hard-sigmoid, as mmv3's; its BN uses eps 1e-3 / momentum 0.01 (TF's), as mmv3's default;
its classifier is Linear(960 -> 1280) + Hardswish + Dropout(0.2) + Linear, i.e.
mmpretrain's StackedLinearClsHead. torchvision scales the 1280/1024 head width with
``width_mult`` (mmv3's configs keep it at 1280/1024, TF's finegrain mode), so for
``width_mult != 1`` the printed config's ``mid_channels`` follows the checkpoint.
torchvision normalises inputs with the ImageNet mean/std (RGB), not mmv3's [-1, 1].
"""
import argparse

import torch

from mmv3.apis import run_cli

try:
    from _mobilenetv3_common import (NUM_BLOCKS, Canonical, ConversionError, infer_and_check,
                                     load_state_dict, save, to_mmv3)
except ImportError:  # imported as tools.model_converters.torchvision2mmv3
    from ._mobilenetv3_common import (NUM_BLOCKS, Canonical, ConversionError, infer_and_check,
                                      load_state_dict, save, to_mmv3)

MODELS = ('mobilenet_v3', 'lraspp_mobilenet_v3_large', 'ssdlite320_mobilenet_v3_large')
IMAGENET_PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def parse_torchvision(sd):
    """Read torchvision's ``features`` / ``classifier`` layout into a :class:`Canonical`."""
    feats = sorted({int(k.split('.')[1]) for k in sd if k.startswith('features.')})
    if not feats or 'classifier.0.weight' not in sd or 'classifier.3.weight' not in sd:
        raise ConversionError('not a torchvision MobileNetV3 state dict: expected keys features.* and '
                              'classifier.{0,3}.* (torchvision.models.mobilenet_v3_large / _small)')
    num_blocks = len(feats) - 2
    arch = {v: k for k, v in NUM_BLOCKS.items()}.get(num_blocks)
    if arch is None:
        raise ConversionError(f'torchvision MobileNetV3 has 15 (large) or 11 (small) blocks; '
                              f'this checkpoint has {num_blocks}')
    blocks = []
    for i in feats[1:-1]:
        prefix = f'features.{i}.block.'
        subs = sorted({int(k[len(prefix):].split('.')[0]) for k in sd if k.startswith(prefix)})
        convs, blk = [], {}
        for j in subs:
            p = f'{prefix}{j}.'
            if f'{p}fc1.weight' in sd:
                blk['se'] = (f'{p}fc1.', f'{p}fc2.')
            else:
                convs.append((f'{p}0.', f'{p}1.'))
        if len(convs) == 3:
            blk['expand'] = convs.pop(0)
        if len(convs) != 2 or sd[f'{convs[0][0]}weight'].shape[1] != 1:
            raise ConversionError(f'features.{i} is not an inverted residual block (expand, depthwise, '
                                  '[SE], project)')
        blk['depthwise'], blk['linear'] = convs
        blocks.append(blk)
    last = feats[-1]
    can = Canonical(stem=('features.0.0.', 'features.0.1.'), blocks=blocks,
                    final=(f'features.{last}.0.', f'features.{last}.1.'),
                    head_fc='classifier.0.', head_fc_is_conv=False, classifier='classifier.3.')
    return arch, can


def convert(sd, widen_factor=None):
    """torchvision state dict -> (mmv3 state dict, mmpretrain model config, built mmv3 model)."""
    arch, can = parse_torchvision(sd)
    out = to_mmv3(sd, can)
    cfg, model = infer_and_check(out, arch, bn_eps=0.001, widen_factor=widen_factor)
    return out, cfg, model


def build_torchvision(cfg, sd):
    """The torchvision model matching ``cfg`` with ``sd`` loaded (for --verify)."""
    import torchvision
    bb = cfg['backbone']
    fn = getattr(torchvision.models, f'mobilenet_v3_{bb["arch"]}')
    model = fn(weights=None, width_mult=bb['widen_factor'], reduced_tail=bb.get('reduce_tail') == 'dagger',
               num_classes=cfg['head']['num_classes'])
    model.load_state_dict(sd)
    return model.eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='torchvision MobileNetV3 checkpoint (state dict)')
    parser.add_argument('dst', help='output mmv3 checkpoint')
    parser.add_argument('--model', default='mobilenet_v3', choices=MODELS,
                        help='the torchvision model: mobilenet_v3 (classification, large/small inferred), '
                             'lraspp_mobilenet_v3_large (segmentation) or ssdlite320_mobilenet_v3_large (detection)')
    parser.add_argument('--widen-factor', type=float, default=None,
                        help='width multiplier (default: inferred from the shapes)')
    parser.add_argument('--verify', action='store_true',
                        help='rebuild the torchvision model and compare logits on a random input')
    args = parser.parse_args(argv)
    if args.model == 'lraspp_mobilenet_v3_large':
        return main_lraspp(args)
    if args.model == 'ssdlite320_mobilenet_v3_large':
        return main_ssdlite(args)
    sd = load_state_dict(args.src)  # ConversionError: one line, exit 2 (run_cli)
    out, cfg, model = convert(sd, args.widen_factor)
    notes = ['torchvision models expect ImageNet mean/std inputs: set data_preprocessor='
             f'{IMAGENET_PREPROCESSOR} when evaluating this checkpoint']
    if args.verify:
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            diff = (build_torchvision(cfg, sd)(x) - model(x, mode='tensor')).abs().max().item()
        print(f'verify: max |torchvision - mmv3| = {diff:.3g}')
        if diff >= 1e-5:
            raise ConversionError(f'outputs differ (max |diff| = {diff:.3g} >= 1e-5); conversion refused')
    save(out, cfg, args.dst, source=f'torchvision:{args.src}', notes=notes)


def main_lraspp(args):
    """``--model lraspp_mobilenet_v3_large``: torchvision's LR-ASPP -> mmseg EncoderDecoder checkpoint."""
    from mmv3.converters.torchvision_dense import build_lraspp, convert_lraspp
    sd = load_state_dict(args.src)  # ConversionError: one line, exit 2 (run_cli)
    out, cfg = convert_lraspp(sd)
    model = build_lraspp(cfg, out)
    if args.verify:
        import torchvision
        from mmseg.models.utils import resize
        src = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=cfg['decode_head']['num_classes'])
        src.load_state_dict(sd)
        x = torch.randn(1, 3, 225, 301)
        with torch.no_grad():
            ref = src.eval()(x)['out']
            got = resize(model(x, mode='tensor'), size=x.shape[2:], mode='bilinear', align_corners=False)
        diff = (ref - got).abs().max().item()
        print(f'verify: max |torchvision - mmv3| = {diff:.3g} (logit range {ref.abs().max().item():.3g})')
        if diff > 1e-5 * max(ref.abs().max().item(), 1.0):
            raise ConversionError(f'outputs differ from torchvision (max abs diff {diff:.3g}); conversion refused')
    notes = ['config: configs/seg/lraspp_mobilenet-v3-large_torchvision_coco-voc.py (ImageNet mean/std inputs, '
             '21 VOC classes)']
    save(out, cfg, args.dst, source=f'torchvision:lraspp_mobilenet_v3_large:{args.src}', notes=notes,
         header='model config for this checkpoint (mmseg EncoderDecoder, default_scope="mmseg"):')


def main_ssdlite(args):
    """``--model ssdlite320_mobilenet_v3_large``: torchvision's SSDLite -> mmdet SingleStageDetector checkpoint."""
    from mmv3.converters.torchvision_dense import (SSDLITE_CONFIG_FILE, build_ssdlite, convert_ssdlite,
                                                   ssdlite_head_outputs, ssdlite_model_config)
    sd = load_state_dict(args.src)  # ConversionError: one line, exit 2 (run_cli)
    out, num_slots = convert_ssdlite(sd)
    cfg = ssdlite_model_config()
    if num_slots != cfg['bbox_head']['num_classes'] + 1:
        raise ConversionError(f'the checkpoint predicts {num_slots} class slots; {SSDLITE_CONFIG_FILE} expects '
                              f'{cfg["bbox_head"]["num_classes"] + 1} (torchvision\'s COCO: background + 90 ids)')
    model = build_ssdlite(cfg, out)
    if args.verify:
        import torchvision
        src = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=num_slots)
        src.load_state_dict(sd)
        src.eval()
        x = torch.randn(1, 3, 320, 320)
        with torch.no_grad():
            ref = src.head(list(src.backbone(x).values()))
            logits, deltas = ssdlite_head_outputs(model, x)
        for name, got, want in (('class logits', logits, ref['cls_logits']),
                                ('box regressions', deltas, ref['bbox_regression'])):
            diff, scale = (got - want).abs().max().item(), want.abs().max().item()
            print(f'verify: {name}: max |torchvision - mmv3| = {diff:.3g} (range {scale:.3g})')
            if got.shape != want.shape or diff > 1e-5 * max(scale, 1.0):
                raise ConversionError(f'{name} differ from torchvision (max abs diff {diff:.3g}); conversion refused')
    notes = [f'config: {SSDLITE_CONFIG_FILE} (inputs (x - 127.5) / 127.5 after a float bilinear resize to '
             '320x320; class slots = COCO category id - 1, background last)']
    save(out, cfg, args.dst, source=f'torchvision:ssdlite320_mobilenet_v3_large:{args.src}', notes=notes,
         header='model config for this checkpoint (mmdet SingleStageDetector, default_scope="mmdet"):')


if __name__ == '__main__':
    run_cli(main, 'torchvision2mmv3.py')
