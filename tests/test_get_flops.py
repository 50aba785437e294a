"""tools/analysis_tools/get_flops.py prints the counter's numbers for a config of each task."""
import os.path as osp
import runpy
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'get_flops.py')


def run_tool(capsys, *args):
    argv = sys.argv
    sys.argv = [TOOL, *args]
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = argv
    return capsys.readouterr().out


def test_cls_config_paper_convention(capsys):
    out = run_tool(capsys, osp.join(ROOT, 'configs/cls/mobilenet-v3-small_8xb512_in1k.py'),
                   '--cfg-options', 'model.head.num_classes=1001')
    # Table 3 V3-Small 1.0 (1001 classes): 2,543,881 params, 56.51M MAdds
    assert 'Params: 2.544 M (2543881)' in out
    assert 'MAdds: 0.057 G (56511424)' in out
    assert 'Convention: paper' in out and 'Input shape: 224x224' in out


def test_seg_main_config_on_meta_device(capsys):
    out = run_tool(capsys, osp.join(ROOT, 'configs/seg/lraspp_v3_large_cityscapes.py'),
                   '--shape', '1025', '2049', '--device', 'meta')
    assert 'Params: 1.507 M' in out  # Table 7 row 8: 1.51M
    madds = int(out.split('MAdds: ')[1].split('(')[1].split(')')[0])
    assert 9.5e9 <= madds <= 9.8e9  # paper 9.74B


def test_mmengine_convention_counts_more(capsys):
    cfg = osp.join(ROOT, 'configs/cls/mobilenet-v3-small_8xb512_in1k.py')
    paper = run_tool(capsys, cfg, '--shape', '96')
    mme = run_tool(capsys, cfg, '--shape', '96', '--convention', 'mmengine')
    get = lambda s: int(s.split('MAdds: ')[1].split('(')[1].split(')')[0])  # noqa: E731
    assert 'mmengine FlopAnalyzer' in mme
    assert get(mme) > get(paper)  # BN, pooling and elementwise work are counted too


def test_missing_config_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        run_tool(capsys, 'configs/nope.py')
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('get_flops.py: error: config file configs/nope.py does not exist')


def test_train_speed_tool_runs(capsys):
    tool = osp.join(ROOT, 'tools', 'analysis_tools', 'train_speed.py')
    argv = sys.argv
    sys.argv = [tool, osp.join(ROOT, 'configs/seg/lraspp_v3_small_cityscapes.py'), '--crop', '65', '--iters', '2']
    try:
        runpy.run_path(tool, run_name='__main__')
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert 'batch 2 x 65x65' in out and 'peak RSS' in out
