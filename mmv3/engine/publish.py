"""Publish a training checkpoint as upstream's ``tools/misc/publish_model.py`` does: keep only
``state_dict`` and ``meta`` (optimizer, message hub, param schedulers dropped) and name the file
``<out>-<first 8 hex of its sha256>.pth``; read and written with mmv3's safe loader / atomic save.
"""
import hashlib
import os
import os.path as osp

from .atomic_io import atomic_torch_save
from .safe_checkpoint import CheckpointError, load_checkpoint_safely

KEEP_KEYS = ('state_dict', 'meta')


def publish_checkpoint(in_file: str, out_file: str) -> str:
    """Strip ``in_file`` to ``state_dict`` + ``meta`` and save it as ``<out_file stem>-<sha8>.pth``.

    Returns:
        str: The path written.

    Raises:
        CheckpointError: ``in_file`` cannot be loaded safely or has no ``state_dict``, or
            ``out_file`` does not end with ``.pth``.
    """
    if not str(out_file).endswith('.pth'):
        raise CheckpointError(f'the output file must end with .pth (the sha256 suffix goes before it), '
                              f'got {out_file}')
    ckpt = load_checkpoint_safely(in_file, what='input checkpoint')
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get('state_dict'), dict):
        raise CheckpointError(f'input checkpoint {in_file} has no state_dict: not an mmengine checkpoint')
    slim = {k: ckpt[k] for k in KEEP_KEYS if k in ckpt}
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    tmp = osp.join(out_dir, f'.{osp.basename(out_file)}.publishing')
    atomic_torch_save(slim, tmp)
    sha = hashlib.sha256()
    with open(tmp, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha.update(block)
    final = f'{str(out_file)[:-len(".pth")]}-{sha.hexdigest()[:8]}.pth'
    os.replace(tmp, final)
    return final
