"""The int8 recipe options of the deployment tools, in one place.

``tools/deployment/quantize.py`` and ``tools/analysis_tools/benchmark.py`` take the same recipe flags
(:func:`add_int8_args`), refuse bad values the same way (:func:`check_int8_args`) and turn them into the
options of each runtime's ``quantize`` (:func:`int8_options`: ``onnxruntime`` -> ``quantize_model``,
``openvino`` -> ``quantize_openvino``, ``litert`` -> the LiteRT quantizer) and of the OpenVINO export
(:func:`export_options`).
"""
import argparse
from typing import Dict

from mmv3.apis import ToolError


def add_int8_args(p: argparse.ArgumentParser) -> None:
    """Add the int8 recipe flags (ONNX Runtime, OpenVINO + NNCF, LiteRT) to ``p``."""
    g = p.add_argument_group('int8 recipe (ONNX Runtime: ort-int8 / --backend onnx)')
    g.add_argument('--format', '--int8-format', dest='format', default='QOperator', choices=['QOperator', 'QDQ'],
                   help='quantized graph format. Default: QOperator (needed for the integer hard-sigmoid)')
    g.add_argument('--activation-type', default='uint8', choices=['uint8', 'int8'],
                   help='activation type (uint8 = U8S8, the fast x86 path). Default: uint8')
    g.add_argument('--calibrate-method', default='minmax', choices=['minmax', 'entropy', 'percentile'],
                   help='calibration method. Default: minmax')
    g.add_argument('--per-tensor', action='store_true',
                   help='per-tensor instead of per-channel weights (ONNX Runtime and LiteRT)')
    g.add_argument('--pad-channels', type=int, default=16, metavar='N',
                   help='round bneck expansion widths up to a multiple of N with zero channels (same function, '
                        'faster uint8 depthwise kernels); 0 disables. Default: 16')
    g.add_argument('--int8-stem', action='store_true',
                   help='quantize the stem too (default: the first conv + first bneck, 16 channels, stay float: '
                        'ONNX Runtime runs them faster in float)')
    g.add_argument('--int8-last-conv', action='store_true',
                   help='quantize the conv before a classifier\'s global pooling too (default: float, where int8 '
                        'costs the most accuracy)')
    g.add_argument('--int8-logits', action='store_true',
                   help='quantize the logits to uint8 (ONNX Runtime\'s default; near-ties then round to equal '
                        'logits) instead of writing them in float')
    g.add_argument('--float-hard-sigmoid', action='store_true',
                   help='leave hard-sigmoid in float (dequantize/quantize around it) instead of an integer clip')
    g.add_argument('--keep-float', nargs='+', default=[], metavar='PATTERN',
                   help='also keep the nodes whose names match these fnmatch patterns in float '
                        '(e.g. \'*/layer16/*\'; ONNX Runtime and OpenVINO)')
    g = p.add_argument_group('int8 recipe (OpenVINO + NNCF: ov-int8 / --backend openvino)')
    g.add_argument('--ov-preset', default='mixed', choices=['mixed', 'performance'],
                   help='NNCF preset (mixed = asymmetric activations; performance = symmetric, NNCF\'s default). '
                        'Default: mixed')
    g.add_argument('--ov-range', default='minmax', choices=['minmax', 'mean_minmax'],
                   help='activation ranges from the global min/max of the calibration set, or the mean of '
                        'per-image min/max (NNCF\'s default). Default: minmax')
    g.add_argument('--ov-int8-eltwise', action='store_true',
                   help='also quantize the inputs of residual adds and SE multiplies (NNCF\'s default)')
    g.add_argument('--ov-hard-sigmoid', action='store_true',
                   help='keep the SE gates as HardSigmoid (a reference f32 kernel in OpenVINO) instead of HSigmoid '
                        '(ablation)')
    g = p.add_argument_group('int8 recipe (LiteRT: litert-int8 / --backend litert)')
    g.add_argument('--litert-quantizer', default='aeq', choices=['aeq', 'pt2e'],
                   help='ai-edge-quantizer or litert-torch PT2E. Default: aeq')
    g.add_argument('--litert-hard-swish', default='float', choices=['float', 'int8', 'keep'],
                   help='run int8 h-swish as dequantize/float/quantize (float), three int8 ops (int8) or leave '
                        'TFLite\'s int8 HARD_SWISH, which XNNPACK does not take (keep). Default: float')


def check_int8_args(args: argparse.Namespace) -> None:
    """One-line refusals of bad recipe values (before any work)."""
    if args.pad_channels < 0:
        raise ToolError(f'--pad-channels must be >= 0, got {args.pad_channels}')
    if getattr(args, 'num_calib', 1) < 1:
        raise ToolError(f'--num-calib must be >= 1, got {args.num_calib}')
    bad = [p for p in args.keep_float if not p.strip() or p.startswith('-')]
    if bad:
        raise ToolError(f'--keep-float takes fnmatch patterns of node names (e.g. \'*/layer16/*\'), got {bad[0]!r}')


def int8_options(args: argparse.Namespace, keep_float: bool = True) -> Dict[str, dict]:
    """The recipe as options of each runtime's ``quantize``: ``{runtime name: options}``.

    Args:
        args: Parsed arguments of :func:`add_int8_args`.
        keep_float (bool): Apply ``--keep-float`` (node names of mmv3's graphs; the benchmark leaves the peers'
            graphs alone). Default: True.
    """
    patterns = list(args.keep_float) if keep_float else []
    return dict(
        onnxruntime=dict(quant_format=args.format, per_channel=not args.per_tensor,
                         activation_type=args.activation_type, calibrate_method=args.calibrate_method,
                         pad_multiple=args.pad_channels, int8_hard_sigmoid=not args.float_hard_sigmoid,
                         float_stem=not args.int8_stem, float_last_conv=not args.int8_last_conv,
                         float_output=not args.int8_logits, keep_float=patterns),
        openvino=dict(preset=args.ov_preset, activation_range=args.ov_range, int8_eltwise=args.ov_int8_eltwise,
                      keep_float=patterns),
        litert=dict(quantizer=args.litert_quantizer, per_channel=not args.per_tensor,
                    hard_swish=args.litert_hard_swish))


def export_options(args: argparse.Namespace) -> Dict[str, dict]:
    """Export options the recipe flags set, per runtime (OpenVINO: the SE gates as HSigmoid or HardSigmoid)."""
    return dict(openvino=dict(hsigmoid=not args.ov_hard_sigmoid))


__all__ = ['add_int8_args', 'check_int8_args', 'int8_options', 'export_options']
