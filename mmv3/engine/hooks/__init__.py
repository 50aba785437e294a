"""Engine hooks of mmv3."""
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['SafeCheckpointHook', 'NonFiniteLossHook', 'NonFiniteLossError']
