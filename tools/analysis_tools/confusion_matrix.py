"""Confusion matrix of a classification or segmentation checkpoint on its config's test split.

    python tools/analysis_tools/confusion_matrix.py CONFIG CHECKPOINT --out DIR [--cfg-options ...]

Runs the model on ``test_dataloader`` (as ``tools/test.py``) and writes ``DIR/confusion_matrix.png``
(rows: ground truth, normalised to %; drawn by mmpretrain's ``ConfusionMatrix.plot``) and
``DIR/confusion_matrix.json`` (the counts; segmentation: pixels, ``ignore_index`` left out).
"""
import argparse
import os.path as osp

from mmv3.apis import add_cfg_options, load_config, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Confusion matrix (cls / seg) of a checkpoint on the test split')
    p.add_argument('config', help='config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out', required=True, help='directory for confusion_matrix.png / .json')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmv3.analysis.confusion import compute_confusion_matrix, save_confusion_matrix
    cfg = load_config(args.config, args.cfg_options)
    matrix, classes = compute_confusion_matrix(cfg, args.checkpoint)
    total = int(matrix.sum())
    acc = 100.0 * matrix.trace() / max(total, 1)
    png, js = save_confusion_matrix(matrix, classes, args.out,
                                    title=f'{osp.basename(args.config)}: {acc:.2f}% correct of {total}')
    print(f'{total} {"pixels" if cfg.get("default_scope") == "mmseg" else "images"}, {acc:.2f}% on the '
          f'diagonal\nwrote {png}\nwrote {js}')


if __name__ == '__main__':
    run_cli(main, 'confusion_matrix.py')
