"""Stop training at the first non-finite loss, before anything is saved."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook

from mmv3.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """Raised by :class:`NonFiniteLossHook`; the message names the iteration and the loss."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training when a loss becomes NaN or inf.

    After every training iteration the logged losses (``outputs`` of ``train_step``, all keys
    containing ``'loss'``) are checked. On the first non-finite value it raises
    :class:`NonFiniteLossError` naming the (1-based) iteration, the loss and the last good
    checkpoint. Its priority (``'ABOVE_NORMAL'``) makes it run before the checkpoint and logger
    hooks of the same iteration, so the diverged weights are never written over a good
    checkpoint. mmv3's ``tools/train.py`` adds it automatically; elsewhere add
    ``custom_hooks = [dict(type='mmv3.NonFiniteLossHook')]``.

    Args:
        keys (str, optional): Only check log variables whose name contains this. Defaults
            to ``'loss'``.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, keys: Optional[str] = 'loss') -> None:
        self.keys = keys

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        for name, value in outputs.items():
            if self.keys and self.keys not in name:
                continue
            if isinstance(value, torch.Tensor):
                finite = bool(torch.isfinite(value.detach()).all())
                shown = value.detach().float().mean().item() if value.numel() else value
            elif isinstance(value, (int, float)):
                finite, shown = math.isfinite(value), value
            else:
                continue
            if not finite:
                last = runner.message_hub.get_info('last_ckpt', None)
                saved = f'the last good checkpoint is {last}' if last else 'no checkpoint was saved'
                raise NonFiniteLossError(
                    f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
                    f'{name}={shown}; training stopped, nothing was saved for this iteration '
                    f'({saved})')
