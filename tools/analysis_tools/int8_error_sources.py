"""Where int8 costs a classifier's agreement with its float model: weight rounding or activation rounding.

    python tools/analysis_tools/int8_error_sources.py CONFIG [CKPT] --calib-dir DIR [--eval-dir DIR]
        [--shape H W] [--num-calib 32] [--num-eval N] [--skip PATTERN ...] [--cfg-options KEY=VALUE ...]

Fake-quantizes the BN-folded model in PyTorch (mmv3/deploy/fake_quant.py: per-channel int8 weights, with and
without bias correction; per-tensor uint8 layer inputs over MinMax or MSE-optimal ranges from the calibration
images) and prints, per variant, the top-1 agreement with the float model on the evaluation images, the mean
absolute logit error, and how many of the changed images are near-ties for the float model. A model of the
quantization, not of a runtime: use tools/deployment/quantize.py for what a runtime gives. Classification only.
"""
import argparse
import warnings

from mmv3.apis import ToolError, add_cfg_options, add_shape, run_cli
from mmv3.deploy.calibration import check_image_folders, read_eval_images, read_images
from mmv3.deploy.pipeline import prepare


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', default=None, help='checkpoint (default: random init)')
    add_shape(p)
    p.add_argument('--calib-dir', required=True, help='image folder for the ranges and means (recursive)')
    p.add_argument('--eval-dir', default=None, help='image folder for the agreement (default: --calib-dir)')
    p.add_argument('--num-calib', type=int, default=32, help='calibration images. Default: 32')
    p.add_argument('--num-eval', type=int, default=None, help='evaluation images (default: all)')
    p.add_argument('--skip', nargs='+', default=None, metavar='PATTERN',
                   help="fnmatch patterns of module names left in float, e.g. 'model.head.*' "
                   '(default: the stem, the layers before the first conv with more than 16 channels)')
    add_cfg_options(p)
    args = p.parse_args(argv)
    check_image_folders(calib_dir=args.calib_dir, eval_dir=args.eval_dir)
    if args.num_calib < 1:
        raise ToolError(f'--num-calib must be at least 1, got {args.num_calib}')
    warnings.filterwarnings('ignore')
    prep = prepare(args.config, args.checkpoint, args.shape, args.cfg_options)
    if prep.task != 'cls':
        raise ToolError(f'{args.config} is a {prep.task} config; int8_error_sources.py takes classification '
                        'configs (use tools/deployment/quantize.py for seg / det)')
    calib_paths, calib, _ = read_images(prep, args.calib_dir, args.num_calib)
    _, evals, _ = read_eval_images(prep, args.eval_dir or args.calib_dir, args.calib_dir, calib_paths, args.num_eval)
    from mmv3.deploy.fake_quant import error_sources
    from mmv3.deploy.metrics import NEAR_TIE
    res = error_sources(prep.deploy_model, calib, evals, skip=args.skip)
    n = len(evals)
    near = next(iter(res.values()))['near_ties']
    print(f'\nfake-quant in PyTorch, {len(calib)} calibration / {n} evaluation images; float near-ties (top-2 '
          f'logits within {NEAR_TIE}): {near}\n')
    print('| variant | top-1 agreement | mean abs logit error | changed images (near-ties) |\n|---|---|---|---|')
    for name, r in res.items():
        flips = r['flipped_margins']
        print(f'| {name} | {r["top1_agreement"] * 100:.1f}% | {r["mean_abs_logit_error"]:.4f} | '
              f'{len(flips)} ({sum(m < NEAR_TIE for m in flips)}) |')


if __name__ == '__main__':
    run_cli(main, 'int8_error_sources.py')
