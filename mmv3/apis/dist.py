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


def exit_with_launcher() -> bool:
    """Make this worker die when the process that started it (torchrun) dies (Linux).

    torchrun starts every worker in a session of its own (``start_new_session=True``), so a
    ``kill -9`` of the launcher (or of its process group) never reaches the workers, which would
    go on training into the work dir. ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill
    the worker as soon as its parent ends; SIGTERM / SIGINT sent to torchrun are forwarded to the
    workers by torchrun itself. If the parent is already gone (we were re-parented to init or a
    sub-reaper before the call) the worker exits at once.

    Returns:
        bool: Whether the death signal was set (False off Linux or without ``prctl``).
    """
    if not sys.platform.startswith('linux'):
        return False
    import ctypes
    import signal
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    launcher_pid = os.environ.get('MMV3_LAUNCHER_PID')
    if os.getppid() == 1 or (launcher_pid and os.getppid() != int(launcher_pid)):
        os._exit(1)  # the launcher died before prctl took effect
    return True
