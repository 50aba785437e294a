"""A drop-in :class:`~mmengine.hooks.CheckpointHook` that writes safe, atomic checkpoints."""
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import get_world_size, is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from mmv3.registry import HOOKS
from ..atomic_io import AtomicLocalBackend, atomic_write_text, remove_stale_temp_files
from ..portable import make_checkpoint_portable
from ..safe_checkpoint import check_weights_match, get_state_dict

RNG_KEY = 'mmv3_torch_rng_state'


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` with crash-safe writes and safe re-loading.

    It takes exactly the arguments of mmengine's ``CheckpointHook`` and changes four things:

    1. Atomic writes: for a local ``out_dir`` (and no ``backend_args`` of your own) checkpoints
       go through :class:`mmv3.engine.AtomicLocalBackend` (temp file + ``os.replace``), and the
       ``last_checkpoint`` pointer is replaced atomically *after* the checkpoint is complete.
       Old checkpoints (``max_keep_ckpts``) are deleted only after the new one is written
       (mmengine deletes first). A run killed at any moment leaves ``last_checkpoint`` naming
       a complete file.
    2. Safe re-loading: the message hub's ``HistoryBuffer``\\ s are written without their
       ``statistics_methods`` (functions pickled via ``builtins.getattr``), so the file loads
       with ``torch.load(weights_only=True)`` and the allow-list of :mod:`mmv3.engine`.
    3. Exact resume of model-side randomness: torch's CPU (and CUDA) RNG state is stored in
       ``meta['mmv3_torch_rng_state']`` and restored before the first iteration after a resume
       (dropout, drop-path), so a resumed run reproduces an uninterrupted one (tested with
       ``randomness=dict(seed=..., deterministic=True)``). The dataloaders get their own
       seeded ``torch.Generator`` so that creating an iterator (a new epoch, a validation)
       does not draw from the global RNG. Data-side randomness (numpy/random in the
       pipeline) is replayed by mmengine when it skips the consumed batches. Not restored:
       torch's global RNG used by transforms in the main process (``num_workers=0``) and
       per-rank RNG streams (``diff_rank_seed=True``).
    4. A checkpoint being loaded whose weights do not fit the model (a foreign checkpoint;
       for a resume, any missing/reshaped tensor) raises :class:`mmv3.engine.CheckpointError`.

    Use it in a config: ``default_hooks = dict(checkpoint=dict(type='mmv3.SafeCheckpointHook',
    interval=...))`` with ``custom_imports=dict(imports=['mmv3'])``; mmv3's ``tools/train.py``
    substitutes it for a plain ``CheckpointHook`` automatically.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending_rng: Optional[dict] = None

    # ---------------------------------------------------------------- writing
    def before_train(self, runner) -> None:
        super().before_train(runner)
        if (self.file_client_args is None and self.backend_args is None
                and type(self.file_backend) is LocalBackend):
            self.backend_args = dict(backend='mmv3_atomic_local')
            self.file_backend = AtomicLocalBackend()
        self._isolate_dataloader_rng(runner)
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            for path in remove_stale_temp_files(self.out_dir):
                runner.logger.warning(f'removed {path}: a checkpoint write that was interrupted')

    @staticmethod
    def _isolate_dataloader_rng(runner) -> None:
        """Give the train/val dataloaders their own seeded ``torch.Generator``.

        Every time a DataLoader iterator is created (each epoch, each validation) torch draws
        its base seed from the global RNG unless the loader has a generator. Those draws fall
        between a checkpoint and the next training step, so a resumed run (which restores the
        RNG state saved with the checkpoint) would be one draw off. With its own generator
        the global RNG is left to the model. Worker seeds are still set by mmengine's
        ``worker_init_fn`` from ``randomness.seed``.
        """
        from torch.utils.data import DataLoader
        seed = int(getattr(runner, 'seed', 0) or 0)
        loaders = [getattr(runner.train_loop, 'dataloader', None)]
        val_loop = getattr(runner, '_val_loop', None)
        loaders.append(getattr(val_loop, 'dataloader', None))
        for i, loader in enumerate(loaders):
            if isinstance(loader, DataLoader) and loader.generator is None:
                loader.generator = torch.Generator().manual_seed(seed + i)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        make_checkpoint_portable(checkpoint)
        rng = dict(cpu=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})[RNG_KEY] = rng

    def _save_checkpoint_with_step(self, runner, step, meta):
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if not is_main_process():
            return
        # The pointer is replaced only now that the checkpoint is complete.
        atomic_write_text(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        for old_step in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    # ---------------------------------------------------------------- loading
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        resuming = bool(getattr(runner, '_resume', False))
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        source = getattr(runner, '_load_from', None) or 'the latest checkpoint'
        # raises CheckpointError (one line) for a foreign / reshaped checkpoint
        check_weights_match(
            get_state_dict(checkpoint), model.state_dict(), str(source),
            what='--resume checkpoint' if resuming else 'checkpoint',
            strict=resuming and 'message_hub' in checkpoint)
        meta = checkpoint.get('meta', {}) if isinstance(checkpoint.get('meta'), dict) else {}
        rng = meta.pop(RNG_KEY, None)
        if resuming and rng is not None:
            self._pending_rng = dict(rng=rng, iter=meta.get('iter'))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        pending, self._pending_rng = self._pending_rng, None
        if pending is None or pending['iter'] != runner.iter:
            return
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False) \
            if hasattr(runner, '_randomness_cfg') else False
        if get_world_size() > 1 and diff_rank_seed:
            return  # per-rank RNG streams: only rank 0's was saved
        rng = pending['rng']
        torch.set_rng_state(rng['cpu'])
        if 'cuda' in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng['cuda'])
