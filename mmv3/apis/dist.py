"""Distributed launch on machines with or without a GPU."""
import os
import sys

from .errors import ToolError


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Make ``--launcher pytorch`` work on machines without a GPU (gloo, CPU DDP).

    mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally and wraps
    the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on CPU. Without CUDA, this
    initialises the process group with gloo itself (mmengine then skips its own init) and sets
    ``model_wrapper_cfg`` to a CPU DDP (``device_ids=None``) unless the config has one.

    Returns:
        bool: Whether it did so.
    """
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return False
    backend = (cfg.get('env_cfg', {}) or {}).get('dist_cfg', {}).get('backend', 'gloo')
    if backend != 'gloo':
        print(f'no CUDA device: using the gloo backend instead of {backend}', file=sys.stderr)
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if var not in os.environ:
            raise ToolError(f'--launcher pytorch needs {var} in the environment: start with '
                            f'torchrun or tools/dist_train.sh')
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
    if cfg.get('model_wrapper_cfg', None) is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters',
                                                                    False))
    return True
