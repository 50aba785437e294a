"""Run the dataset pre-flight of ``tools/train.py`` / ``tools/test.py`` on its own, and time it.

    python tools/misc/check_dataset.py CONFIG [--splits train val] [--max-decode 2000]
                                       [--cfg-options KEY=VALUE ...]

Checks the folders (``mmv3.datasets.check_data_cfg``) and then the content of each split
(``mmv3.datasets.preflight``: every label map / annotation / list entry, a sample of at most
``--max-decode`` images decoded), prints one line per dataset with the counts and the time, and
exits 2 with one line naming the first bad file. Nothing is written.
"""
import argparse
import time

from mmv3.apis import ToolError, add_cfg_options, check_dataset_roots, load_config, run_cli, setup_scope


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check the datasets of a config (the pre-flight of train/test)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'], choices=['train', 'val', 'test'],
                        help='splits to check (default: train val)')
    parser.add_argument('--max-decode', type=int, default=None,
                        help='images decoded per split at most (default: mmv3.datasets.preflight.MAX_DECODE)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None):
    from mmv3.datasets.preflight import MAX_DECODE, preflight_data_cfg
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    setup_scope(cfg, args.config)
    check_dataset_roots(cfg, tuple(f'{s}_dataloader' for s in args.splits))
    t0 = time.perf_counter()
    from mmv3.datasets import DatasetNotReadyError
    try:
        report = preflight_data_cfg(cfg, splits=tuple(args.splits), max_decode=args.max_decode or MAX_DECODE)
    except DatasetNotReadyError as e:
        raise ToolError(str(e)) from None
    dt = time.perf_counter() - t0
    for r in report:
        print(f"{r['where']}: {r['kind']}: {r['files']} images, {r['labels']} labels checked, "
              f"{r['decoded']} images decoded")
    print(f'pre-flight OK in {dt:.2f} s')


if __name__ == '__main__':
    run_cli(main, 'check_dataset.py')
