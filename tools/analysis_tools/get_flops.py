"""Print Params and MAdds of the model a config builds (classification, detection or segmentation).

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W] [--convention paper|mmengine]
        [--device cpu|meta] [--cfg-options KEY=VALUE ...]

Conventions: ``paper`` (default) counts the multiply-adds of every Conv2d / Linear
(output elements x in/groups x kh x kw; BN folded; activations, pooling, resizes and elementwise
ops not counted), as the paper's tables; ``mmengine`` is mmengine's FlopAnalyzer total, which also
counts BN, pooling and upsampling. The paper's inputs: 224x224 with 1001 classes (Table 3),
320x320 with 91 class slots (Table 6), 1025x2049 (Table 7); the default shape is 224, 320 or 1024x2048
by task.
"""
import argparse

from mmv3.analysis import CONVENTIONS, count_model
from mmv3.apis import ToolError, add_cfg_options, add_shape, build_from_config, default_input_shape, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file path')
    add_shape(p, nargs='+', help_default='by task; one number for a square input')
    p.add_argument('--convention', default='paper', choices=CONVENTIONS, help='counting convention')
    p.add_argument('--device', default='cpu', choices=['cpu', 'meta'],
                   help="'meta' counts from shapes only (fast at 1025x2049; paper convention)")
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        raise ToolError(f'--shape takes H W or one number, got {" ".join(map(str, args.shape))}')
    model, cfg, task = build_from_config(args.config, cfg_options=args.cfg_options, seg_resize=False)
    if args.shape is None:
        shape = default_input_shape(task)
    else:
        shape = tuple(args.shape) * (3 - len(args.shape))
    res = count_model(model, (1, 3) + tuple(shape), convention=args.convention, device=args.device)
    line = '=' * 40
    print(f'{line}\nConfig: {args.config}\nTask: {task}\nInput shape: {shape[0]}x{shape[1]}\n'
          f'Convention: {args.convention}'
          + (' (Conv2d/Linear multiply-adds only)' if args.convention == 'paper' else ' (mmengine FlopAnalyzer)')
          + f'\nParams: {res["params"] / 1e6:.3f} M ({res["params"]})\n'
          f'MAdds: {res["madds"] / 1e9:.3f} G ({res["madds"]})\n{line}')


if __name__ == '__main__':
    run_cli(main, 'get_flops.py')
