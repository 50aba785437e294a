"""Print the full config after ``_base_`` inheritance and ``--cfg-options`` (as upstream's
``tools/misc/print_config.py``).

    python tools/misc/print_config.py CONFIG [--cfg-options KEY=VALUE ...] [--save-path FILE.py]

Every ``--cfg-options`` key is checked against the config (:func:`mmv3.apis.load_config`).
"""
import argparse
import os.path as osp

from mmv3.apis import ToolError, add_cfg_options, load_config, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Print the whole config (inheritance and --cfg-options applied)')
    p.add_argument('config', help='config file path')
    p.add_argument('--save-path', help='also dump the merged config to this .py / .json / .yaml file')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.save_path is not None and not args.save_path.endswith(('.py', '.json', '.yaml', '.yml')):
        raise ToolError(f'--save-path must end with .py, .json, .yaml or .yml, got {args.save_path}')
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        cfg.dump(args.save_path)
        print(f'Config saved to {osp.abspath(args.save_path)}')


if __name__ == '__main__':
    run_cli(main, 'print_config.py')
