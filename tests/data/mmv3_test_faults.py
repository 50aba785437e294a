"""Fault injection for the engine tests (imported by configs/tiny_cls_faults.py).

Controlled by environment variables so that one config serves faulty and clean runs:

* ``MMV3_TEST_SLEEP_AFTER_ITER=N``: after iteration N (1-based, checkpoints of that iteration
  already written) create ``<work_dir>/sleeping`` and sleep 60 s (the test kills the process).
* ``MMV3_TEST_SLOW_SAVE=iter_4.pth``: write that checkpoint's first half, create
  ``<dir>/slow_save_started``, sleep 60 s, then write the rest (the test kills mid-write).
* ``MMV3_TEST_NAN_AT_ITER=N``: fill the first weight with NaN before iteration N.
* ``MMV3_TEST_DISK_FULL=iter_4.pth``: writing that checkpoint fails half-way with
  ``OSError(ENOSPC)``, as a full disk does (``MMV3_TEST_DISK_FULL_ERRNO=30``: EROFS instead).
"""
import errno
import os
import os.path as osp
import time

import torch
from mmengine.fileio import register_backend
from mmengine.hooks import Hook

from mmv3.engine import AtomicLocalBackend
from mmv3.engine.atomic_io import atomic_write_bytes
from mmv3.registry import HOOKS


@register_backend('mmv3_test_slow_local', force=True)
class SlowAtomicLocalBackend(AtomicLocalBackend):
    """AtomicLocalBackend whose write of one named file stalls half-way."""

    def put(self, obj, filepath):
        full = os.environ.get('MMV3_TEST_DISK_FULL', '')
        if full and osp.basename(str(filepath)) == full:
            code = int(os.environ.get('MMV3_TEST_DISK_FULL_ERRNO', errno.ENOSPC))

            def fails_half_way(f, data):
                f.write(data[:len(data) // 2])
                raise OSError(code, os.strerror(code))

            return atomic_write_bytes(obj, filepath, write_fn=fails_half_way)
        name = os.environ.get('MMV3_TEST_SLOW_SAVE', '')
        if name and osp.basename(str(filepath)) == name:

            def slow_write(f, data):
                f.write(data[:len(data) // 2])
                f.flush()
                open(osp.join(osp.dirname(str(filepath)), 'slow_save_started'), 'w').close()
                time.sleep(60)
                f.write(data[len(data) // 2:])

            atomic_write_bytes(obj, filepath, write_fn=slow_write)
        else:
            super().put(obj, filepath)


@HOOKS.register_module()
class SleepAfterIterHook(Hook):
    priority = 'LOWEST'  # after the checkpoint hook

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        at = os.environ.get('MMV3_TEST_SLEEP_AFTER_ITER')
        if at and runner.iter + 1 == int(at):
            open(osp.join(runner.work_dir, 'sleeping'), 'w').close()
            time.sleep(60)


@HOOKS.register_module()
class InjectNaNHook(Hook):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        at = os.environ.get('MMV3_TEST_NAN_AT_ITER')
        if at and runner.iter + 1 == int(at):
            model = runner.model.module if hasattr(runner.model, 'module') else runner.model
            with torch.no_grad():
                next(model.parameters()).fill_(float('nan'))
