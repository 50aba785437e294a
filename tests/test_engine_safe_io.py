"""In-process tests of mmv3.engine: safe loading allow-list, refusal of foreign objects,
atomic writes, portable HistoryBuffer pickling, the non-finite-loss guard (issue 7 items 4, 5)."""
import os
import zipfile

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmv3.engine import (SAFE_GLOBALS, CheckpointError, NonFiniteLossError, NonFiniteLossHook,
                         atomic_write_bytes, check_weights_match, load_checkpoint_safely,
                         make_checkpoint_portable)
from mmv3.engine.atomic_io import remove_stale_temp_files


def _mmengine_like_checkpoint():
    hub = MessageHub.get_instance('mmv3_test_safe_io')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.1))
    hub.update_info('iter', 3)
    meta = dict(iter=3, epoch=0,
                dataset_meta=dict(classes=('a', 'b'), palette=np.zeros((2, 3), np.uint8)))
    return dict(meta=meta,
                state_dict={'w': torch.ones(2, 2)},
                message_hub=hub.state_dict())


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_allow_list_has_no_callables_beyond_numpy_reconstructors():
    names = {getattr(g, '__qualname__', str(g)) for g in SAFE_GLOBALS}
    assert 'getattr' not in names and 'eval' not in names and 'system' not in names
    assert HistoryBuffer in SAFE_GLOBALS and np.ndarray in SAFE_GLOBALS
    assert type(np.dtype('float64')) in SAFE_GLOBALS and type(np.dtype('int64')) in SAFE_GLOBALS


def test_stock_mmengine_checkpoint_is_refused_but_portable_one_loads(tmp_path):
    ckpt = _mmengine_like_checkpoint()
    stock = str(tmp_path / 'stock.pth')
    torch.save(ckpt, stock)  # as mmengine writes it: HistoryBuffer with statistics_methods
    with pytest.raises(CheckpointError, match=r'builtins\.getattr.*not executed'):
        load_checkpoint_safely(stock)
    portable = str(tmp_path / 'portable.pth')
    torch.save(make_checkpoint_portable(_mmengine_like_checkpoint()), portable)
    data = zipfile.ZipFile(portable).read('portable/data.pkl')
    assert b'getattr' not in data
    loaded = load_checkpoint_safely(portable)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert type(buf) is HistoryBuffer and buf.current() == 1.5 and buf.mean() == 1.5
    assert loaded['meta']['dataset_meta']['palette'].shape == (2, 3)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2, 2))


def test_checkpoint_with_foreign_object_is_refused_not_executed(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.ones(1)}, 'x': _Evil(marker)}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_safely(path, what='--resume checkpoint')
    msg = str(e.value)
    assert path in msg and 'system' in msg and 'not executed' in msg and '\n' not in msg
    assert not marker.exists()


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'empty', 'missing'])
def test_damaged_checkpoints_give_one_line(tmp_path, damage):
    path = str(tmp_path / 'c.pth')
    torch.save({'state_dict': {'w': torch.randn(64, 64)}}, path)
    raw = open(path, 'rb').read()
    if damage == 'truncate':
        open(path, 'wb').write(raw[:len(raw) // 2])
    elif damage == 'garbage':
        open(path, 'wb').write(os.urandom(1000))
    elif damage == 'empty':
        open(path, 'wb').close()
    else:
        os.unlink(path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_safely(path, what='load_from checkpoint')
    msg = str(e.value)
    assert msg.startswith(f'load_from checkpoint {path} ') and '\n' not in msg
    expected = dict(truncate='truncated', garbage='not a PyTorch checkpoint', empty='empty',
                    missing='does not exist')[damage]
    assert expected in msg


def test_weights_match_refuses_foreign_and_reshaped():
    model = dict(a=torch.zeros(2, 3), b=torch.zeros(4))
    with pytest.raises(CheckpointError, match='none of its 1 tensors match'):
        check_weights_match({'fc.weight': torch.zeros(2)}, model, 'f.pth')
    with pytest.raises(CheckpointError, match=r"1 with another shape .*'b'"):
        check_weights_match(dict(a=torch.zeros(2, 3), b=torch.zeros(5)), model, 'f.pth',
                            strict=True)
    res = check_weights_match({'module.a': torch.zeros(2, 3)}, model, 'f.pth')
    assert res['missing'] == ['b']
    res = check_weights_match({'backbone.a': torch.zeros(2, 3), 'head.b': torch.zeros(1)}, model,
                              'f.pth', prefix='backbone')
    assert res['unexpected'] == [] and res['missing'] == ['b']


def test_atomic_write_never_leaves_partial_file(tmp_path):
    path = str(tmp_path / 'iter_4.pth')
    atomic_write_bytes(b'old complete', path)

    def dies_half_way(f, data):
        f.write(data[:3])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(b'new content', path, write_fn=dies_half_way)
    assert open(path, 'rb').read() == b'old complete'
    assert os.listdir(tmp_path) == ['iter_4.pth']  # temp file removed
    # a temp file left by a SIGKILL is cleaned up by the next run
    stale = tmp_path / '.iter_6.pth.abc123.tmp'
    stale.write_bytes(b'xx')
    assert remove_stale_temp_files(str(tmp_path)) == [str(stale)]
    assert os.listdir(tmp_path) == ['iter_4.pth']


class _Runner:
    iter, epoch = 6, 0
    message_hub = MessageHub.get_instance('mmv3_test_nonfinite')


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_loss_hook(bad):
    hook = NonFiniteLossHook()
    _Runner.message_hub.update_info('last_ckpt', 'work/iter_6.pth')
    hook.after_train_iter(_Runner, 0, outputs=dict(loss=torch.tensor(1.0), acc=torch.tensor(bad)))
    with pytest.raises(NonFiniteLossError,
                       match=r'non-finite loss at iteration 7 .*loss_cls=.*iter_6\.pth'):
        hook.after_train_iter(_Runner, 0, outputs=dict(loss_cls=torch.tensor(bad)))


def test_resave_makes_a_trusted_stock_checkpoint_safe(tmp_path):
    from mmv3.engine import resave_checkpoint
    stock, fixed = str(tmp_path / 'stock.pth'), str(tmp_path / 'fixed.pth')
    torch.save(_mmengine_like_checkpoint(), stock)
    resave_checkpoint(stock, fixed)
    loaded = load_checkpoint_safely(fixed)
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 1.5


def test_auto_resume_skips_a_damaged_newest_checkpoint(tmp_path):
    """--resume without a path: last_checkpoint names a damaged file (e.g. written by a plain
    non-atomic CheckpointHook that was killed): the newest complete checkpoint is used."""
    from mmv3.apis import find_resume_checkpoint
    model = torch.nn.Linear(3, 2)
    good = str(tmp_path / 'iter_2.pth')
    torch.save(dict(meta=dict(iter=2, epoch=0), state_dict=model.state_dict(), message_hub={}),
               good)
    raw = open(good, 'rb').read()
    open(tmp_path / 'iter_4.pth', 'wb').write(raw[:len(raw) // 2])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    skipped = []
    assert find_resume_checkpoint(str(tmp_path), model, log=skipped.append) == good
    assert len(skipped) == 1 and 'iter_4.pth' in skipped[0] and 'truncated' in skipped[0]
    # a checkpoint of another model is never resumed from
    other = torch.nn.Linear(5, 2)
    assert find_resume_checkpoint(str(tmp_path), other, log=skipped.append) is None


def garble_tensor_record(path, nbytes=4096):
    """Overwrite ``nbytes`` in the middle of the largest tensor record of a torch zip checkpoint
    (the zip structure stays intact; only that record's CRC-32 no longer matches)."""
    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if '/data/' in i.filename), key=lambda i: i.file_size)
    with open(path, 'r+b') as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), '<u2')
        start = info.header_offset + 30 + int(name_len) + int(extra_len)
        n = min(nbytes, info.file_size // 2)
        f.seek(start + info.file_size // 2 - n // 2)
        f.write(os.urandom(n))
    return info.filename


def test_garbled_tensor_bytes_are_refused_naming_the_previous_checkpoint(tmp_path):
    """torch.load does not check the zip CRC-32s: a checkpoint with a few KiB garbled inside a
    tensor record loads as wrong weights unless load_checkpoint_safely checks them."""
    from mmv3.apis import find_resume_checkpoint
    model = torch.nn.Linear(64, 64)
    for it in (2, 4):
        torch.save(dict(meta=dict(iter=it, epoch=0), state_dict=model.state_dict(),
                        message_hub={}), tmp_path / f'iter_{it}.pth')
    bad, good = str(tmp_path / 'iter_4.pth'), str(tmp_path / 'iter_2.pth')
    record = garble_tensor_record(bad, 4096)
    assert zipfile.is_zipfile(bad)
    torch.load(bad, weights_only=True)  # torch itself accepts it
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_safely(bad, what='--resume checkpoint')
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith(f'--resume checkpoint {bad} is corrupt: the CRC-32')
    assert record in msg
    assert msg.endswith(f'the previous complete checkpoint is iter_2.pth: --resume {good}')
    with pytest.raises(CheckpointError, match=f'previous complete checkpoint is iter_2.pth: {good}$'):
        load_checkpoint_safely(bad, what='checkpoint')
    # --resume without a path skips the corrupt newest one
    (tmp_path / 'last_checkpoint').write_text(bad)
    skipped = []
    assert find_resume_checkpoint(str(tmp_path), model, log=skipped.append) == good
    assert len(skipped) == 1 and 'CRC-32' in skipped[0]


def test_atomic_write_honours_the_umask_like_open(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(b'x', tmp_path / 'a.pth')
        open(tmp_path / 'plain', 'wb').close()
        assert oct(os.stat(tmp_path / 'a.pth').st_mode & 0o777) == '0o644'
        assert os.stat(tmp_path / 'a.pth').st_mode == os.stat(tmp_path / 'plain').st_mode
        os.umask(0o027)
        atomic_write_bytes(b'y', tmp_path / 'b.pth')
        assert oct(os.stat(tmp_path / 'b.pth').st_mode & 0o777) == '0o640'
        os.chmod(tmp_path / 'a.pth', 0o664)  # replacing a file keeps its mode, as open() does
        atomic_write_bytes(b'z', tmp_path / 'a.pth')
        assert oct(os.stat(tmp_path / 'a.pth').st_mode & 0o777) == '0o664'
    finally:
        os.umask(old)
