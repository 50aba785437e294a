"""mmv3.engine: what runs inside the Runner: safe and atomic checkpoints, training guards.

Importing this package (directly, or via ``custom_imports=dict(imports=['mmv3'])`` once
``mmv3/__init__.py`` imports it) allow-lists the classes mmengine writes into checkpoints for
``torch.load(weights_only=True)`` (see :mod:`mmv3.engine.safe_checkpoint`) and registers
``mmv3.SafeCheckpointHook``, ``mmv3.NonFiniteLossHook`` and the ``mmv3_atomic_local`` file backend.
"""
from .atomic_io import AtomicLocalBackend, atomic_torch_save, atomic_write_bytes, atomic_write_text
from .hooks import NonFiniteLossError, NonFiniteLossHook, SafeCheckpointHook
from .portable import make_checkpoint_portable
from .safe_checkpoint import (SAFE_GLOBALS, CheckpointError, check_training_checkpoint,
                              check_weights_match, get_state_dict, load_checkpoint_safely,
                              register_safe_globals, resave_checkpoint)

register_safe_globals()

__all__ = [
    'AtomicLocalBackend', 'atomic_torch_save', 'atomic_write_bytes', 'atomic_write_text',
    'SafeCheckpointHook', 'NonFiniteLossHook', 'NonFiniteLossError', 'make_checkpoint_portable',
    'SAFE_GLOBALS', 'CheckpointError', 'check_training_checkpoint', 'check_weights_match',
    'get_state_dict', 'load_checkpoint_safely', 'register_safe_globals', 'resave_checkpoint'
]
