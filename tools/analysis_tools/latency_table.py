"""Latency look-up table of a MobileNet config on this machine and runtime (the paper's Section 4.2).

    python tools/analysis_tools/latency_table.py CONFIG --runtime ort|openvino|torch [--shape H W]
        [--threads 1] [--clock cpu|wall] [--percentile 50]
        [--cache DIR] [--repeat 50] [--warmup 10] [--num-proposals 3] [--delta 0.05]
        [--uniform 0.75,0.5] [--out FILE.json] [--no-progress] [--cfg-options ...]

Times every layer configuration of the config's backbone (and the neck + head as one block) as a
tiny standalone model through the runtime, cached on disk (keyed by CPU model + cores, runtime name
+ version, threads, clock, layer shape: a rerun measures nothing new), predicts the whole network's latency
as the sum of its blocks plus a weight-streaming term, and reports the
prediction against the measured whole-network latency for a few NetAdapt proposals (each the
smallest shrink of one unit that cuts ``--delta`` x the seed's predicted latency) and for uniform
width multipliers (``--uniform``), all measured interleaved with the seed and on the table's time
scale (every timing is scaled by a reference workload timed with it: the machine's speed drifts). The sum of the
blocks misses the whole network by a nearly constant amount (the network streams all its weights
per call, a standalone block keeps its own in the cache), so a per-network term k x parameters is
added, k measured on the seed ((seed latency - block sum) / its parameters; cached).
Classification configs only (mmpretrain).
"""
import argparse
import json
import os.path as osp
import warnings

from mmv3.apis import ToolError, add_cfg_options, add_shape, default_input_shape, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file (mmpretrain classification, mmv3 MobileNet backbone)')
    p.add_argument('--runtime', default='ort', help='ort (ONNX Runtime), torch (fused) or openvino. Default: ort')
    add_shape(p, nargs='+', help_default='224')
    p.add_argument('--threads', type=int, default=1, help='intra-op threads. Default: 1')
    p.add_argument('--cache', default=None, help='cache folder. Default: ~/.cache/mmv3/latency')
    p.add_argument('--repeat', type=int, default=50, help='timed runs per block (median). Default: 50')
    p.add_argument('--warmup', type=int, default=10, help='untimed runs first. Default: 10')
    p.add_argument('--clock', default=None, choices=['cpu', 'wall'],
                   help='cpu: the thread\'s CPU time (default with 1 thread: robust on a shared machine); wall')
    p.add_argument('--percentile', type=float, default=50,
                   help='statistic of the timed runs (50: median; e.g. 10 on a loaded machine). Default: 50')
    p.add_argument('--num-proposals', type=int, default=3, help='proposals to check. Default: 3')
    p.add_argument('--delta', type=float, default=0.05,
                   help="each checked proposal cuts this fraction of the seed's predicted latency. Default: 0.05")
    p.add_argument('--uniform', default='0.75,0.5',
                   help='also check the uniform width multipliers x these (far from the seed: the table predicts '
                        'every layer anew), comma-separated; "" for none. Default: 0.75,0.5')
    p.add_argument('--out', default=None, help='also write the report as JSON here')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_cfg_options(p)
    return p.parse_args(argv)


def input_hw(shape):
    if not shape:
        return default_input_shape('cls')
    if len(shape) > 2:
        raise ToolError(f'--shape takes H W or one number, got {len(shape)} numbers')
    return (shape[0], shape[-1])


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')
    from mmv3.analysis.latency_table import LatencyTable, resolve_runtime
    from mmv3.models.backbones.base_mobilenet import override_widths
    from mmv3.search import build_variant, load_seed, make_proposals, search_units
    from mmv3.search.uniform import uniform_overrides
    hw = input_hw(args.shape)
    try:
        uniform = [float(a) for a in args.uniform.split(',') if a.strip()]
    except ValueError:
        raise ToolError(f'--uniform takes comma-separated multipliers such as 0.75,0.5, got {args.uniform!r}') from None
    if any(not 0 < a < 1 for a in uniform):
        raise ToolError(f'--uniform multipliers must be in (0, 1), got {args.uniform!r}')
    if not 0 < args.delta < 1:
        raise ToolError(f'--delta must be a fraction in (0, 1), got {args.delta}')
    if args.num_proposals < 0:
        raise ToolError(f'--num-proposals must be >= 0, got {args.num_proposals}')
    resolve_runtime(args.runtime)  # refuse an unknown / missing runtime before any work
    cfg, model = load_seed(args.config, args.cfg_options, 'latency_table.py')
    lut = LatencyTable(args.runtime, args.threads, args.cache, args.repeat, args.warmup,
                       progress=not args.no_progress, clock=args.clock,
                       percentile=args.percentile)
    bb = model.backbone
    seed_plan = bb.plan
    lut.calibrate(model, hw)
    br = lut.breakdown(model, seed_plan, hw)
    print(f'latency table: {lut.path} ({len(lut.entries)} entries, {lut.measured} measured now)')
    print(f'machine: {lut.context["machine"]}; runtime {lut.context["runtime"]} {lut.context["version"]}, '
          f'{args.threads} thread(s), {lut.clock} clock; input {hw[0]}x{hw[1]}')
    print(f'{"block":<62} {"ms":>8}')
    for key, ms in zip(br['keys'], br['layers'] + [br['head']]):
        print(f'{key:<62} {ms:8.3f}')
    print(f'{"weight streaming: k x params (k from the seed)":<62} {br["overhead"]:8.3f}')
    rows = [('seed (the calibration point)', None, br['total'])]
    if args.num_proposals:
        units = search_units(seed_plan, bb.int_taps, list(bb.inner_taps), len(bb.layer_names))
        _, props = make_proposals(lut, model, seed_plan, {}, hw, args.delta * br['total'], units)
        props = sorted(props, key=lambda q: -q.drop)
        # spread over the kinds: alternate between the largest cuts of each kind
        picked, kinds = [], sorted({q.kind for q in props})
        while len(picked) < min(args.num_proposals, len(props)):
            for k in kinds:
                left = [q for q in props if q.kind == k and q not in picked]
                if left and len(picked) < args.num_proposals:
                    picked.append(left[0])
        rows += [(q.describe(), q.overrides, q.predicted) for q in picked]
    for alpha in uniform:
        ov = uniform_overrides(cfg, seed_plan, alpha, len(bb.layer_names))
        if ov is not None:
            rows.append((f'uniform widths x{alpha}', ov, lut.predict(model, override_widths(seed_plan, ov), hw)))
    nets = [model if ov is None else build_variant(cfg, ov) for _, ov, _ in rows]
    measured = lut.measure_networks(nets, hw)  # interleaved, on the table's scale
    report = []
    print(f'\n{"network (measured interleaved)":<40} {"predicted ms":>12} {"measured ms":>12} {"error":>8}')
    for (name, ov, pred), meas in zip(rows, measured):
        err = (pred - meas) / meas
        report.append(dict(network=name, overrides={str(k): v for k, v in (ov or {}).items()}, predicted_ms=pred,
                           measured_ms=meas, error=err))
        print(f'{name:<40} {pred:12.3f} {meas:12.3f} {err * 100:+7.1f}%')
    if len(report) > 1:
        worst = max(abs(r['error']) for r in report[1:])
        print(f'largest |error| over the other networks: {worst * 100:.1f}% (target: within 10%)')
    if args.out:
        from mmv3.engine.atomic_io import atomic_write_text
        atomic_write_text(json.dumps(dict(context=lut.context, input=list(hw), cache=osp.abspath(lut.path),
                                          blocks=[[k, ms] for k, ms in zip(br['keys'], br['layers'] + [br['head']])],
                                          overhead_ms=br['overhead'], networks=report), indent=1), args.out)
        print(f'report written to {args.out}')


if __name__ == '__main__':
    run_cli(main, 'latency_table.py')
