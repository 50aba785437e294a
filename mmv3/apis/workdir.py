"""One live training per work dir: a lock file taken before the Runner writes anything.

:func:`lock_work_dir` opens ``<work_dir>/.mmv3-train.lock`` and takes an exclusive
``fcntl.flock`` on it, held (the file descriptor kept open) until the process ends. The kernel
releases a flock when its holder dies in any way (``kill -9`` included), so a lock left by a
killed run is never "stale" in the sense of blocking: the next run simply gets it and takes over
(it logs the run it replaces). The file keeps, as JSON, who holds it (pid, host, command, start
time, UTC) so that a refused run can name the other process.

* A second training into a locked work dir is refused with one line naming that process and the
  fixes (wait for it, another ``--work-dir``, or stop it), exit status 2, before anything is
  written.
* Distributed runs: only global rank 0 takes the lock (``RANK``, ``SLURM_PROCID`` or
  ``OMPI_COMM_WORLD_RANK``), before its process group and Runner exist; the other ranks never
  touch the lock file, so they cannot race. When rank 0 is refused, the launcher stops the rest.
* A work dir that cannot be written (read-only file system, no permission) is refused here, up
  front, instead of after the first iterations.
* NFS: Linux maps ``flock`` to NFS byte-range locks (NFSv4, or NFSv3 with ``lockd``), which the
  server releases when the holder's lease expires (host crashed). Where locking is not available
  (``ENOLCK``/``EOPNOTSUPP``, e.g. ``nolock`` mounts) the recorded owner is checked instead: a
  run on this host is alive when its pid still exists with the same command; a run recorded
  on another host cannot be checked from here, so it is refused and the message says to delete
  the lock file if that run is gone.
"""
import errno
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Dict, Optional

from .errors import ToolError

LOCK_NAME = '.mmv3-train.lock'
_HELD: Dict[str, int] = {}  # realpath of the work dir -> open, locked fd (kept until exit)

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the recorded owner is checked instead
    fcntl = None


def is_rank_zero(launcher: str = 'none') -> bool:
    """Whether this process is global rank 0 of its launch (``True`` when not distributed)."""
    if launcher in (None, 'none'):
        return True
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        if os.environ.get(var) not in (None, ''):
            return int(os.environ[var]) == 0
    return True


def _owner_record() -> dict:
    return dict(pid=os.getpid(), host=socket.gethostname(),
                command=' '.join([osp.basename(sys.executable)] + sys.argv),
                started=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))


def _read_owner(fd: int) -> Optional[dict]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 1 << 16)
        owner = json.loads(data.decode('utf-8')) if data.strip() else None
        return owner if isinstance(owner, dict) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _describe(owner: Optional[dict]) -> str:
    if not owner:
        return 'another process (its record is unreadable)'
    return (f"pid {owner.get('pid')} on host {owner.get('host')}, started "
            f"{owner.get('started')}: `{owner.get('command')}`")


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError, TypeError):
        return True
    return True


def _unwritable(work_dir: str, e: OSError) -> ToolError:
    why = {errno.EROFS: 'it is on a read-only file system', errno.EACCES: 'permission denied',
           errno.EPERM: 'permission denied', errno.ENOSPC: 'the disk is full',
           errno.EDQUOT: 'the disk quota is exceeded'}.get(e.errno, e.strerror or str(e))
    return ToolError(f'work dir {work_dir} is not writable ({why}): training would fail at its '
                     f'first log or checkpoint; use another --work-dir')


def lock_work_dir(work_dir: str, launcher: str = 'none', log=None) -> Optional[str]:
    """Take the work dir's training lock for this process (rank 0 only); refuse when it is held.

    Args:
        work_dir (str): The run's work dir (created when missing).
        launcher (str): The ``--launcher``; other ranks than 0 return without locking.
        log (callable, optional): Called with a line when a lock of a run that ended without
            releasing it (killed) is taken over.

    Returns:
        str | None: The lock file path, or None on ranks other than 0.

    Raises:
        ToolError: Another live run holds the lock, or the work dir is not writable.
    """
    if not is_rank_zero(launcher):
        return None
    real = osp.realpath(work_dir)
    path = osp.join(work_dir, LOCK_NAME)
    if real in _HELD:  # this process holds it already (in-process callers, tests)
        return path
    try:
        os.makedirs(work_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise _unwritable(work_dir, e) from None
    previous = _read_owner(fd)
    pid = (previous or {}).get('pid', '<pid>')
    fix = (f'wait for it to finish, use another --work-dir, or stop it (kill {pid} on that '
           f'host) and run again')
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            os.close(fd)
            raise ToolError(f'work dir {work_dir} is in use by another training, '
                            f'{_describe(previous)}; {fix}') from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                os.close(fd)
                raise
            locked = False  # no lock support on this file system: check the record instead
    else:
        locked = False
    if not locked and previous and previous.get('pid') != os.getpid():
        here = previous.get('host') == socket.gethostname()
        if not here:
            os.close(fd)
            raise ToolError(
                f'work dir {work_dir} is recorded as used by a training on another host, '
                f'{_describe(previous)}, and this file system has no locks to check it; '
                f'{fix}; if that run is gone, delete {path}')
        if _pid_alive(previous.get('pid')):
            os.close(fd)
            raise ToolError(f'work dir {work_dir} is in use by another training, '
                            f'{_describe(previous)}; {fix}')
    if (previous and previous.get('pid') != os.getpid() and not previous.get('ended')
            and log is not None):
        log(f'taking over the work dir lock of {_describe(previous)}, which ended without '
            f'releasing it (killed?)')
    try:
        record = json.dumps(_owner_record()).encode('utf-8')
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, record + b'\n')
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        raise _unwritable(work_dir, e) from None
    _HELD[real] = fd
    return path


def release_work_dir(work_dir: str) -> None:
    """Mark the lock of ``work_dir`` as ended cleanly and release it (also done by exiting)."""
    fd = _HELD.pop(osp.realpath(work_dir), None)
    if fd is None:
        return
    try:
        owner = _read_owner(fd) or {}
        owner['ended'] = time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(owner).encode('utf-8') + b'\n')
    except OSError:
        pass
    finally:
        os.close(fd)  # closing the descriptor releases the flock
