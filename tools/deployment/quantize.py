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
classification images are resized to H/0.875 on the short side and centre-cropped), after rounding bneck
widths up to multiples of 16 with zero channels (``--pad-channels``), keeps the 16-channel stem
(``--int8-stem`` quantizes it too) and the conv before a classifier's global pooling (``--int8-last-conv``)
in float, runs every hard-sigmoid (h-swish, SE gates) as an integer clip (see
``mmv3.deploy.graph_passes.hard_sigmoid_to_clip``) and writes a classifier's logits in float
(``--int8-logits``: uint8, ONNX Runtime's default); then it
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
from mmv3.deploy.calibration import check_image_folders
from mmv3.deploy.metrics import format_agreement
from mmv3.deploy.pipeline import export, prepare, quantize, runtime_of_backend
from mmv3.deploy.recipe_args import add_int8_args, check_int8_args, export_options, int8_options
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
    p.add_argument('--backend', default='onnx', choices=['onnx', 'openvino', 'litert'],
                   help='onnx (ONNX Runtime, mmv3\'s recipe), openvino (NNCF) or litert. Default: onnx')
    p.add_argument('--sensitivity', action='store_true',
                   help='first measure each layer kept in float alone (one quantization per layer) and print '
                        'the table')
    add_int8_args(p)
    p.add_argument('--out-dir', default=None, help='default: work_dirs/deploy')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    check_int8_args(args)
    warnings.filterwarnings('ignore')
    backend = runtime_of_backend(args.backend)
    suffix = build_runtime(backend).suffix  # refuses a runtime that is not installed before any work
    if backend == 'litert':
        from mmv3.deploy.litert_env import converter_python
        converter_python()  # the converter environment, refused in one line before any work
    if backend == 'litert' and (args.keep_float or args.sensitivity):
        raise ToolError('--keep-float and --sensitivity apply to --backend onnx and openvino; the LiteRT int8 '
                        'recipe has no per-layer float option')
    check_image_folders(calib_dir=args.calib_dir, eval_dir=args.eval_dir)
    prep = prepare(args.config, args.checkpoint, args.shape, args.cfg_options)
    out_dir = args.out_dir or osp.join('work_dirs', 'deploy')
    name = osp.splitext(osp.basename(args.config))[0]
    fpath, qpath = osp.join(out_dir, f'{name}{suffix}'), osp.join(out_dir, f'{name}.int8{suffix}')
    exp = export(prep, fpath, backend=backend, **export_options(args).get(backend, {}))
    label = {'onnxruntime': 'ONNX Runtime', 'openvino': 'OpenVINO', 'litert': 'LiteRT'}[backend]
    print(f'float: {fpath} ({label} vs PyTorch max abs diff {exp["checks"][0]["max_abs_diff"]:.2e})')
    recipe = int8_options(args)[backend]
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
