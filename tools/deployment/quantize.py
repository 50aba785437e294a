"""8-bit post-training static quantization (ONNX Runtime, OpenVINO + NNCF or LiteRT) of a config, calibrated on
an image folder.

    python tools/deployment/quantize.py CONFIG [CHECKPOINT] --calib-dir DIR [--eval-dir DIR] [--shape H W]
        [--num-calib N] [--num-eval N] [--format QOperator|QDQ] [--per-tensor] [--pad-channels 16]
        [--int8-stem] [--int8-last-conv] [--int8-logits] [--float-hard-sigmoid] [--keep-float PATTERN ...]
        [--out-dir DIR] [--backend onnx|openvino|litert] [--ov-preset mixed|performance]
        [--ov-range minmax|mean_minmax] [--ov-int8-eltwise] [--litert-quantizer aeq|pt2e]
        [--litert-hard-swish float|int8|keep] [--sensitivity]

``--backend openvino``: the OpenVINO IR of the same graph quantized by ``nncf.quantize`` with mmv3's recipe
(asymmetric activations ``--ov-preset mixed``, global min/max ranges ``--ov-range minmax``, residual adds
and SE multiplies left unquantized unless ``--ov-int8-eltwise``; see ``mmv3.deploy.runtimes.openvino``; the
ONNX Runtime flags below do not apply), the layers left in float run with the bf16 hint; the report adds
the agreement of OpenVINO's bf16 hint (mode ``ov-bf16``) with f32 on the same images.

``--backend litert``: an int8 ``.tflite`` by ai-edge-quantizer on the float ``.tflite`` (``--litert-quantizer aeq``,
default) or litert-torch's PT2E quantizer (``pt2e``), per-channel weights unless ``--per-tensor``, then the
h-swish rewrite that lets XNNPACK run the whole graph (``--litert-hard-swish``; see mmv3/deploy/tflite_graph.py);
the report adds how many XNNPACK partitions the int8 graph has and which ops are left to TFLite's kernels.
Needs the converter environment (``python tools/deployment/install_litert_env.py``).

Exports the BN-folded float model (as tools/deployment/export_onnx.py, static shape), quantizes it with
``onnxruntime.quantization.quantize_static`` (per-channel int8 weights, uint8 activations, MinMax
calibration on ``--num-calib`` images of ``--calib-dir``, preprocessed with the config's mean/std and BGR->RGB;
classification images are resized to H/0.875 on the short side and centre-cropped), after rounding bneck widths up to multiples of 16 with zero channels
(``--pad-channels``), keeps the 16-channel stem (``--int8-stem`` quantizes it too) and the conv before a
classifier's global pooling (``--int8-last-conv``) in float, runs every hard-sigmoid (h-swish, SE gates)
as an integer clip (see ``mmv3.deploy.graph_passes.hard_sigmoid_to_clip``) and writes a classifier's
logits in float (``--int8-logits``: uint8, ONNX Runtime's default); then it
reports the agreement with the float model on ``--eval-dir`` (images used for calibration are left
out when both folders are the same):

- cls: top-1 agreement (and top-5 overlap) of int8 vs float predictions;
- seg: mIoU of the int8 prediction against the float prediction, pixel agreement, and each model's
  mIoU against the Cityscapes ``*_gtFine_labelTrainIds.png`` labels when they are found;
- det: output errors of the raw head outputs.

``--keep-float PATTERN ...`` leaves more nodes in float (``fnmatch`` on node names such as
``/model/backbone/layer16/conv/Conv``, e.g. ``'*/layer16/*'``; both backends). ``--sensitivity`` first
measures each layer alone: the recipe with that one layer kept in float, its output error and agreement
on ``--eval-dir`` (``mmv3.deploy.sensitivity``; one quantization per layer, minutes), printed as a table.
"""
import argparse
import json
import os.path as osp
import warnings

from mmv3.apis import ToolError, add_cfg_options, add_shape, run_cli
from mmv3.deploy.metrics import format_agreement
from mmv3.deploy.pipeline import export, prepare, quantize, runtime_of_backend
from mmv3.deploy.runtimes import build_runtime


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', default=None, help='checkpoint (default: random init)')
    p.add_argument('--calib-dir', required=True, help='image folder for calibration (any layout, recursive)')
    p.add_argument('--eval-dir', default=None, help='image folder for the agreement check (default: --calib-dir)')
    add_shape(p)
    p.add_argument('--num-calib', type=int, default=32, help='calibration images. Default: 32')
    p.add_argument('--num-eval', type=int, default=None, help='evaluation images (default: all)')
    p.add_argument('--format', default='QOperator', choices=['QDQ', 'QOperator'],
                   help='quantized graph format. Default: QOperator (needed for the int8 hard-sigmoid)')
    p.add_argument('--activation-type', default='uint8', choices=['uint8', 'int8'],
                   help='activation type (uint8 = U8S8, the fast x86 path). Default: uint8')
    p.add_argument('--calibrate-method', default='minmax', choices=['minmax', 'entropy', 'percentile'])
    p.add_argument('--per-tensor', action='store_true', help='per-tensor instead of per-channel weights')
    p.add_argument('--pad-channels', type=int, default=16, metavar='N',
                   help='round bneck expansion widths up to a multiple of N with zero channels (same function, '
                        'faster uint8 depthwise kernels); 0 disables. Default: 16')
    p.add_argument('--int8-stem', action='store_true',
                   help='quantize the stem too (default: the first conv + first bneck, 16 channels, stay float: '
                        'ONNX Runtime runs them faster in float)')
    p.add_argument('--int8-last-conv', action='store_true',
                   help='quantize the conv before a classifier\'s global pooling too (default: float, where int8 '
                        'costs the most accuracy)')
    p.add_argument('--int8-logits', action='store_true',
                   help='quantize the logits to uint8 (ONNX Runtime\'s default; near-ties then round to equal '
                        'logits) instead of writing them in float')
    p.add_argument('--float-hard-sigmoid', action='store_true',
                   help='leave hard-sigmoid in float (dequantize/quantize around it) instead of an integer clip')
    p.add_argument('--keep-float', nargs='+', default=[], metavar='PATTERN',
                   help='also keep the nodes whose names match these fnmatch patterns in float '
                        '(e.g. \'*/layer16/*\'; both backends)')
    p.add_argument('--backend', default='onnx', choices=['onnx', 'openvino', 'litert'],
                   help='onnx (ONNX Runtime, mmv3\'s recipe), openvino (NNCF) or litert. Default: onnx')
    p.add_argument('--ov-preset', default='mixed', choices=['mixed', 'performance'],
                   help='openvino: NNCF preset (mixed = asymmetric activations; performance = symmetric, NNCF\'s '
                        'default). Default: mixed')
    p.add_argument('--ov-range', default='minmax', choices=['minmax', 'mean_minmax'],
                   help='openvino: activation ranges from the global min/max of the calibration set, or the mean '
                        'of per-image min/max (NNCF\'s default). Default: minmax')
    p.add_argument('--ov-int8-eltwise', action='store_true',
                   help='openvino: also quantize the inputs of residual adds and SE multiplies (NNCF\'s default)')
    p.add_argument('--sensitivity', action='store_true',
                   help='first measure each layer kept in float alone (one quantization per layer) and print '
                        'the table')
    p.add_argument('--litert-quantizer', default='aeq', choices=['aeq', 'pt2e'],
                   help='litert: ai-edge-quantizer or litert-torch PT2E. Default: aeq')
    p.add_argument('--litert-hard-swish', default='float', choices=['float', 'int8', 'keep'],
                   help='litert: run int8 h-swish as dequantize/float/quantize (float), three int8 ops (int8) or '
                        'leave TFLite\'s int8 HARD_SWISH, which XNNPACK does not take (keep). Default: float')
    p.add_argument('--out-dir', default=None, help='default: work_dirs/deploy')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.pad_channels < 0:
        raise ToolError(f'--pad-channels must be >= 0, got {args.pad_channels}')
    if args.num_calib < 1:
        raise ToolError(f'--num-calib must be >= 1, got {args.num_calib}')
    bad = [p for p in args.keep_float if not p.strip() or p.startswith('-')]
    if bad:
        raise ToolError(f'--keep-float takes fnmatch patterns of node names (e.g. \'*/layer16/*\'), got {bad[0]!r}')
    warnings.filterwarnings('ignore')
    backend = runtime_of_backend(args.backend)
    suffix = build_runtime(backend).suffix  # refuses a runtime that is not installed before any work
    if backend == 'litert':
        from mmv3.deploy.litert_env import converter_python
        converter_python()  # the converter environment, refused in one line before any work
    if backend == 'litert' and (args.keep_float or args.sensitivity):
        raise ToolError('--keep-float and --sensitivity apply to --backend onnx and openvino; the LiteRT int8 '
                        'recipe has no per-layer float option')
    prep = prepare(args.config, args.checkpoint, args.shape, args.cfg_options)
    out_dir = args.out_dir or osp.join('work_dirs', 'deploy')
    name = osp.splitext(osp.basename(args.config))[0]
    fpath, qpath = osp.join(out_dir, f'{name}{suffix}'), osp.join(out_dir, f'{name}.int8{suffix}')
    exp = export(prep, fpath, backend=backend)
    label = {'onnxruntime': 'ONNX Runtime', 'openvino': 'OpenVINO', 'litert': 'LiteRT'}[backend]
    print(f'float: {fpath} ({label} vs PyTorch max abs diff {exp["checks"][0]["max_abs_diff"]:.2e})')
    if backend == 'openvino':
        recipe = dict(preset=args.ov_preset, activation_range=args.ov_range, int8_eltwise=args.ov_int8_eltwise,
                      keep_float=args.keep_float)
    elif backend == 'litert':
        recipe = dict(quantizer=args.litert_quantizer, per_channel=not args.per_tensor,
                      hard_swish=args.litert_hard_swish)
    else:
        recipe = dict(quant_format=args.format, per_channel=not args.per_tensor,
                      activation_type=args.activation_type, calibrate_method=args.calibrate_method,
                      pad_multiple=args.pad_channels, int8_hard_sigmoid=not args.float_hard_sigmoid,
                      float_stem=not args.int8_stem, float_last_conv=not args.int8_last_conv,
                      float_output=not args.int8_logits, keep_float=args.keep_float)
    eval_dir = args.eval_dir or args.calib_dir
    if args.sensitivity:
        from mmv3.deploy.sensitivity import format_sensitivity, layer_sensitivity
        table = layer_sensitivity(prep, fpath, osp.join(out_dir, f'{name}.sens{suffix}'), args.calib_dir, eval_dir,
                                  args.num_calib, args.num_eval, backend=backend, **recipe)
        print(format_sensitivity(table))
    options = dict(recipe, also_precisions=['bf16']) if backend == 'openvino' else recipe
    try:
        res = quantize(prep, fpath, qpath, args.calib_dir, eval_dir, args.num_calib, args.num_eval, backend=backend,
                       **options)
    except ValueError as e:  # e.g. a --keep-float pattern that matches no node
        raise ToolError(str(e)) from None
    if backend == 'openvino':
        print(f'int8:  {qpath} (NNCF, preset {args.ov_preset}, {args.ov_range} ranges, '
              f'{"int8" if args.ov_int8_eltwise else "bf16"} adds/multiplies, {res["num_calib"]} calibration images; '
              f'float layers in bf16)')
    elif backend == 'litert':
        xnn = res['xnnpack']
        left = ', '.join(f'{k} x{v}' for k, v in xnn['cpu_ops'].items()) or 'none'
        print(f'int8:  {qpath} ({args.litert_quantizer}, {"per-tensor" if args.per_tensor else "per-channel"}, '
              f'{res["num_calib"]} calibration images; h-swish {args.litert_hard_swish}: '
              f'{res["hard_swish_rewritten"]} rewritten); XNNPACK partitions: {xnn["partitions"]}, '
              f'ops left to TFLite kernels: {left}')
    else:
        print(f'int8:  {qpath} ({args.format}, {"per-tensor" if args.per_tensor else "per-channel"}, '
              f'{args.activation_type} activations, {res["num_calib"]} calibration images)')
    agr = res.get('agreement', {})
    print(format_agreement(prep.task, agr))
    extra = {}
    if 'agreement_bf16' in res:
        extra['agreement_bf16'] = res['agreement_bf16']
        text = format_agreement(prep.task, res['agreement_bf16']).replace('int8', 'bf16')
        print(f'OpenVINO bf16 hint vs f32: {text}')
    if 'xnnpack' in res:
        extra['xnnpack'] = res['xnnpack']
    print(json.dumps(dict(agreement=agr, float=fpath, int8=qpath, **extra)))


if __name__ == '__main__':
    run_cli(main, 'quantize.py')
