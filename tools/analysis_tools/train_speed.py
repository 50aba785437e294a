"""Training-iteration time and peak memory of a segmentation config on CPU (forward + backward + SGD step).

    python tools/analysis_tools/train_speed.py CONFIG [--crop 769] [--batch 2] [--iters 4] [--threads 1]

Random images and labels of the crop size; the first iteration is a warm-up. Prints each iteration's time,
the median of the rest and the process's peak resident memory.
"""
import argparse
import os.path as osp
import resource
import statistics
import time

import torch

from mmv3.apis import ToolError, build_model, load_config, run_cli, task_of


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--crop', type=int, default=769, help='square crop size (default 769, DeepLab)')
    p.add_argument('--batch', type=int, default=2, help='images per iteration (default 2, one GPU of 8xb2)')
    p.add_argument('--iters', type=int, default=4, help='iterations, the first is a warm-up (default 4)')
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads (default 1)')
    args = p.parse_args(argv)
    if args.iters < 2:
        raise ToolError('--iters must be at least 2 (the first is a warm-up)')
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    cfg = load_config(args.config)
    if task_of(cfg) != 'seg':
        raise ToolError(f'{args.config} is not a segmentation config (default_scope={cfg.get("default_scope")!r})')
    torch.set_num_threads(args.threads)
    model = build_model(cfg).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    c = args.crop
    x = torch.randn(args.batch, 3, c, c)
    samples = []
    for _ in range(args.batch):
        s = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, model.decode_head.num_classes, (1, c, c))))
        s.set_metainfo(dict(img_shape=(c, c), pad_shape=(c, c)))
        samples.append(s)
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        opt.zero_grad()
        losses = model(x, samples, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f'{osp.basename(args.config)}: batch {args.batch} x {c}x{c}, {args.threads} thread(s); iteration times '
          f'{", ".join(f"{t:.2f}" for t in times)} s; median after warm-up {statistics.median(times[1:]):.2f} s; '
          f'peak RSS {peak:.2f} GB')


if __name__ == '__main__':
    run_cli(main, 'train_speed.py')
