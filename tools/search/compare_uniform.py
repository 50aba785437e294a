"""A finished NetAdapt search vs the uniform width multiplier with the same measured latency.

    python tools/search/compare_uniform.py CONFIG --checkpoint SEED_CKPT --netadapt-dir DIR
        [--runtime ort] [--shape H W] [--lr LR] [--cache DIR] [--repeat 30] [--rounds 3]
        [--out FILE.md] [--cfg-options ...]

The baseline's widths are ``widen_factor = alpha`` written as ``arch_overrides`` of the seed, alpha
the one (0.5 .. 1.0 in steps of 0.025) whose measured latency is closest to the NetAdapt model's;
it starts from the seed's weights (largest-L1 filters, as NetAdapt's proposals) and is fine-tuned
for the same number of iterations as the NetAdapt model got in total (steps x short + long).
Both (and the seed) are evaluated on the config's ``test_dataloader`` (point it at a held-out
split with --cfg-options) and timed in the same run, interleaved over ``--rounds``.
"""
import argparse
import copy
import json
import os.path as osp
import warnings

import numpy as np

from mmv3.apis import ToolError, add_cfg_options, add_shape, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='the seed config of the search')
    p.add_argument('--checkpoint', required=True, help='the seed weights')
    p.add_argument('--netadapt-dir', required=True, help='work dir of a finished tools/search/netadapt.py run')
    p.add_argument('--runtime', default='ort', help='ort or torch. Default: ort')
    add_shape(p, nargs='+', help_default='the search\'s')
    p.add_argument('--lr', type=float, default=None, help="fine-tune learning rate (default: the config's)")
    p.add_argument('--cache', default=None, help='latency table cache folder')
    p.add_argument('--repeat', type=int, default=30, help='timed runs per measurement. Default: 30')
    p.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds. Default: 3')
    p.add_argument('--out', default=None, help='also write the Markdown table here (and a .json)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')
    from mmv3.analysis.latency_table import LatencyTable, resolve_runtime
    from mmv3.apis import load_weights
    from mmv3.engine.safe_checkpoint import get_state_dict, load_checkpoint_safely
    from mmv3.search import build_variant, load_seed
    from mmv3.search.netadapt import TaskLoop
    from mmv3.search.populate import populate_state_dict
    from mmv3.search.uniform import match_latency
    state_path = osp.join(args.netadapt_dir, 'state.json')
    if not osp.isfile(state_path):
        raise ToolError(f'--netadapt-dir {args.netadapt_dir}: no state.json (not a tools/search/netadapt.py work dir)')
    with open(state_path) as f:
        state = json.load(f)
    if not state.get('finished'):
        raise ToolError(f'{args.netadapt_dir}: the search is not finished; rerun tools/search/netadapt.py first')
    resolve_runtime(args.runtime)
    hw = tuple(state['settings']['input']) if not args.shape else (args.shape[0], args.shape[-1])
    cfg, seed = load_seed(args.config, args.cfg_options, 'compare_uniform.py')
    load_weights(seed, args.checkpoint)
    seed.eval()
    lut = LatencyTable(args.runtime, 1, args.cache, args.repeat, progress=not args.no_progress)
    lut.calibrate(seed, hw)
    ov_na = {int(k): v for k, v in state['overrides'].items()}
    na = build_variant(cfg, ov_na)
    na.load_state_dict(get_state_dict(load_checkpoint_safely(osp.join(args.netadapt_dir, 'netadapt_final.pth'))))
    na.eval()
    alphas = [round(1.0 - 0.025 * i, 3) for i in range(21)]
    na_pred = lut.predict(seed, na.backbone.plan, hw)  # shortlist by the table, decide by interleaved timing
    alpha, ov_u, tried = match_latency(lut, cfg, seed, hw, na_pred, alphas, target_model=na)
    budget = state['step'] * state['settings']['short_iters'] + state['settings']['long_iters']
    uni = build_variant(cfg, ov_u)
    sd, _ = populate_state_dict(seed.state_dict(), seed.backbone.plan, uni.backbone.plan, seed.backbone.spec,
                                num_built=len(seed.backbone.layer_names))
    uni.load_state_dict(sd, strict=True)
    test_cfg = copy.deepcopy(cfg)
    test_cfg.val_dataloader = cfg.test_dataloader  # evaluate on the test split (held-out)
    loop = TaskLoop(test_cfg, lr=args.lr)
    print(f'[compare] uniform baseline: widen_factor x{alpha}; fine-tuning {budget} iterations (NetAdapt total)')
    loop.finetune(uni, budget, run_seed=424242)
    nets = [('seed', seed), ('NetAdapt (ours, tools/search/netadapt.py)', na), (f'uniform multiplier x{alpha}', uni)]
    times = {n: [] for n, _ in nets}
    for _ in range(args.rounds):  # each round times the three interleaved, on the table's scale
        for (n, _), ms in zip(nets, lut.measure_networks([m for _, m in nets], hw)):
            times[n].append(ms)
    rows = []
    for n, m in nets:
        rows.append(dict(network=n, params=sum(p.numel() for p in m.parameters()),
                         latency_ms=float(np.median(times[n])), top1=loop.evaluate(m)))
    seed_ms = rows[0]['latency_ms']
    lines = [f'| network | params | latency ({lut.runtime_name}, {lut.clock} clock, ms) | vs seed '
             '| held-out top-1 (%) |',
             '|---|---:|---:|---:|---:|']
    for r in rows:
        lines.append(f"| {r['network']} | {r['params'] / 1e6:.2f} M | {r['latency_ms']:.3f} | "
                     f"{r['latency_ms'] / seed_ms:.2f}x | {r['top1']:.1f} |")
    text = '\n'.join(lines)
    print(text)
    print(f'[compare] NetAdapt: {state["step"]} steps, search wall time {state["wall_s"]:.0f} s; target '
          f'{state["settings"]["target_ratio"]} x; both fine-tuned {budget} iterations from the seed\'s weights')
    if args.out:
        from mmv3.engine.atomic_io import atomic_write_text
        atomic_write_text(text + '\n', args.out)
        tried = [{k: v for k, v in t.items() if k != 'overrides'} for t in tried]
        atomic_write_text(json.dumps(dict(rows=rows, alpha=alpha, tried=tried,
                                          budget_iters=budget, search_wall_s=state['wall_s'], steps=state['step']),
                                     indent=1), osp.splitext(args.out)[0] + '.json')


if __name__ == '__main__':
    run_cli(main, 'compare_uniform.py')
