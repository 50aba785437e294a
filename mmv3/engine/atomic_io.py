"""Atomic file writes for checkpoints.

A file is written to a temporary name in the same directory (``.<name>.<random>.tmp``), flushed
and fsync'ed, then renamed over the final name with :func:`os.replace`, which is atomic on POSIX
and Windows. A process killed at any moment therefore leaves either the old complete file or the
new complete file under the final name, never a partial one; at worst a stale ``.tmp`` file,
which :func:`remove_stale_temp_files` cleans up.

The final file gets the mode a plain ``open(path, 'w')`` would give it: ``0o666`` minus the
process umask for a new file (``0644`` with the usual umask 022, as mmengine's own writes), the
existing file's mode when it replaces one (``tempfile.mkstemp`` alone would leave ``0600``).
"""
import io
import os
import os.path as osp
import re
import stat
import tempfile
from pathlib import Path
from typing import Union

import torch
from mmengine.fileio import LocalBackend, register_backend

_TMP_RE = re.compile(r'^\..+\.[A-Za-z0-9_]+\.tmp$')


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask, read without changing it where possible (Linux ``/proc``)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore (not thread-safe)
    os.umask(mask)
    return mask


def _final_mode(filepath: str) -> int:
    try:
        return stat.S_IMODE(os.stat(filepath).st_mode)  # replacing a file keeps its mode
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(data: bytes, filepath: Union[str, Path], write_fn=None) -> None:
    """Write ``data`` to ``filepath`` atomically (temp file in the same dir + ``os.replace``).

    Args:
        data (bytes): The content.
        filepath (str | Path): Destination.
        write_fn (callable, optional): ``write_fn(fileobj, data)`` does the actual writing
            (default ``fileobj.write(data)``); used by tests to slow a write down.
    """
    filepath = str(filepath)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=dirname)
    try:
        if hasattr(os, 'fchmod'):
            os.fchmod(fd, _final_mode(filepath))
        with os.fdopen(fd, 'wb') as f:
            if write_fn is None:
                f.write(data)
            else:
                write_fn(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            # a failed write() (disk full) names no file: name the one being written
            raise OSError(e.errno, e.strerror, filepath) from e
        raise
    _fsync_dir(dirname)


def atomic_write_text(text: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
    """Text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(text.encode(encoding), filepath)


def atomic_torch_save(obj, filepath: Union[str, Path]) -> None:
    """``torch.save`` to ``filepath`` atomically."""
    with io.BytesIO() as buf:
        torch.save(obj, buf)
        atomic_write_bytes(buf.getvalue(), filepath)


def remove_stale_temp_files(dirname: str) -> list:
    """Delete ``.*.tmp`` files left in ``dirname`` by writes that were killed; returns them."""
    removed = []
    if not osp.isdir(dirname):
        return removed
    for name in os.listdir(dirname):
        if _TMP_RE.match(name) and ('.pth.' in name or name.startswith('.last_checkpoint.')):
            path = osp.join(dirname, name)
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    return removed


@register_backend('mmv3_atomic_local', force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put``/``put_text`` write atomically.

    Select it with ``backend_args=dict(backend='mmv3_atomic_local')`` (the
    :class:`mmv3.engine.SafeCheckpointHook` does this for local checkpoint dirs).
    """

    def write(self, fileobj, data: bytes) -> None:
        """Write ``data`` into the open temp file (override point for fault-injection tests)."""
        fileobj.write(data)

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath, write_fn=self.write)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath, write_fn=self.write)
