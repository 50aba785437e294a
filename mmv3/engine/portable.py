"""Make mmengine checkpoints loadable under ``torch.load(weights_only=True)``.

mmengine's :class:`~mmengine.logging.HistoryBuffer` pickles its class-level
``statistics_methods`` (plain functions, reconstructed through ``builtins.getattr``), which a
safe loader must refuse. They carry no training state: :class:`HistoryBuffer` re-creates them
from the class when it is constructed. :func:`make_checkpoint_portable` swaps every buffer in a
checkpoint's message hub for a copy that pickles as an ordinary ``HistoryBuffer`` without them.
"""
from collections.abc import MutableMapping

from mmengine.logging import HistoryBuffer


class _PortableHistoryBuffer(HistoryBuffer):
    """Pickles as ``HistoryBuffer()`` + its data, without ``statistics_methods``."""

    def __reduce_ex__(self, protocol):
        state = {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}
        return (HistoryBuffer, (), state)


def _portable(buf: HistoryBuffer) -> HistoryBuffer:
    new = _PortableHistoryBuffer.__new__(_PortableHistoryBuffer)
    new.__dict__.update({k: v for k, v in buf.__dict__.items() if k != 'statistics_methods'})
    return new


def _walk(obj):
    if isinstance(obj, MutableMapping):
        for k, v in list(obj.items()):
            if isinstance(v, HistoryBuffer):
                obj[k] = _portable(v)
            elif isinstance(v, (MutableMapping, list)):
                _walk(v)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, HistoryBuffer):
                obj[i] = _portable(v)
            elif isinstance(v, (MutableMapping, list)):
                _walk(v)


def make_checkpoint_portable(checkpoint: dict) -> dict:
    """Replace (in place) the HistoryBuffers of ``checkpoint['message_hub']``; returns it."""
    if 'message_hub' in checkpoint:
        _walk(checkpoint['message_hub'])
    return checkpoint
