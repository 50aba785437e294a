"""NetAdapt on this machine: adapt a trained MobileNet classifier to a latency budget (paper, Section 4.2).

    python tools/search/netadapt.py CONFIG --checkpoint CKPT --target-ratio R --work-dir DIR
        [--runtime ort|torch] [--delta 0.01] [--short-iters T] [--long-iters L]
        [--proposals expand,bottleneck] [--shape H W] [--threads 1] [--lr LR] [--cache DIR]
        [--repeat 30] [--max-val-batches N] [--max-steps N] [--stop measured|predicted] [--measurements 3]
        [--cfg-options ...]

Each step: every proposal (shrink one expansion layer, or the bottleneck width of all the blocks
that share it) is the smallest shrink in steps of 8 channels that cuts ``--delta`` x the seed's
latency in the look-up table's prediction (tools/analysis_tools/latency_table.py, measured lazily
on this machine and cached); it starts from the previous step's weights (largest-L1 filters),
is fine-tuned for ``--short-iters`` iterations, scored by dAcc / |dLatency| on the val split; the
best is kept, until the chosen network's latency measured interleaved with the seed's (``--stop measured``,
the default; the median ratio of ``--measurements`` timings) or its predicted latency (``--stop predicted``) is
<= ``--target-ratio`` x the seed's; then the result is fine-tuned for ``--long-iters``. Every measured network
refits the table's weight-streaming term, so each step's proposals are predicted from all measurements so far. Writes
DIR/step_XX.json, DIR/netadapt.png, DIR/netadapt_final.py (``_base_`` = CONFIG, only
``model.backbone.arch_overrides``) and DIR/netadapt_final.pth. Killed, a rerun with the same arguments
continues after the last finished step.
Supported: mmpretrain classification configs with a mmv3 MobileNet-family backbone (seg / det:
not yet; their backbone can take the classifier's ``arch_overrides``).
"""
import argparse
import os.path as osp
import warnings

from mmv3.apis import ToolError, add_cfg_options, add_shape, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='seed config (mmpretrain classification, mmv3 MobileNet backbone)')
    p.add_argument('--checkpoint', required=True, help='trained weights of the seed')
    p.add_argument('--target-ratio', type=float, required=True, help='target latency / seed latency, e.g. 0.8')
    p.add_argument('--work-dir', required=True, help='output and resume folder')
    p.add_argument('--runtime', default='ort', help='ort (ONNX Runtime) or torch. Default: ort')
    p.add_argument('--delta', type=float, default=0.01,
                   help="each proposal cuts this fraction of the seed's latency (paper: 0.01). Default: 0.01")
    p.add_argument('--short-iters', type=int, default=10, help='fine-tune iterations per proposal. Default: 10')
    p.add_argument('--long-iters', type=int, default=100, help='fine-tune iterations at the end. Default: 100')
    p.add_argument('--proposals', default='expand,bottleneck', help='proposal kinds. Default: expand,bottleneck')
    add_shape(p, nargs='+', help_default='224')
    p.add_argument('--threads', type=int, default=1, help='runtime threads. Default: 1')
    p.add_argument('--lr', type=float, default=None, help="fine-tune learning rate (default: the config's)")
    p.add_argument('--cache', default=None, help='latency table cache folder. Default: ~/.cache/mmv3/latency')
    p.add_argument('--repeat', type=int, default=30, help='timed runs per latency measurement. Default: 30')
    p.add_argument('--max-val-batches', type=int, default=None, help='evaluate on at most N val batches')
    p.add_argument('--max-steps', type=int, default=None, help='stop after N steps in this run (rerun resumes)')
    p.add_argument('--stop', default='measured', choices=['measured', 'predicted'],
                   help="what must meet the target: the chosen network's latency measured interleaved with the "
                        "seed's (ratio, median of --measurements timings) or the table's prediction. Default: measured")
    p.add_argument('--measurements', type=int, default=3,
                   help='interleaved timings of each measured network with the seed (medians). Default: 3')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')
    from mmv3.analysis.latency_table import LatencyTable, resolve_runtime
    from mmv3.apis import load_weights
    from mmv3.search import load_seed, parse_kinds
    from mmv3.search.netadapt import NetAdapt, TaskLoop
    try:
        kinds = parse_kinds(args.proposals)
    except ValueError as e:
        raise ToolError(str(e)) from None
    if not osp.isfile(args.checkpoint):
        raise ToolError(f'--checkpoint {args.checkpoint}: no such file')
    if not 0 < args.target_ratio < 1:
        raise ToolError(f'--target-ratio must be in (0, 1), got {args.target_ratio}')
    shape = args.shape or [224]
    if len(shape) > 2:
        raise ToolError(f'--shape takes H W or one number, got {len(shape)} numbers')
    hw = (shape[0], shape[-1])
    resolve_runtime(args.runtime)
    cfg, model = load_seed(args.config, args.cfg_options, 'netadapt.py')
    load_weights(model, args.checkpoint)
    model.eval()
    lut = LatencyTable(args.runtime, args.threads, args.cache, args.repeat, progress=not args.no_progress)
    lut.calibrate(model, hw)
    loop = TaskLoop(cfg, lr=args.lr, max_val_batches=args.max_val_batches)
    search = NetAdapt(cfg, args.config, model, lut, loop, args.work_dir, hw, args.target_ratio, args.delta,
                      args.short_iters, args.long_iters, kinds, stop=args.stop, measurements=args.measurements)
    search.run(max_steps=args.max_steps)


if __name__ == '__main__':
    run_cli(main, 'netadapt.py')
