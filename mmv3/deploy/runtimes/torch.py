"""PyTorch itself as a runtime: the model as built (``eager``) and BN-folded + ``channels_last`` (``fused``)."""
import numpy as np
import torch

from mmv3.registry import RUNTIMES

from .base import BaseRuntime


@RUNTIMES.register_module(name='torch')
class TorchRuntime(BaseRuntime):
    """PyTorch eager execution under ``torch.inference_mode`` (modes ``eager`` and ``fused``).

    ``eager`` runs the model as the config builds it (NCHW, BN separate); ``fused`` runs the
    BN-folded model (:func:`mmv3.deploy.fuse.fold_bn`) in ``channels_last``. Nothing is written to
    disk: :meth:`prepare` returns the module to run.

    Args:
        threads (int): ``torch.set_num_threads`` is the caller's (the benchmark sets it). Default: 1.
    """

    runtime_name = 'torch'
    modes = {'eager': dict(fold=False, channels_last=False), 'fused': dict(fold=True, channels_last=True)}
    suffix = ''

    def prepare(self, model, input_shape=None, workdir=None, stem=None, calib=None, quant_options=None,
                channels_last=False, **mode_options):
        """The module to run (in ``channels_last`` if asked); the caller gives the unfolded model for
        ``eager`` and the folded one for ``fused`` (mode option ``fold``)."""
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model, channels_last

    def load(self, path, **mode_options):
        raise NotImplementedError('the torch runtime runs modules, not files: use prepare()')

    def run(self, handle, x):
        out = self.bind(handle, x)()
        return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else (out, ))]

    def bind(self, handle, x):
        module, channels_last = handle
        t = torch.from_numpy(np.ascontiguousarray(x))
        if channels_last:
            t = t.contiguous(memory_format=torch.channels_last)

        def call(m=module, t=t):
            with torch.inference_mode():
                return m(t)
        return call
