"""tools/analysis_tools/analyze_logs.py on a synthetic mmengine json log."""
import json
import os.path as osp

import pytest

from mmv3.apis import ToolError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def write_log(path, iters=40, val_every=10, by_epoch=False):
    """Lines as mmengine's LocalVisBackend writes them: training records with lr/loss/iter/step,
    validation records with the metrics and step."""
    with open(path, 'w') as f:
        for it in range(1, iters + 1):
            rec = dict(lr=0.01 * (1 - it / iters), data_time=0.01, loss=2.0 / it, **{'decode.loss_ce': 1.5 / it},
                       time=0.5 + 0.01 * (it % 3), iter=it, memory=100, step=it)
            if by_epoch:
                rec['epoch'] = (it - 1) // val_every + 1
            f.write(json.dumps(rec) + '\n')
            if it % val_every == 0:
                step = it // val_every if by_epoch else it
                f.write(json.dumps(dict(aAcc=50.0 + it, mIoU=10.0 + it / 2, data_time=0.1, time=0.2, step=step)) + '\n')
        f.write('{"broken json\n')
    return path


def load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('analyze_logs', osp.join(ROOT, 'tools/analysis_tools/analyze_logs.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_curves_from_log(tmp_path):
    from mmv3.analysis.logs import curve, load_json_log, smooth
    log = load_json_log(write_log(str(tmp_path / 'a.json')))
    assert len(log['train']) == 40 and len(log['val']) == 4
    x, y, xlabel = curve(log, 'loss')
    assert x == list(range(1, 41)) and y[0] == 2.0 and y[-1] == pytest.approx(0.05) and xlabel == 'iteration'
    x, y, xlabel = curve(log, 'mIoU')
    assert x == [10, 20, 30, 40] and y == [15.0, 20.0, 25.0, 30.0] and xlabel == 'iteration'
    log_e = load_json_log(write_log(str(tmp_path / 'e.json'), by_epoch=True))
    x, _, xlabel = curve(log_e, 'mIoU')
    assert x == [1, 2, 3, 4] and xlabel == 'epoch'
    with pytest.raises(KeyError, match="available keys: .*'loss'.*'mIoU'"):
        curve(log, 'bbox_mAP')
    assert smooth([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]


def test_plot_curve_cli(tmp_path, capsys):
    tool = load_tool()
    a = write_log(str(tmp_path / 'a.json'))
    b = write_log(str(tmp_path / 'b.json'), iters=30)
    out = tmp_path / 'curves.png'
    tool.main(['plot_curve', a, b, '--keys', 'loss', 'mIoU', '--legend', 'run-a', 'run-b', '--out', str(out)])
    data = out.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 10000
    import matplotlib.image as mpimg
    img = mpimg.imread(str(out))
    assert img.shape[1] > 1.5 * img.shape[0]  # two panels side by side
    tool.main(['cal_train_time', a])
    assert 's/iter' in capsys.readouterr().out
    with pytest.raises(ToolError, match='available keys'):
        tool.main(['plot_curve', a, '--keys', 'nope', '--out', str(tmp_path / 'x.png')])
    with pytest.raises(ToolError, match='log not found'):
        tool.main(['plot_curve', str(tmp_path / 'missing.json'), '--out', str(tmp_path / 'x.png')])
