"""tools/reproduce_tables.py: the paper's tables as data, and a report whose numbers are the counter's."""
import json
import os.path as osp
import re

import pytest

from mmv3.analysis.paper_tables import PAPER_ROWS, TABLE_SPECS, find_row, rows_of
from mmv3.apis import ToolError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAPER_MD = osp.join(osp.dirname(ROOT), 'shared', 'paper', 'mobilenetv3.md')


def load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('reproduce_tables', osp.join(ROOT, 'tools/reproduce_tables.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_row_maps_to_an_existing_config():
    assert [len(rows_of([t])) for t in (3, 6, 7)] == [9, 11, 11]
    for row in PAPER_ROWS:
        if row.config is None:
            assert row.name in ('Proxyless', 'Mnas-small')
        else:
            assert osp.isfile(osp.join(ROOT, row.config)), f'{row.table}/{row.name}: {row.config} is missing'
    with pytest.raises(ValueError, match='allowed'):
        rows_of([5])
    with pytest.raises(KeyError, match='rows'):
        find_row(3, 'V4')


@pytest.mark.skipif(not osp.isfile(PAPER_MD), reason='the paper transcription (../shared/paper) is not here')
def test_paper_numbers_match_the_transcription():
    """Every number in PAPER_ROWS appears in the paper's table rows of shared/paper/mobilenetv3.md."""
    text = open(PAPER_MD, encoding='utf-8').read()

    def md_rows(header):
        lines, started = [], False
        for line in text.split(header, 1)[1].splitlines():
            if line.startswith('|'):
                started = True
                lines.append([c.strip() for c in line.strip('|').split('|')])
            elif started:
                break
        return lines[2:]  # drop the header and the separator

    t3 = {r[0]: r for r in md_rows('## Table 3')}
    for row in rows_of([3]):
        cells = t3[row.name]
        assert [float(cells[1]), float(cells[2]), float(cells[3].rstrip('M')), float(cells[4])] == \
            [row.accuracy, row.madds, row.params, row.latency]
    t6 = {r[0]: r for r in md_rows('## Detection')}
    for row in rows_of([6]):
        cells = t6[row.name]
        assert [float(cells[1]), float(cells[2]), float(cells[3].rstrip('M')), float(cells[4].rstrip('B'))] == \
            [row.accuracy, row.latency, row.params, row.madds]
    t7 = {int(r[0]): r for r in md_rows('## Segmentation')}
    for row in rows_of([7]):
        cells = t7[int(re.match(r'#(\d+)', row.name).group(1))]
        assert [float(cells[5]), float(cells[6].rstrip('M')), float(cells[7].rstrip('B')), float(cells[8].rstrip('s'))] \
            == [row.accuracy, row.params, row.madds, row.latency]


def test_report_numbers_equal_the_counter(tmp_path, capsys):
    """Fast rows of Tables 3 and 6: the report shows exactly what count_model measures on the config."""
    from mmv3.analysis import count_model
    from mmv3.analysis.reproduce import merged_options
    from mmv3.apis import build_model, load_config
    tool = load_tool()
    names = ['V3-Small 0.75', 'T6:V3-Small†']
    tool.main(['--tables', '3', '6', '--rows', *names, '--out', str(tmp_path)])
    printed = capsys.readouterr().out
    records = json.loads((tmp_path / 'paper_tables.json').read_text(encoding='utf-8'))
    assert [r['row'] for r in records] == ['V3-Small 0.75', 'V3-Small†']
    for rec in records:
        row = find_row(rec['table'], rec['row'])
        cfg = load_config(osp.join(ROOT, row.config), merged_options(row))
        h, w = TABLE_SPECS[row.table].input_hw
        ref = count_model(build_model(cfg), input_shape=(1, 3, h, w), convention='paper')
        assert rec['params'] == ref['params'] and rec['madds'] == ref['madds']
        assert rec['params_rel_err'] == pytest.approx(ref['params'] / 1e6 / row.params - 1)
        unit = TABLE_SPECS[row.table].madds_unit
        assert rec['madds_rel_err'] == pytest.approx(ref['madds'] / unit / row.madds - 1)
        # the Markdown line carries the same numbers
        line = next(ln for ln in printed.splitlines() if ln.startswith(f'| {row.name} |'))
        assert f'{ref["params"] / 1e6:.3f}' in line and f'{rec["params_rel_err"] * 100:+.1f}%' in line
        digits = 1 if row.table == 3 else 3
        assert f'{ref["madds"] / unit:.{digits}f}' in line and f'{rec["madds_rel_err"] * 100:+.1f}%' in line
    # 1001 classes for Table 3 (TF's background slot), 91 class slots for Table 6
    assert records[0]['params'] > 2.0e6 and 'model.head.num_classes=1001' in printed
    assert 'model.bbox_head.num_classes=90' in printed and 'Counting convention: paper' in printed
    png = tmp_path / 'paper_tables.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (tmp_path / 'paper_tables.md').is_file()


def test_per_row_override_changes_the_count(capsys):
    tool = load_tool()
    tool.main(['--tables', '3', '--rows', 'V3-Small 0.75', '--override', 'V3-Small 0.75:model.head.num_classes=11'])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('| V3-Small 0.75 |'))
    # 1001 -> 11 classes removes 990 x (1024 + 1) classifier parameters: ~1.03M instead of 2.04M
    measured = float(line.split('|')[5])
    assert 1.0 < measured < 1.1
    with pytest.raises(ToolError, match='ROW:KEY=VALUE'):
        tool.main(['--override', 'no-colon'])


def test_missing_config_is_reported_not_fatal(tmp_path):
    from mmv3.analysis.reproduce import format_markdown, measure_row
    row = find_row(3, 'V3-Small 1.0')
    res = measure_row(row, root=str(tmp_path))  # no configs under tmp_path
    assert res.status == 'missing config' and res.params is None
    assert '| V3-Small 1.0 |' in format_markdown([res])
    assert measure_row(find_row(3, 'Proxyless')).status == 'no config'
