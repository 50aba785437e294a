"""What every converter shares: the error type and a state dict that records what was read."""
from collections import OrderedDict

from mmv3.apis.errors import ToolError

BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


class ConversionError(ToolError, ValueError):
    """The checkpoint cannot be converted; the message says why and what to do (one line, exit 2
    through :func:`mmv3.apis.run_cli`)."""


class TrackedStateDict:
    """Read-only view of a source state dict that records which keys were read.

    :meth:`check_all_used` refuses a conversion that left a source tensor unread, so no tensor is
    silently dropped; each key may be read once (a second read is a mapping bug).
    """

    def __init__(self, data):
        self.data, self.used = OrderedDict(data), set()

    def __contains__(self, key):
        return key in self.data

    def take(self, key, shape=None):
        """The tensor ``key`` (checked against ``shape`` if given); a missing key is a ConversionError."""
        if key not in self.data:
            raise ConversionError(f'source tensor {key!r} is missing: the checkpoint is truncated or not '
                                  'of the expected model')
        if key in self.used:
            raise ConversionError(f'source tensor {key!r} read twice')
        v = self.data[key]
        if shape is not None and tuple(v.shape) != tuple(shape):
            raise ConversionError(f'source tensor {key!r} has shape {tuple(v.shape)}, expected {tuple(shape)}')
        self.used.add(key)
        return v

    def check_all_used(self, what):
        unused = [k for k in self.data if k not in self.used]
        if unused:
            raise ConversionError(f'{len(unused)} source tensors have no place in {what} (an unsupported '
                                  f'variant?), e.g. {unused[:5]}')
