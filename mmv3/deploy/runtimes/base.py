"""What a deployment runtime is to mmv3, and the code every runtime shares.

A runtime is one small class registered in :data:`mmv3.registry.RUNTIMES` by name:

- ``export(model, path, input_shape, output_names, dynamic)``: write the float artifact
  (``.onnx``, ...) of a BN-folded, tensor-in / tensors-out model (:class:`mmv3.apis.TaskWrapper`);
- ``quantize(model, float_path, out_path, calib, **options)`` (optional): the int8 artifact;
- ``load(path, **mode_options)``: a handle to run; ``run(handle, x)``: numpy in, list of numpy out;
- ``modes``: the benchmark modes it offers, ``{mode name: mode options}`` (e.g. ``'ort-int8':
  dict(precision='int8')``; ``fold=False`` = the mode runs the model before BN folding; ``quant``:
  quantization options of that mode over the tool's, with ``tag`` naming its int8 artifact), so
  ``tools/analysis_tools/benchmark.py --modes`` knows them all.

:func:`verify` checks any runtime's outputs against PyTorch (the one check behind the export
tool, the quantize tool and the benchmark); :meth:`BaseRuntime.prepare` is export (+ quantize) +
verify + load, what a benchmark mode needs. A new runtime is one new file in this folder with a
``@RUNTIMES.register_module()`` class (and its import in ``__init__.py``).
"""
import importlib
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from mmv3.apis.errors import ToolError
from mmv3.registry import RUNTIMES


class BaseRuntime:
    """Base class of the deployment runtimes.

    Args:
        threads (int): Intra-op threads (1 = one core, as the paper measures). Default: 1.
    """

    #: benchmark mode name -> options of :meth:`prepare` / :meth:`load` (``precision``: 'fp32' | 'int8' ...)
    modes: Dict[str, dict] = {}
    #: file suffix of the float artifact
    suffix = '.onnx'
    #: Python modules the runtime needs, and the pip requirement that provides them
    requires: Tuple[str, ...] = ()
    pip_name = ''
    #: default tolerance of :func:`verify` for float artifacts
    atol, rtol = 1e-4, 1e-3
    #: whether :meth:`export` can write dynamic N / H / W (``dynamic=True``)
    supports_dynamic = True

    def __init__(self, threads: int = 1):
        if not isinstance(threads, int) or threads < 1:
            raise ToolError(f'threads must be an integer >= 1, got {threads!r}')
        self.threads = threads
        self._exported = set()  # float artifacts this instance wrote (and verified)
        self.check_available()

    #: the registry name (set by each runtime)
    runtime_name = ''

    @property
    def name(self) -> str:
        return self.runtime_name

    @classmethod
    def check_available(cls) -> None:
        """Refuse in one line, naming the pip package, when the runtime is not installed."""
        for mod in cls.requires:
            try:
                importlib.import_module(mod)
            except ImportError:
                raise ToolError(f'runtime {cls.runtime_name!r} needs the Python package {mod!r}, which is not '
                                f'installed: pip install {cls.pip_name or mod}') from None

    # ---------------------------------------------------------------- the four operations
    def export(self, model: nn.Module, path: str, input_shape: Sequence[int], output_names: Sequence[str],
               dynamic: bool = False, **options) -> str:
        raise NotImplementedError

    def quantize(self, model: nn.Module, float_path: str, out_path: str, calib: Sequence[np.ndarray],
                 **options) -> Dict[str, object]:
        raise ToolError(f'runtime {self.name!r} has no int8 path')

    def load(self, path: str, **mode_options):
        raise NotImplementedError

    def run(self, handle, x: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError

    def bind(self, handle, x: np.ndarray):
        """A zero-argument callable running ``handle`` on ``x`` with the input already in the runtime's
        form (what the benchmark times). Default: ``lambda: self.run(handle, x)``."""
        return lambda: self.run(handle, x)

    # ---------------------------------------------------------------- shared
    def artifact(self, workdir: str, stem: str, precision: str = 'fp32') -> str:
        """``workdir/<stem>[.<precision>]<suffix>``."""
        return osp.join(workdir, stem + ('' if precision == 'fp32' else f'.{precision}') + self.suffix)

    def prepare(self, model: nn.Module, input_shape: Sequence[int], workdir: str, stem: str,
                calib: Optional[Sequence[np.ndarray]] = None, quant_options: Optional[dict] = None,
                export_options: Optional[dict] = None, **mode_options):
        """Export (and quantize) ``model``, verify the float artifact against PyTorch, load it.

        Args:
            model (nn.Module): BN-folded, tensor-in / tuple-out model.
            input_shape (Sequence[int]): ``(N, C, H, W)``.
            workdir (str): Where the artifacts go.
            stem (str): File name stem.
            calib (list[np.ndarray], optional): Calibration inputs for ``precision='int8'``
                (default: 8 random inputs).
            quant_options (dict, optional): Options of :meth:`quantize` (a mode's own ``quant`` options
                override them).
            export_options (dict, optional): Options of :meth:`export`.
            **mode_options: One entry of :attr:`modes` (``precision``, ``quant``, ``tag`` ...).

        Returns:
            The handle of :meth:`load`.
        """
        precision = mode_options.pop('precision', 'fp32')
        mode_options.pop('fold', None)
        quant_options = dict(quant_options or {}, **mode_options.pop('quant', {}))
        tag = mode_options.pop('tag', precision)
        with torch.no_grad():
            y = model(torch.zeros(*input_shape))
        n_out = len(y) if isinstance(y, (tuple, list)) else 1
        fpath = self.artifact(workdir, stem)
        if fpath not in self._exported:
            self.export(model, fpath, input_shape, [f'out{i}' for i in range(n_out)], **(export_options or {}))
            check = verify(self, model, self.load(fpath), [input_shape])[0]
            if not check['ok']:
                raise ToolError(f'{self.name} export of {stem} differs from PyTorch: max abs diff '
                                f'{check["max_abs_diff"]:.3g} (max |output| {check["max_abs_ref"]:.3g})')
            self._exported.add(fpath)
        path = fpath
        if precision == 'int8':
            if not calib:
                rng = np.random.default_rng(0)
                calib = [rng.standard_normal(tuple(input_shape)).astype(np.float32) for _ in range(8)]
            path = self.artifact(workdir, stem, tag)
            self.quantize(model, fpath, path, calib, **quant_options)
        return self.load(path, precision=precision, **mode_options)


def compare_outputs(ref: Sequence[np.ndarray], out: Sequence[np.ndarray]) -> Tuple[float, float]:
    """Largest absolute difference over all outputs, and the largest absolute reference value."""
    if len(ref) != len(out):
        raise RuntimeError(f'number of outputs differ: {len(ref)} (PyTorch) vs {len(out)} (runtime)')
    diff, scale = 0.0, 0.0
    for r, o in zip(ref, out):
        if r.shape != o.shape:
            raise RuntimeError(f'output shapes differ: {r.shape} (PyTorch) vs {o.shape} (runtime)')
        if r.size:
            diff = max(diff, float(np.abs(r.astype(np.float64) - o.astype(np.float64)).max()))
            scale = max(scale, float(np.abs(r).max()))
    return diff, scale


def run_torch(model: nn.Module, x: np.ndarray) -> List[np.ndarray]:
    """Run a tensor-in / tuple-out model on a numpy batch; numpy outputs."""
    with torch.no_grad():
        outs = model(torch.from_numpy(x))
    if isinstance(outs, torch.Tensor):
        outs = (outs, )
    return [o.detach().cpu().numpy() for o in outs]


def verify(runtime: BaseRuntime, model: nn.Module, handle, shapes: Sequence[Sequence[int]],
           atol: Optional[float] = None, rtol: Optional[float] = None, seed: int = 0) -> List[Dict[str, object]]:
    """Check a runtime's outputs against PyTorch's on random inputs of each shape.

    Passes when ``max|runtime - torch| <= atol + rtol * max|torch|`` (default: the runtime's tolerance).

    Returns:
        list[dict]: One ``dict(shape, max_abs_diff, max_abs_ref, ok)`` per shape.
    """
    atol = runtime.atol if atol is None else atol
    rtol = runtime.rtol if rtol is None else rtol
    rng = np.random.default_rng(seed)
    results = []
    for shape in shapes:
        x = rng.standard_normal(tuple(shape)).astype(np.float32)
        diff, scale = compare_outputs(run_torch(model, x), runtime.run(handle, x))
        results.append(dict(shape=tuple(shape), max_abs_diff=diff, max_abs_ref=scale, ok=diff <= atol + rtol * scale))
    return results


def build_runtime(name: str, threads: int = 1) -> BaseRuntime:
    """The registered runtime ``name`` (e.g. ``'onnxruntime'``), or a one-line refusal listing them."""
    import mmv3.deploy.runtimes  # noqa: F401  (registers them)
    if name not in RUNTIMES.module_dict:  # (Registry.get would try to import a module of that name)
        raise ToolError(f'unknown runtime {name!r}; registered: {", ".join(sorted(RUNTIMES.module_dict))}')
    return RUNTIMES.build(dict(type=name, threads=threads))


def all_modes() -> Dict[str, Tuple[str, dict]]:
    """Every benchmark mode of every registered runtime: ``{mode: (runtime name, mode options)}``."""
    import mmv3.deploy.runtimes  # noqa: F401
    out = {}
    for name, cls in RUNTIMES.module_dict.items():
        for mode, opts in cls.modes.items():
            out[mode] = (name, dict(opts))
    return out
