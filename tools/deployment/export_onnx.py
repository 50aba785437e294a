"""Export a classification / detection / segmentation config to ONNX, OpenVINO IR or LiteRT (BN folded) and check it.

    python tools/deployment/export_onnx.py CONFIG [CHECKPOINT] [--shape H W] [--dynamic] [--out FILE]
        [--backend onnx|openvino|litert]

``--backend`` picks the runtime (:data:`mmv3.deploy.pipeline.BACKENDS`): ``onnx`` writes ``.onnx`` and
checks it with ONNX Runtime (default); ``openvino`` writes the OpenVINO IR (``.xml`` + ``.bin``,
converted from the same ONNX graph, f32 weights) and checks it with OpenVINO's CPU plugin at f32;
``litert`` writes a float ``.tflite`` (``torch.export`` -> litert-torch, in the converter environment of
``python tools/deployment/install_litert_env.py``) for a fixed input size (segmentation too: ``--shape``) and
checks it with LiteRT's interpreter + XNNPACK.

- cls: output ``logits`` (N, classes).
- seg: output ``seg_logits`` (N, classes, H, W), resized to the input; dynamic H/W by default.
- det: outputs ``cls_score_<l>`` / ``bbox_pred_<l>`` per level, before anchor decoding and NMS
  (documented in ``mmv3/deploy/detection.py``; ``mmv3.deploy.detection.postprocess`` runs mmdet's own
  ``predict_by_feat`` on them).

BatchNorm is folded into the convolutions before export (``--no-fold`` keeps it). The runtime's
outputs are compared with PyTorch's on random inputs (and, for a dynamic model, on a second size);
the max abs difference is printed and the tool exits non-zero when it exceeds the tolerance.
"""
import argparse
import json
import os.path as osp
import warnings

from mmv3.apis import ToolError, add_cfg_options, add_shape, run_cli
from mmv3.deploy.pipeline import export, prepare, runtime_of_backend
from mmv3.deploy.runtimes import build_runtime

LABELS = {'onnxruntime': 'ONNX Runtime', 'openvino': 'OpenVINO', 'litert': 'LiteRT'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file path')
    p.add_argument('checkpoint', nargs='?', default=None, help='checkpoint (default: random init)')
    add_shape(p)
    dyn = p.add_mutually_exclusive_group()
    dyn.add_argument('--dynamic', dest='dynamic', action='store_true', default=None,
                     help='dynamic batch/height/width (default for segmentation)')
    dyn.add_argument('--static', dest='dynamic', action='store_false', help='fixed input size')
    p.add_argument('--backend', default='onnx', choices=['onnx', 'openvino', 'litert'],
                   help='onnx (.onnx, checked with ONNX Runtime), openvino (.xml IR) or litert (.tflite, fixed '
                        'size). Default: onnx')
    p.add_argument('--out', help='output file (default: work_dirs/deploy/<config name>.onnx / .xml / .tflite)')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (>= 14 for HardSwish). Default: 17')
    p.add_argument('--no-fold', action='store_true', help='keep BatchNormalization nodes')
    p.add_argument('--no-verify', action='store_true', help='skip the runtime-vs-PyTorch check')
    p.add_argument('--atol', type=float, default=1e-4, help='absolute tolerance of the check')
    p.add_argument('--rtol', type=float, default=1e-3, help='tolerance relative to max |output|')
    add_cfg_options(p)
    p.add_argument('--json', action='store_true', help='print the result as JSON too')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')  # OpenMMLab deprecation chatter; errors still raise
    if args.opset < 14:
        raise ToolError(f'--opset must be >= 14 (HardSwish), got {args.opset}')
    backend = runtime_of_backend(args.backend)
    runtime = build_runtime(backend)  # also refuses a runtime that is not installed, before any work
    suffix = runtime.suffix
    if args.out and not args.out.endswith(suffix):
        raise ToolError(f'--out for --backend {args.backend} must end with {suffix}, got {args.out!r}')
    if args.dynamic and not runtime.supports_dynamic:
        raise ToolError(f'--backend {args.backend} exports a fixed input size: drop --dynamic (use --shape H W)')
    if backend == 'litert':
        from mmv3.deploy.litert_env import converter_python
        converter_python()  # the converter environment: refuse in one line before building anything
    label = LABELS.get(backend, backend)
    prep = prepare(args.config, args.checkpoint, args.shape, args.cfg_options, fold=not args.no_fold)
    dynamic = (prep.task == 'seg' and runtime.supports_dynamic) if args.dynamic is None else args.dynamic
    out = args.out or osp.join('work_dirs', 'deploy', osp.splitext(osp.basename(args.config))[0] + suffix)
    h, w = prep.shape
    extra = [(h + 64, w + 128)] if dynamic else []
    try:
        res = export(prep, out, dynamic=dynamic, opset=args.opset, verify=not args.no_verify,
                     atol=args.atol, rtol=args.rtol, extra_shapes=extra, backend=backend)
    except Exception as e:  # the TorchScript exporter's messages embed the whole IR graph: keep the gist
        first = str(e).strip().splitlines()
        raise ToolError(f'{args.backend} export of {args.config} failed: {type(e).__name__}: '
                        f'{first[0] if first else ""}'
                        f'{" (try --static or another --shape)" if dynamic else ""}') from e
    print(f'task: {prep.task}  input: 1x3x{h}x{w}{"  (dynamic N/H/W)" if dynamic else ""}'
          f'{f"  opset {args.opset}" if backend != "litert" else ""}  backend {args.backend}')
    print(f'BN folded into convs: {res["num_folded"]}  BatchNormalization nodes left: {res["bn_left"]}')
    print(f'outputs: {", ".join(res["outputs"])}')
    print(f'wrote {out}')
    ok = True
    for c in res['checks']:
        shp = 'x'.join(map(str, c['shape']))
        print(f'{label} vs PyTorch at {shp}: max abs diff {c["max_abs_diff"]:.3e} '
              f'(max |output| {c["max_abs_ref"]:.3g}) -> {"OK" if c["ok"] else "MISMATCH"}')
        ok &= bool(c['ok'])
    if prep.task == 'det':
        print('post-processing (anchors, decoding, NMS) is not in the graph: see mmv3/deploy/detection.py')
    if args.json:
        print(json.dumps({k: v for k, v in res.items()}, default=str))
    if not ok:
        raise ToolError(f'{label} outputs differ from PyTorch beyond atol={args.atol}, rtol={args.rtol}',
                        exit_code=1)


if __name__ == '__main__':
    run_cli(main, 'export_onnx.py')
