"""A hook for the multi-node test: after training, each rank writes a digest of its parameters to
``<work_dir>/digest_rank<RANK>_iter<ITER>.txt`` (imported by the test through custom_imports)."""
import hashlib
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmv3.registry import HOOKS


@HOOKS.register_module(force=True)
class WeightDigestHook(Hook):
    """Write the sha256 of every parameter (in order) of this rank. BN running statistics are left out:
    without SyncBN each rank keeps its own (mmengine's DDP has ``broadcast_buffers=False``, as upstream)."""

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        sha = hashlib.sha256()
        for name, t in model.named_parameters():
            sha.update(name.encode())
            sha.update(t.detach().cpu().contiguous().numpy().tobytes())
        path = osp.join(runner.work_dir, f'digest_rank{get_rank()}_iter{runner.iter}.txt')
        with open(path, 'w') as f:
            f.write(sha.hexdigest())
