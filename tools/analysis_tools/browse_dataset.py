"""Write (or show) dataset samples after the config's pipeline, with their labels drawn by the
toolbox's visualizer (mmseg ``SegLocalVisualizer``, mmdet ``DetLocalVisualizer``, mmpretrain
``UniversalVisualizer``), as upstream's ``tools/analysis_tools/browse_dataset.py``.

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR [--not-show]
        [--phase train|val|test] [--show-number N] [--show-interval S] [--cfg-options KEY=VALUE ...]

Files are ``DIR/<index>_<image name>.png``; training samples are the augmented ones (crops, flips).
"""
import argparse

from mmv3.apis import add_cfg_options, load_config, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Browse a dataset: samples after the pipeline, labels drawn')
    p.add_argument('config', help='config file path')
    p.add_argument('--output-dir', default=None, help='where the drawn samples are written')
    p.add_argument('--not-show', default=False, action='store_true', help='do not open a window')
    p.add_argument('--phase', default='train', choices=['train', 'val', 'test'], help='which dataset')
    p.add_argument('-n', '--show-number', type=int, default=None, help='how many samples (default: all)')
    p.add_argument('--show-interval', type=float, default=2, help='seconds each shown image stays')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmv3.analysis.browse import browse_dataset
    cfg = load_config(args.config, args.cfg_options)
    written = browse_dataset(cfg, args.output_dir, phase=args.phase, show_number=args.show_number,
                             show=not args.not_show, wait_time=args.show_interval)
    print(f'{len(written)} samples written to {args.output_dir}' if args.output_dir else 'done')


if __name__ == '__main__':
    run_cli(main, 'browse_dataset.py')
