"""PyTorch -> LiteRT conversion, run as a script inside the litert-torch environment (numpy 2).

litert-torch 0.10.0 needs numpy 2 and mmv3's environment keeps numpy < 2 (OpenMMLab), so
:mod:`mmv3.deploy.runtimes.litert` runs this file with the Python of the environment made by
``python tools/deployment/install_litert_env.py`` (:mod:`mmv3.deploy.litert_env`). It imports neither mmv3
nor OpenMMLab: the model arrives as a ``torch.export`` program (``.pt2``, written by mmv3's process with
the same torch), calibration inputs as one ``.npy`` array ``(num, C, H, W)``.

    python litert_convert.py float --program M.pt2 --out M.tflite
    python litert_convert.py pt2e  --program M.pt2 --calib C.npy --out M.int8.tflite [--per-tensor]
    python litert_convert.py aeq   --float M.tflite --calib C.npy --out M.int8.tflite [--per-tensor]

- ``float``: ``litert_torch.convert`` of the program's module.
- ``pt2e``: litert-torch's PT2E quantizer (``PT2EQuantizer`` with ``get_symmetric_quantization_config``:
  int8 symmetric weights, per-channel unless ``--per-tensor``; int8 activations with histogram
  observers) -> ``prepare_pt2e`` -> calibration -> ``convert_pt2e(fold_quantize=False)`` (``True`` fails
  in litert-torch 0.10.0 with ``stablehlo.uniform_dequantize``) -> ``litert_torch.convert``.
- ``aeq``: ai-edge-quantizer on the float ``.tflite``: recipe ``static_wi8_ai8`` (every supported op int8,
  min/max calibration; weights per channel unless ``--per-tensor``).

Prints one JSON line (``seconds``, versions) last.
"""
import argparse
import json
import logging
import os
import sys
import time
import warnings


def _load_program(path):
    import torch
    ep = torch.export.load(path)
    return ep, ep.module()


def _example(ep):
    """Zero tensors shaped like the program's user inputs."""
    import torch
    sig = ep.graph_signature
    user = [s.arg.name for s in sig.input_specs if s.kind == torch.export.graph_signature.InputKind.USER_INPUT]
    nodes = {n.name: n for n in ep.graph.nodes if n.op == 'placeholder'}
    return tuple(torch.zeros(tuple(int(d) for d in nodes[name].meta['val'].shape)) for name in user)


def convert_float(args):
    import litert_torch
    ep, module = _load_program(args.program)
    litert_torch.convert(module, _example(ep)).export(args.out)


def convert_pt2e(args):
    import litert_torch
    import numpy as np
    import torch
    from litert_torch.quantize import pt2e_quantizer, quant_config
    from torchao.quantization.pt2e import quantize_pt2e
    ep, _ = _load_program(args.program)
    example = _example(ep)
    calib = np.load(args.calib)
    module = torch.export.export(ep.module(), example).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=not args.per_tensor))
    module = quantize_pt2e.prepare_pt2e(module, quantizer)
    with torch.no_grad():
        for x in calib:
            module(torch.from_numpy(np.ascontiguousarray(x[None])))
    module = quantize_pt2e.convert_pt2e(module, fold_quantize=False)
    litert_torch.convert(module, example, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer)).export(
        args.out)


def convert_aeq(args):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import qtyping, quantizer, recipe_manager
    sig = Interpreter(model_path=args.float).get_signature_list()
    key = next(iter(sig))
    name = sig[key]['inputs'][0]
    calib = np.load(args.calib)
    q = quantizer.Quantizer(args.float)
    rm = recipe_manager.RecipeManager()
    rm.add_static_config(regex='.*', operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, activation_num_bits=8,
                         weight_num_bits=8,
                         weight_granularity=(qtyping.QuantGranularity.TENSORWISE if args.per_tensor else
                                             qtyping.QuantGranularity.CHANNELWISE))
    q.load_quantization_recipe(rm.get_quantization_recipe())
    data = {key: [{name: np.ascontiguousarray(x[None])} for x in calib]}
    if args.calib_update == 'minmax':  # the range over all calibration inputs (default: moving averages)
        from ai_edge_quantizer import calibrator
        from ai_edge_quantizer.utils import qsv_utils
        cal = calibrator.Calibrator(bytes(q._float_model_buffer), num_threads=1,
                                    qsv_update_func=qsv_utils.min_max_update)
        cal.calibrate(data, q._recipe_manager)
        qsvs = cal.get_model_qsvs()
    else:
        qsvs = q.calibrate(data, num_threads=1)
    result = q.quantize(qsvs, enable_progress_report=False)
    result.export_model(args.out, overwrite=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('method', choices=['float', 'pt2e', 'aeq'])
    p.add_argument('--program', help='torch.export program (.pt2): float, pt2e')
    p.add_argument('--float', help='float .tflite: aeq')
    p.add_argument('--calib', help='calibration inputs, one .npy of shape (num, C, H, W): pt2e, aeq')
    p.add_argument('--per-tensor', action='store_true', help='per-tensor int8 weights (default: per channel)')
    p.add_argument('--calib-update', default='minmax', choices=['minmax', 'moving_average'],
                   help='aeq: activation ranges = min/max over all inputs (default) or ai-edge-quantizer\'s '
                        'moving average of per-input ranges')
    p.add_argument('--out', required=True)
    args = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    {'float': convert_float, 'pt2e': convert_pt2e, 'aeq': convert_aeq}[args.method](args)
    if not os.path.isfile(args.out):
        raise SystemExit(f'litert_convert: {args.method} wrote no {args.out}')
    import importlib.metadata as md
    versions = {}
    for dist in ('litert-torch', 'ai-edge-litert', 'ai-edge-quantizer', 'torch', 'numpy'):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    sys.stdout.flush()
    print(json.dumps(dict(method=args.method, out=args.out, seconds=round(time.perf_counter() - t0, 2),
                          versions=versions)))


if __name__ == '__main__':
    main()
