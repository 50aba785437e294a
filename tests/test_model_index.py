"""model-index.yml, configs/*/metafile.yml and configs/*/README.md (issue 14 items 3, 4), and OpenMMLab's `mim`.

- The committed files equal what ``tools/reproduce_tables.py --model-index --readmes`` generates now (every
  config loaded, built and counted, in one module-scoped run: ~20 s of CPU).
- Every config is listed, every listed config exists, the numbers are the counter's (checked against
  ``mmv3.analysis.reproduce.measure_row`` / ``count_model`` on CPU for a few configs), the paper's results are
  the paper rows' and are marked ``(paper)``.
- ``mim list`` / ``mim search mmv3`` / ``mim train mmv3`` / ``mim test mmv3`` on mmv3 installed from a copy of
  this checkout into a throw-away virtual environment (``pip install .``: mmv3/.mim holds copies), and the
  editable install (``pip install -e .``: mmv3/.mim/* are symlinks into the checkout).
"""
import json
import os
import os.path as osp
import re
import shutil
import site
import subprocess
import sys
import time

import pytest
import yaml

from mmv3.analysis import model_index as mi
from mmv3.analysis.paper_tables import PAPER_ROWS, TABLE_SPECS, find_row

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tests', 'data'))
from mmv3_tool_helpers import CONFIGS, make_class_folders  # noqa: E402

GENERATED = ['model-index.yml'] + [f'configs/{f}/{n}' for f in ('cls', 'det', 'seg')
                                   for n in ('metafile.yml', 'README.md')]
METRIC = {'cls': 'Top 1 Accuracy (paper)', 'det': 'box AP (paper)', 'seg': 'mIoU (paper)'}


def load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('reproduce_tables', osp.join(ROOT, 'tools/reproduce_tables.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


@pytest.fixture(scope='module')
def regenerated(tmp_path_factory):
    """The CLI's output for the whole repository, written to a temporary directory (one counting run)."""
    out = tmp_path_factory.mktemp('model_index')
    t0 = time.time()
    load_tool().main(['--model-index', '--readmes', '--index-out', str(out)])
    print(f'regenerated in {time.time() - t0:.1f} s')
    return str(out)


@pytest.fixture(scope='module')
def models():
    """{name: model dict} of the committed metafiles."""
    out = {}
    index = yaml.safe_load(read(osp.join(ROOT, 'model-index.yml')))
    assert index['Import'] == [f'configs/{f}/metafile.yml' for f in ('cls', 'det', 'seg')]
    for imp in index['Import']:
        meta = yaml.safe_load(read(osp.join(ROOT, imp)))
        collections = {c['Name'] for c in meta['Collections']}
        for m in meta['Models']:
            assert m['Name'] not in out, f'{m["Name"]} listed twice'
            assert m['In Collection'] in collections
            out[m['Name']] = m
    return out


# ------------------------------------------------------------------------------------------ committed files
@pytest.mark.parametrize('rel', GENERATED)
def test_committed_file_equals_the_generator(regenerated, rel):
    new, old = read(osp.join(regenerated, rel)), read(osp.join(ROOT, rel))
    if new != old:
        import difflib
        diff = ''.join(list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), 'committed',
                                                 'generated'))[:40])
        pytest.fail(f'{rel} is stale: run `python tools/reproduce_tables.py --model-index --readmes`\n{diff}')


def test_every_config_is_listed_and_every_listed_config_exists(models):
    configs = mi.list_configs(ROOT)
    assert len(configs) == 57  # + the converted torchvision LR-ASPP and SSDLite, 2 Keras, 4 TF slim, 2 DeepLab configs
    assert sorted(m['Config'] for m in models.values()) == sorted(configs)
    for name, m in models.items():
        assert osp.isfile(osp.join(ROOT, m['Config'])) and name == osp.basename(m['Config'])[:-3]
        meta = m['Metadata']
        assert isinstance(meta['Parameters'], int) and isinstance(meta['FLOPs'], int)
        from mmv3.converters.weights import CONVERTED
        if name in CONVERTED:  # trained elsewhere: the source's training data
            assert meta['Training Data'] == CONVERTED[name]['training_data']
        else:
            assert meta['Training Data'] == {'cls': 'ImageNet-1k', 'det': 'COCO', 'seg': 'Cityscapes'}[
                m['Config'].split('/')[1]]
        assert meta['Architecture'] and osp.isfile(osp.join(ROOT, m['Code']))
        assert m['Paper']['URL'] == 'https://arxiv.org/abs/1905.02244' and 'Weights' not in m


def test_paper_results_are_the_rows_and_marked(models):
    """Each paper row with a config carries the paper's number under '<metric> (paper)'; configs that
    load to a row's config exactly carry the same; all the others carry none."""
    by_config = {m['Config']: m for m in models.values()}
    rows = [r for r in PAPER_ROWS if r.config is not None]
    for row in rows:
        m = by_config[row.config]
        folder = row.config.split('/')[1]
        (res, ) = m['Results']
        assert res['Metrics'] == {METRIC[folder]: row.accuracy}
        assert m['Metadata']['Paper Row'] == f'Table {row.table}: {row.name}'
        assert m['Metadata']['Paper Parameters'] == round(row.params * 1e6)
    from mmv3.converters.weights import CONVERTED
    folder_of = {spec.task: folder for folder, spec in mi.FOLDERS.items()}
    converted = {f"configs/{folder_of[c['task']]}/{n}.py": c for n, c in CONVERTED.items()}
    for config, conv in converted.items():  # converted weights: the source's numbers, marked as the source's
        (res, ) = by_config[config]['Results']
        assert res['Metrics'] == conv['metrics'] and not any('(paper)' in k for k in res['Metrics'])
        assert all(k.endswith(')') for k in res['Metrics'])
        assert by_config[config]['Converted From']['convert'] == conv['convert']
        assert 'Paper Row' not in by_config[config]['Metadata']
    with_result = {m['Config'] for m in models.values() if m['Results']}
    extra = sorted(with_result - {r.config for r in rows} - set(converted))
    # the two long-named Table 7 files that lraspp_v3_{large,small}_cityscapes.py inherit unchanged
    assert extra == ['configs/seg/lraspp_mobilenet-v3-large-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py',
                     'configs/seg/lraspp_mobilenet-v3-small-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py']
    row8 = by_config['configs/seg/lraspp_v3_large_cityscapes.py']
    same = by_config[extra[0]]
    assert same['Results'] == row8['Results'] and same['Metadata']['Parameters'] == row8['Metadata']['Parameters']
    assert 'same config as lraspp_v3_large_cityscapes.py' in same['Metadata']['Paper Row']
    # variants are not rows: no result (e.g. the ImageNet-initialised SSDLite, the 128px classifier)
    assert by_config['configs/det/ssdlite_mobilenet-v3-large-in1k-pre_8xb24-600e_coco.py']['Results'] is None
    assert by_config['configs/cls/mobilenet-v3-large_8xb512_in1k-128px.py']['Results'] is None


def test_numbers_equal_the_counter(models):
    """A subset, recounted on CPU the way tools/reproduce_tables.py does (the full set is compared with the
    generator above, which counts on the meta device)."""
    from mmv3.analysis import count_model
    from mmv3.apis import build_model, load_config
    from mmv3.analysis.reproduce import measure_row
    by_config = {m['Config']: m for m in models.values()}
    for table, name in [(3, 'V3-Small 1.0'), (6, 'V3-Small†'), (7, '#11 V3-Small RF2 LR-ASPP F=128')]:
        row = find_row(table, name)
        res = measure_row(row, ROOT)
        meta = by_config[row.config]['Metadata']
        assert (meta['Parameters'], meta['FLOPs']) == (res.params, res.madds), name
        assert meta['Paper FLOPs'] == round(row.madds * TABLE_SPECS[table].madds_unit)
    # a resolution variant: counted at its own test crop, with Table 3's 1001 classes
    path = 'configs/cls/mobilenet-v3-large_8xb512_in1k-96px.py'
    cfg = load_config(osp.join(ROOT, path), {'model.head.num_classes': 1001})
    ref = count_model(build_model(cfg), input_shape=(1, 3, 96, 96), convention='paper')
    meta = by_config[path]['Metadata']
    assert (meta['Parameters'], meta['FLOPs']) == (ref['params'], ref['madds'])
    assert meta['Counting'].startswith('1x3x96x96, model.head.num_classes=1001;')


def test_model_index_parses_with_modelindex():
    """The files load with the `model-index` package (what mim search uses), every model with its config."""
    from modelindex.load_model_index import load
    index = load(osp.join(ROOT, 'model-index.yml'))
    assert len(index.models) == 57 and len(index.collections) == 3
    v3 = next(m for m in index.models if m.name == 'ssdlite_mobilenet-v3-small-reduced_8xb24-600e_coco')
    assert v3.results[0].metrics == {'box AP (paper)': 16.1}
    assert v3.metadata.data['Paper Row'] == 'Table 6: V3-Small\u2020'
    assert read(osp.join(ROOT, 'configs/det/metafile.yml')).isascii()  # read with any locale


# ------------------------------------------------------------------------------------------ READMEs
def test_readmes_list_every_config_with_its_numbers(models):
    for folder in ('cls', 'det', 'seg'):
        text = read(osp.join(ROOT, f'configs/{folder}/README.md'))
        assert '## Abstract' in text and 'Lite Reduced Atrous Spatial Pyramid Pooling (LR-ASPP)' in text
        assert '@inproceedings{howard2019searching' in text
        for m in models.values():
            if m['Config'].split('/')[1] != folder:
                continue
            line = next(ln for ln in text.splitlines() if ln.startswith(f'| `{m["Name"]}` |'))
            assert f'[config]({m["Name"]}.py)' in line and f'{m["Metadata"]["Parameters"] / 1e6:.3f}' in line
            if m['Results'] and 'Converted From' in m:  # the source's number, named as the source's
                metric, value = next(iter(m['Results'][0]['Metrics'].items()))
                assert f'converted weights: {metric} {value:g} on ' in line and line.count(' - |') == 3
            elif m['Results']:
                assert f' {list(m["Results"][0]["Metrics"].values())[0]:g} |' in line
    seg = read(osp.join(ROOT, 'configs/seg/README.md'))  # the hand-written part is kept below the table
    assert seg.index('<!-- END GENERATED header -->') < seg.index('## Training recipe') < seg.index('## Heads') \
        < seg.index('<!-- BEGIN GENERATED citation')


def test_merge_readme_keeps_the_hand_written_text():
    blocks = {'header': '# T\n\nnew table', 'citation': '## Citation\nC'}
    fresh = mi.merge_readme(blocks, None)
    assert fresh.startswith('<!-- BEGIN GENERATED header:') and fresh.count('<!-- END GENERATED') == 2
    edited = fresh.replace('\n\n<!-- BEGIN GENERATED citation', '\n\nmy notes\n\n<!-- BEGIN GENERATED citation')
    edited = edited.replace('new table', 'old table')
    merged = mi.merge_readme(blocks, edited)
    assert 'new table' in merged and 'old table' not in merged and 'my notes' in merged
    assert mi.merge_readme(blocks, merged) == merged
    # a README without markers: its text goes between the generated blocks
    assert re.search(r'END GENERATED header -->\n\nhand\n\n<!-- BEGIN GENERATED citation', mi.merge_readme(blocks, 'hand'))
    with pytest.raises(ValueError, match='blocks'):
        mi.merge_readme({'header': 'x', 'citation': 'y', 'other': 'z'}, merged)


# ------------------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize('args, needle', [
    (['--check'], 'need --model-index'),
    (['--index-out', '/tmp/x'], 'need --model-index'),
    (['--model-index', '--rows', 'V3'], '--rows: only for the paper-table report'),
    (['--readmes', '--tables', '3'], '--tables: only for the paper-table report'),
    (['--model-index', '--check', '--index-out', '/tmp/x'], 'writes nothing'),
    (['--model-index', '--root', '/nonexistent'], 'has no configs/ folder'),
    (['--override', 'no-colon'], "expects 'ROW:KEY=VALUE'"),
    (['--tables', '5'], 'invalid choice'),
])
def test_bad_cli_input_one_line_exit_2(args, needle, capsys):
    from mmv3.apis import run_cli
    with pytest.raises(SystemExit) as e:
        run_cli(load_tool().main, 'reproduce_tables.py', args)  # as the tool's __main__ runs it
    err = capsys.readouterr().err
    assert e.value.code == 2 and needle in err
    assert err.count('\n') == 1 and err.startswith('reproduce_tables.py: error: '), err


def test_stale_files_names_what_differs(tmp_path):
    files = {'a.yml': 'x\n', 'd/b.md': 'y\n'}
    mi.write_files(files, str(tmp_path))
    assert mi.stale_files(files, str(tmp_path)) == []
    (tmp_path / 'd' / 'b.md').write_text('edited\n')
    assert mi.stale_files(files, str(tmp_path)) == ['d/b.md']
    os.remove(tmp_path / 'a.yml')
    assert mi.stale_files(files, str(tmp_path)) == ['a.yml', 'd/b.md']


# ------------------------------------------------------------------------------------------ mim
COPY = ['setup.py', 'README.md', 'MANIFEST.in', 'model-index.yml', 'requirements', 'mmv3', 'configs', 'tools']


def _venv(tmp):
    """A virtual environment whose packages are this interpreter's (a .pth), so nothing is downloaded."""
    base = getattr(sys, '_base_executable', None) or sys.executable
    venv = osp.join(tmp, 'venv')
    subprocess.run([base, '-m', 'venv', '--without-pip', venv], check=True)
    py = osp.join(venv, 'bin', 'python')
    purelib = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                             check=True, capture_output=True, text=True).stdout.strip()
    with open(osp.join(purelib, 'zz_parent_env.pth'), 'w') as f:
        f.write('\n'.join(site.getsitepackages()) + '\n')
    return py, purelib


def _checkout_copy(tmp):
    src = osp.join(tmp, 'src')
    ignore = shutil.ignore_patterns('__pycache__', '.mim', '*.egg-info', 'build', 'work_dirs')
    os.makedirs(src)
    for name in COPY:
        s, d = osp.join(ROOT, name), osp.join(src, name)
        shutil.copytree(s, d, ignore=ignore) if osp.isdir(s) else shutil.copyfile(s, d)
    return src


def _env(**extra):
    e = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH' and not k.startswith('MMV3_')}
    e.update(OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', **extra)
    return e


def _run(py, args, cwd, timeout=400, **env):
    p = subprocess.run([py, *args], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def _pip_install(py, args, tmp):
    rc, log = _run(py, ['-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '--no-index', *args], tmp)
    assert rc == 0, log[-3000:]


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """mmv3 installed from a copy of the checkout with `pip install .` into a throw-away venv."""
    pytest.importorskip('mim', reason='openmim is not installed (requirements/tests.txt)')
    tmp = str(tmp_path_factory.mktemp('mim_wheel'))
    py, purelib = _venv(tmp)
    src = _checkout_copy(tmp)
    _pip_install(py, [src], tmp)
    return py, purelib, src, tmp


@pytest.mark.slow
def test_mim_list_and_search_find_the_installed_models(installed):
    py, purelib, src, tmp = installed
    mim_dir = osp.join(purelib, 'mmv3', '.mim')
    for rel in ('model-index.yml', 'configs/cls/metafile.yml', 'configs/seg/lraspp_v3_large_cityscapes.py',
                'configs/_base_/default_runtime.py', 'tools/train.py', 'tools/test.py'):
        path = osp.join(mim_dir, rel)
        assert osp.isfile(path) and not osp.islink(path), f'{rel} is not copied into the wheel'
    assert not osp.exists(osp.join(src, 'mmv3', '.mim')), 'a wheel build must leave the checkout alone'
    rc, log = _run(py, ['-m', 'mim', 'list'], tmp)
    assert rc == 0 and re.search(r'^mmv3\s+0\.\d', log, re.M), log[-2000:]
    out = osp.join(tmp, 'search.json')
    rc, log = _run(py, ['-m', 'mim', 'search', 'mmv3', '--json', out], tmp)
    assert rc == 0, log[-3000:]
    found = json.load(open(out))  # {field: {config id: value}}
    assert found['config'] == {osp.basename(c)[:-3]: c for c in mi.list_configs(ROOT)}
    assert found['cityscapes/miou_(paper)']['lraspp_v3_large_cityscapes'] == 72.36
    assert found['imagenet-1k/top_1_accuracy_(paper)']['mobilenet-v3-large_8xb512_in1k'] == 75.2
    assert found['parameters']['mobilenet-v3-large_8xb512_in1k'] == 5484313
    rc, log = _run(py, ['-m', 'mim', 'search', 'mmv3', '--model', 'mobilenetv3 ssdlite'], tmp)
    assert rc == 0 and 'config id: ssdlite_mobilenet-v3-small-reduced_8xb24-600e_coco' in log, log[-2000:]
    assert 'config id: lraspp_v3_large_cityscapes' not in log


@pytest.mark.slow
def test_mim_train_and_test_run_the_packaged_tools(installed):
    py, purelib, src, tmp = installed
    tools = osp.join(purelib, 'mmv3', '.mim', 'tools')
    # meanwhile (a second process): a config named without a path is found under mmv3/.mim/configs, and the
    # packaged train.py then refuses the missing data root with its one line
    missing = osp.join(tmp, 'no_imagenet_here')
    lookup = subprocess.Popen(
        [py, '-m', 'mim', 'train', 'mmv3', 'mobilenet-v3-small_8xb512_in1k.py', '--work-dir', osp.join(tmp, 'w2'),
         '--cfg-options', f'train_dataloader.dataset.data_root={missing}'],
        cwd=tmp, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        data = make_class_folders(osp.join(tmp, 'tiny_cls_data'))
        work = osp.join(tmp, 'work')
        cfg = osp.join(CONFIGS, 'tiny_cls.py')  # a config outside the package: mim uses the path as given
        opts = ['--cfg-options', f'train_dataloader.dataset.data_root={data}',
                f'test_dataloader.dataset.data_root={data}']
        rc, log = _run(py, ['-m', 'mim', 'train', 'mmv3', cfg, '--work-dir', work, *opts], tmp)
        assert rc == 0 and 'Training finished successfully' in log, log[-4000:]
        assert f'{osp.join(tools, "train.py")} {cfg} --launcher none' in log
        assert osp.isfile(osp.join(work, 'iter_4.pth'))
        rc, log = _run(py, ['-m', 'mim', 'test', 'mmv3', cfg, '--checkpoint', osp.join(work, 'iter_4.pth'),
                            '--work-dir', osp.join(tmp, 'work_test'), *opts], tmp)
        assert rc == 0 and 'Testing finished successfully' in log and 'accuracy/top1' in log, log[-4000:]
        assert f'{osp.join(tools, "test.py")} {cfg} {osp.join(work, "iter_4.pth")} --launcher none' in log
        log = lookup.communicate(timeout=400)[0]
    finally:
        if lookup.poll() is None:
            lookup.kill()
            lookup.wait(30)
    assert lookup.returncode != 0
    assert osp.join(purelib, 'mmv3', '.mim', 'configs', 'cls', 'mobilenet-v3-small_8xb512_in1k.py') in log
    assert re.search(rf'train\.py: error: .*{re.escape(missing)}.*does not exist', log), log[-3000:]


@pytest.mark.slow
def test_editable_install_links_the_checkout(tmp_path):
    """`pip install -e .` makes mmv3/.mim/* symlinks into the checkout; mim sees them when the checkout is on
    sys.path (PYTHONPATH, or `python -m mim` run in it), not through the PEP 660 finder alone: mim 0.3.9
    looks for <dist location>/mmv3/.mim, and an editable install's dist-info lies in site-packages."""
    pytest.importorskip('mim', reason='openmim is not installed (requirements/tests.txt)')
    py, purelib = _venv(str(tmp_path))
    src = _checkout_copy(str(tmp_path))
    _pip_install(py, ['-e', src], str(tmp_path))
    for name in ('configs', 'tools', 'model-index.yml'):
        link = osp.join(src, 'mmv3', '.mim', name)
        assert osp.islink(link) and os.readlink(link) == osp.join('..', '..', name)
    rc, log = _run(py, ['-m', 'mim', 'search', 'mmv3', '--valid-config'], str(tmp_path), PYTHONPATH=src)
    assert rc == 0 and "'lraspp_v3_small_cityscapes'" in log, log[-2000:]
    rc, log = _run(py, ['-m', 'mim', 'list'], src)  # cwd = the checkout
    assert re.search(rf'^mmv3\s+0\.\S+\s+{re.escape(src)}$', log, re.M), log[-2000:]
    rc, log = _run(py, ['-m', 'mim', 'list'], str(tmp_path))  # neither: the known mim limitation
    assert not re.search(r'^mmv3\s', log, re.M), 'mim now finds editable installs: update README.md'
