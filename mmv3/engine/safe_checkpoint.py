"""Safe checkpoint loading for mmengine on torch >= 2.6.

torch >= 2.6 loads checkpoints with ``weights_only=True``: only tensors, containers, numbers and an
explicit allow-list of classes may be un-pickled. mmengine 0.10.7 writes three kinds of objects that
are not on torch's default list:

* :class:`mmengine.logging.HistoryBuffer` (the message hub's logged scalars), whose
  ``__getstate__`` also adds its class-level ``statistics_methods`` (functions, pickled through
  ``builtins.getattr``, which must never be allow-listed: it would allow calling arbitrary methods);
* numpy arrays, scalars and dtypes (inside the history buffers and the dataset meta).

This module allow-lists exactly those classes (:data:`SAFE_GLOBALS`) with
``torch.serialization.add_safe_globals``, the mechanism torch documents for this purpose. It never
turns ``weights_only`` off. Checkpoints written through :class:`mmv3.engine.SafeCheckpointHook`
drop ``statistics_methods`` (they are re-created from the class when the buffer is loaded), so
they load under this allow-list. A checkpoint that contains any other global is refused and never
executed; :func:`load_checkpoint_safely` turns every failure into a :class:`CheckpointError` whose
message names the file and the problem in one line.

Importing :mod:`mmv3.engine` (e.g. through ``custom_imports=dict(imports=['mmv3'])``) calls
:func:`register_safe_globals` once.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from zlib import error as zlib_error
from collections.abc import Mapping
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message is one line naming the file and the reason."""


def _numpy_dtype_classes() -> List[type]:
    """All numpy dtype classes (``numpy.dtypes.Float64DType`` ...), found from the scalar types."""
    classes = {type(np.dtype(t)) for t in set(np.sctypeDict.values())}
    return sorted(classes, key=lambda c: c.__name__)


def _numpy_reconstruct_functions() -> List[object]:
    funcs = []
    for modname in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            mod = __import__(modname, fromlist=['_reconstruct'])
        except ImportError:
            continue
        for name in ('_reconstruct', 'scalar'):
            fn = getattr(mod, name, None)
            if fn is not None and fn not in funcs:
                funcs.append(fn)
    return funcs


#: Everything mmengine 0.10.7 writes besides tensors and containers. Nothing callable except the
#: numpy array/scalar reconstructors, which only build arrays from raw bytes.
SAFE_GLOBALS: List[object] = [
    HistoryBuffer,
    np.ndarray,
    np.dtype,
    *_numpy_reconstruct_functions(),
    *_numpy_dtype_classes(),
]

_REGISTERED = False


def register_safe_globals() -> None:
    """Add :data:`SAFE_GLOBALS` to torch's ``weights_only`` allow-list (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    torch.serialization.add_safe_globals(list(SAFE_GLOBALS))
    _REGISTERED = True


_UNSUPPORTED_GLOBAL = re.compile(r'[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)')
_WO_REASON = re.compile(r'WeightsUnpickler error: ([^\n]+)')


def corrupt_zip_member(filename: str, chunk: int = 1 << 20) -> Optional[str]:
    """Name of the first member of a torch zip checkpoint whose CRC-32 does not match, else None.

    ``torch.load`` does not check the CRC-32 its zip writer stores for every record, so bytes
    garbled inside a tensor record (disk, copy, network) load as wrong weights. This reads every
    member once (:class:`zipfile.ZipExtFile` checks the CRC at the end of each member); it is
    about as fast as reading the file (zlib's CRC-32 runs at several GB/s).
    """
    with zipfile.ZipFile(filename) as zf:
        for info in zf.infolist():
            try:
                with zf.open(info) as f:
                    while f.read(chunk):
                        pass
            except (zipfile.BadZipFile, zlib_error, OSError, EOFError, NotImplementedError):
                return info.filename
    return None


def _previous_complete_checkpoint(filename: str) -> Optional[str]:
    """The newest ``epoch_N.pth`` / ``iter_N.pth`` of the same folder older than ``filename``
    whose zip records are intact (for the hint of a refused corrupt checkpoint)."""
    m = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(filename))
    dirname = osp.dirname(filename) or '.'
    for cand in complete_checkpoints(dirname):
        c = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(cand))
        if osp.abspath(cand) == osp.abspath(filename):
            continue
        if m and c and int(c.group(2)) >= int(m.group(2)):
            continue
        try:
            if zipfile.is_zipfile(cand) and corrupt_zip_member(cand) is None:
                return cand
        except (OSError, zipfile.BadZipFile):
            continue
    return None


def load_checkpoint_safely(filename: str, map_location='cpu', what: str = 'checkpoint') -> dict:
    """Load a checkpoint with ``weights_only=True`` and the mmv3 allow-list.

    Args:
        filename (str): Local path of the checkpoint.
        map_location: Passed to :func:`torch.load`. Defaults to ``'cpu'``.
        what (str): How the file is referred to in error messages (e.g. ``'--resume checkpoint'``).

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointError: The file is missing, truncated/corrupt, not a torch checkpoint, or
            contains an object that is not allow-listed (it is refused, never executed).
    """
    register_safe_globals()
    filename = osp.expanduser(str(filename))
    if not osp.exists(filename):
        raise CheckpointError(f'{what} {filename} does not exist')
    if osp.isdir(filename):
        raise CheckpointError(f'{what} {filename} is a directory, not a checkpoint file')
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'{what} {filename} is empty (0 bytes): an interrupted write?')
    with open(filename, 'rb') as f:
        head = f.read(4)
    if not zipfile.is_zipfile(filename):
        if head.startswith(b'PK'):
            raise CheckpointError(
                f'{what} {filename} is truncated (a zip archive without its end record, '
                f'{osp.getsize(filename)} bytes): an interrupted write or copy?')
        if not head.startswith(b'\x80'):  # neither torch's zip format nor a legacy pickle
            raise CheckpointError(
                f'{what} {filename} is not a PyTorch checkpoint (neither a zip archive nor a '
                f'pickle; starts with {head!r})')
    else:
        try:
            bad = corrupt_zip_member(filename)
        except (zipfile.BadZipFile, OSError) as e:
            bad = f'(the zip directory: {e})'
        if bad is not None:
            prev = _previous_complete_checkpoint(filename)
            hint = ''
            if prev is not None:
                use = f'--resume {prev}' if 'resume' in what else prev
                hint = f'; the previous complete checkpoint is {osp.basename(prev)}: {use}'
            raise CheckpointError(
                f'{what} {filename} is corrupt: the CRC-32 of its record {bad} does not match '
                f'(bytes damaged on disk or in a copy); it would load wrong weights{hint}')
    try:
        ckpt = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        m = _UNSUPPORTED_GLOBAL.search(msg)
        if m:
            name = m.group(1)
            hint = ''
            if '.' not in name and hasattr(__import__('builtins'), name):
                name = f'builtins.{name}'
            if name in ('builtins.getattr', '__builtin__.getattr'):
                hint = (' (mmengine HistoryBuffer statistics methods: re-save it without them with '
                        '`python -c "from mmv3.engine import resave_checkpoint; '
                        f"resave_checkpoint('{filename}', 'OUT.pth')\"` if you trust the file)")
            raise CheckpointError(
                f'{what} {filename} contains the object `{name}`, which is not on the safe-loading '
                f'allow-list; it was refused and not executed{hint}') from None
        m = _WO_REASON.search(msg)
        boiler = ('Weights only load failed', '(1)', '(2)', 'Check the documentation')
        lines = [ln.strip() for ln in msg.splitlines()
                 if ln.strip() and not ln.strip().startswith(boiler)]
        reason = m.group(1) if m else (lines[0] if lines else 'unsupported content')
        raise CheckpointError(
            f'{what} {filename} was refused by safe loading (weights_only=True): {reason}'
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if zipfile.is_zipfile(filename):
            raise CheckpointError(
                f'{what} {filename} is corrupt ({first})') from None
        raise CheckpointError(
            f'{what} {filename} is truncated, corrupt or not a PyTorch checkpoint '
            f'({first})') from None
    except Exception as e:  # any other unpickling failure: still one line
        raise CheckpointError(
            f'{what} {filename} cannot be loaded: {type(e).__name__}: {e}') from None
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(
            f'{what} {filename} holds a {type(ckpt).__name__}, not a dict of weights')
    return ckpt


def get_state_dict(ckpt: Mapping) -> Mapping:
    """The weights of a checkpoint: ``ckpt['state_dict']`` if present, else the dict itself."""
    sd = ckpt.get('state_dict', ckpt)
    if isinstance(sd, Mapping) and 'model' in sd and not any(
            isinstance(v, torch.Tensor) for v in sd.values()):
        sd = sd['model']
    return sd if isinstance(sd, Mapping) else {}


def check_training_checkpoint(ckpt: Mapping, filename: str, what: str = '--resume checkpoint'):
    """Refuse a checkpoint that cannot be resumed from (weights-only files, foreign formats)."""
    missing = [k for k in ('meta', 'state_dict', 'message_hub') if k not in ckpt]
    if missing or not isinstance(ckpt.get('meta'), Mapping) or 'iter' not in ckpt['meta']:
        keys = ', '.join(list(map(str, ckpt.keys()))[:5])
        raise CheckpointError(
            f'{what} {filename} is not an mmengine training checkpoint (missing '
            f'{", ".join(missing) or "meta.iter"}; it has: {keys}); to start from its weights use '
            f'load_from=... or --cfg-options load_from=PATH instead of --resume')


def check_weights_match(state_dict: Mapping,
                        model_state: Mapping,
                        filename: str,
                        what: str = 'checkpoint',
                        strict: bool = False,
                        prefix: Optional[str] = None,
                        allow_unexpected: bool = True,
                        ignore_unexpected: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Compare a checkpoint's weights with a model's state dict.

    Args:
        state_dict (Mapping): Checkpoint weights (``module.`` prefixes are ignored).
        model_state (Mapping): ``model.state_dict()`` of the model (or sub-module) to load into.
        filename (str): For messages.
        what (str): For messages.
        strict (bool): Require every model tensor present with the same shape (resume, and
            loading weights for deployment). Otherwise only refuse when nothing matches (a
            foreign checkpoint).
        allow_unexpected (bool): With ``strict``, whether checkpoint tensors the model does not
            have are accepted. Default: True (mmengine's resume ignores them).
        ignore_unexpected (Sequence[str]): Key prefixes never counted as unexpected.
        prefix (str, optional): Only checkpoint keys under this prefix are used, with it
            stripped (as ``init_cfg=dict(type='Pretrained', prefix=...)`` does).

    Returns:
        dict: ``missing``, ``unexpected`` and ``mismatched`` key lists.

    Raises:
        CheckpointError: The weights do not fit the model.
    """
    sd = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}
    if prefix:
        p = prefix if prefix.endswith('.') else prefix + '.'
        sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
    shapes = {k: tuple(v.shape) for k, v in sd.items() if hasattr(v, 'shape')}
    want = {k: tuple(v.shape) for k, v in model_state.items()}
    matched = [k for k in want if k in shapes and shapes[k] == want[k]]
    missing = [k for k in want if k not in shapes]
    mismatched = [k for k in want if k in shapes and shapes[k] != want[k]]
    unexpected = [k for k in shapes if k not in want]
    result = dict(missing=missing, unexpected=unexpected, mismatched=mismatched)
    if not want:
        return result
    if not matched:
        example = next(iter(shapes), None)
        raise CheckpointError(
            f'{what} {filename} does not fit this model: none of its {len(shapes)} tensors match '
            f'the model\'s {len(want)} (e.g. it has {example!r}, the model expects '
            f'{next(iter(want))!r}); is it a checkpoint of another model?')
    extra = [] if allow_unexpected else [
        k for k in unexpected if not k.startswith(tuple(ignore_unexpected))]
    if strict and (missing or mismatched or extra):
        detail = []
        if missing:
            detail.append(f'{len(missing)} missing (e.g. {missing[0]!r})')
        if mismatched:
            k = mismatched[0]
            detail.append(f'{len(mismatched)} with another shape (e.g. {k!r}: '
                          f'{shapes[k]} vs {want[k]})')
        if extra:
            detail.append(f'{len(extra)} unexpected (e.g. {extra[0]!r})')
        raise CheckpointError(
            f'{what} {filename} does not fit this model: {", ".join(detail)}; '
            f'{"resume needs" if allow_unexpected else "use"} a checkpoint of the same config')
    return result


def resave_checkpoint(src: str, dst: str) -> None:
    """Re-save an mmengine checkpoint you trust so that it loads under ``weights_only=True``.

    Loads ``src`` with ``weights_only=False`` (it executes the pickle: only for trusted files),
    drops HistoryBuffer ``statistics_methods`` and writes ``dst`` atomically.
    """
    from .portable import make_checkpoint_portable
    from .atomic_io import atomic_torch_save
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    make_checkpoint_portable(ckpt)
    atomic_torch_save(ckpt, dst)


def complete_checkpoints(work_dir: str, candidates: Iterable[str] = ()) -> List[str]:
    """Checkpoint files of a work dir, newest (highest epoch/iter number) first."""
    found = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            m = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', name)
            if m:
                found.append((int(m.group(2)), osp.join(work_dir, name)))
    found.sort(reverse=True)
    paths = list(candidates) + [p for _, p in found]
    seen, out = set(), []
    for p in paths:
        if p and p not in seen:
            seen.add(p)
            out.append(p)
    return out
