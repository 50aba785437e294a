"""The model index (``model-index.yml`` + ``configs/*/metafile.yml``) and ``configs/*/README.md``, as data.

Both are generated from the same entries, one per config of ``configs/{cls,det,seg}``:

- the **counted** Params / MAdds (:func:`mmv3.analysis.count_model`, the paper's convention, the
  table's counting options and input: :data:`~mmv3.analysis.paper_tables.TABLE_SPECS`; classification
  configs at their own test crop, e.g. 128x128 for ``*-128px.py``);
- the **paper's** row (:data:`~mmv3.analysis.paper_tables.PAPER_ROWS`) when the config is the row's, or when
  it loads to exactly the same config as a row's (``lraspp_mobilenet-v3-large-d16-rf2_f128_...py`` is
  what ``lraspp_v3_large_cityscapes.py``, row 8, inherits unchanged). Configs of no row (width /
  resolution / nonlinearity variants, the ImageNet-initialised SSDLite) have no result.

The metafiles follow the OpenMMLab schema (mmpretrain's / mmdet's ``metafile.yml``): Collections, Models
with Name, In Collection, Config, Metadata (``Parameters``, ``FLOPs`` = multiply-adds in the paper's
convention, Training Data, Architecture), Results, Paper, Code. The paper's numbers are marked as such:
the metric is named ``'<metric> (paper)'`` (``Top 1 Accuracy (paper)``, ``box AP (paper)``,
``mIoU (paper)``), so a number measured with mmv3 weights can later sit next to it under the plain name.
``Weights`` is omitted: no converted checkpoint is published yet. A config whose trained weights convert
exactly from another framework (:data:`mmv3.converters.weights.CONVERTED`) gets that source's accuracy,
named ``'<metric> (<source>)'``, and a ``Converted From`` entry (source, its weights URL, the convert and
``tools/test.py`` commands).

``tools/reproduce_tables.py --model-index --readmes`` writes the files; the committed files must equal
:func:`generate`'s output (``tests/test_model_index.py``).
"""
import copy
import inspect
import os
import os.path as osp
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from mmv3.analysis.paper_tables import PAPER_ROWS, TABLE_SPECS, PaperRow
from mmv3.analysis.reproduce import merged_options

PAPER_TITLE = 'Searching for MobileNetV3'
PAPER_URL = 'https://arxiv.org/abs/1905.02244'
# The ICCV 2019 abstract, as quoted in ../shared/paper/seeds/004_*.txt.
ABSTRACT = (
    'We present the next generation of MobileNets based on a combination of complementary search techniques '
    'as well as a novel architecture design. MobileNetV3 is tuned to mobile phone CPUs through a combination '
    'of hardware-aware network architecture search (NAS) complemented by the NetAdapt algorithm and then '
    'subsequently improved through novel architecture advances. This paper starts the exploration of how '
    'automated search algorithms and network design can work together to harness complementary approaches '
    'improving the overall state of the art. Through this process we create two new MobileNet models for '
    'release: MobileNetV3-Large and MobileNetV3-Small which are targeted for high and low resource use cases. '
    'These models are then adapted and applied to the tasks of object detection and semantic segmentation. '
    'For the task of semantic segmentation (or any dense pixel prediction), we propose a new efficient '
    'segmentation decoder Lite Reduced Atrous Spatial Pyramid Pooling (LR-ASPP). We achieve new state of the '
    'art results for mobile classification, detection and segmentation. MobileNetV3-Large is 3.2% more '
    'accurate on ImageNet classification while reducing latency by 20% compared to MobileNetV2. '
    'MobileNetV3-Small is 6.6% more accurate compared to a MobileNetV2 model with comparable latency. '
    'MobileNetV3-Large detection is over 25% faster at roughly the same accuracy as MobileNetV2 on COCO '
    'detection. MobileNetV3-Large LR-ASPP is 34% faster than MobileNetV2 R-ASPP at similar accuracy for '
    'Cityscapes segmentation.')
CITATION = """@inproceedings{howard2019searching,
  title     = {Searching for MobileNetV3},
  author    = {Howard, Andrew and Sandler, Mark and Chu, Grace and Chen, Liang-Chieh and Chen, Bo and
               Tan, Mingxing and Wang, Weijun and Zhu, Yukun and Pang, Ruoming and Vasudevan, Vijay and
               Le, Quoc V. and Adam, Hartwig},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  pages     = {1314--1324},
  year      = {2019}
}"""


@dataclass(frozen=True)
class FolderSpec:
    """What a config folder holds: its paper table, task, dataset and metric."""
    folder: str
    table: int
    collection: str
    title: str
    task: str
    dataset: str
    metric: str
    summary: str


FOLDERS: Dict[str, FolderSpec] = {
    'cls': FolderSpec('cls', 3, 'MobileNetV3 ImageNet', 'ImageNet classification', 'Image Classification',
                      'ImageNet-1k', 'Top 1 Accuracy',
                      'MobileNetV3-Large/-Small and the baselines of Table 3 (MobileNetV2, MnasNet-A1), with the '
                      'width multipliers and resolutions of Figure 7 and the nonlinearity ablation of Table 5.'),
    'det': FolderSpec('det', 6, 'MobileNetV3 SSDLite', 'SSDLite on COCO', 'Object Detection', 'COCO',
                      'box AP',
                      'SSDLite (320x320) on every backbone of Table 6, with the reduced-tail (dagger) variants and '
                      'ImageNet-initialised V3 backbones.'),
    'seg': FolderSpec('seg', 7, 'MobileNetV3 LR-ASPP', 'LR-ASPP and R-ASPP on Cityscapes', 'Semantic Segmentation',
                      'Cityscapes', 'mIoU',
                      'One config per row of Table 7: R-ASPP and LR-ASPP heads on MobileNetV2 / V3 backbones, output '
                      'stride 16, trained from scratch.'),
}

ARCH_NAMES = {'MobileNetV2': 'MobileNetV2', 'MnasNet': 'MnasNet-A1', 'MobileNetV1': 'MobileNetV1',
              'LRASPPHead': 'LR-ASPP', 'RASPPHead': 'R-ASPP', 'SSDLiteHead': 'SSDLite'}
GEN_BEGIN = '<!-- BEGIN GENERATED {name}: tools/reproduce_tables.py --readmes writes this block; do not edit -->'
GEN_END = '<!-- END GENERATED {name} -->'
_BLOCK = re.compile(r'<!-- BEGIN GENERATED (\w+):[^\n]*-->\n.*?<!-- END GENERATED \1 -->\n', re.S)


@dataclass
class Entry:
    """One config of the index: what was counted, and the paper row it stands for (if any)."""
    config: str  # relative to the repository root, e.g. 'configs/cls/mobilenet-v3-large_8xb512_in1k.py'
    folder: str
    params: int
    madds: int
    input_hw: Tuple[int, int]
    cfg_options: Dict[str, object]
    architecture: List[str]
    code: str
    row: Optional[PaperRow] = None
    same_as: Optional[str] = None  # the row's config when this config only equals it
    notes: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return osp.splitext(osp.basename(self.config))[0]

    @property
    def spec(self) -> FolderSpec:
        return FOLDERS[self.folder]


def list_configs(root: str) -> List[str]:
    """Every config of ``configs/{cls,det,seg}`` (not ``_base_``), relative to ``root``, sorted."""
    out = []
    for folder in FOLDERS:
        d = osp.join(root, 'configs', folder)
        out += sorted(f'configs/{folder}/{f}' for f in os.listdir(d) if f.endswith('.py'))
    return out


def _short_type(t: str) -> str:
    return t.split('.')[-1]


def _architecture(model_cfg) -> List[str]:
    bb = model_cfg['backbone']
    name = _short_type(bb['type'])
    if name == 'MobileNetV3':
        name = f"MobileNetV3-{bb.get('arch', 'large').capitalize()}"
    arch = [ARCH_NAMES.get(name, name)]
    for key in ('bbox_head', 'decode_head'):
        if key in model_cfg:
            arch.append(ARCH_NAMES.get(_short_type(model_cfg[key]['type']), _short_type(model_cfg[key]['type'])))
    return arch


def _code_file(model_cfg, folder: str) -> str:
    """Source file (relative to the directory above the ``mmv3`` package) of the module that defines the model: backbone / head."""
    from mmengine.registry import MODELS
    import mmv3.models  # noqa: F401  (registers the modules)
    key = {'cls': 'backbone', 'det': 'bbox_head', 'seg': 'decode_head'}[folder]
    cls = MODELS.get(model_cfg[key]['type'])
    if cls is None:
        raise KeyError(f"{model_cfg[key]['type']!r} is not registered")
    path = inspect.getsourcefile(cls)
    pkg_root = osp.dirname(osp.dirname(osp.abspath(__import__('mmv3').__file__)))
    return osp.relpath(path, pkg_root).replace(os.sep, '/')


def _test_crop(cfg) -> Optional[int]:
    """The centre-crop size of a classification config's test pipeline."""
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'CenterCrop':
            c = t['crop_size']
            return c if isinstance(c, int) else c[0]
    return None


def _plain(cfg) -> dict:
    return cfg.to_dict()


def collect(root: str, configs: Optional[Sequence[str]] = None, device: str = 'meta',
            progress: Optional[Callable[[str], None]] = None) -> List[Entry]:
    """Load, build and count every config (or ``configs``) and attach the paper row it stands for.

    Args:
        root (str): Repository root (``configs/`` and the rows' config paths are relative to it).
        configs (list[str], optional): Only these configs (relative paths); default: all.
        device (str): Counting device, ``'meta'`` (shape-only forward; equal to ``'cpu'`` counts, fast at
            1025x2049) or ``'cpu'``.
        progress (callable, optional): Called with each config path before it is counted.
    """
    from mmv3.analysis import count_model
    from mmv3.apis import build_model, load_config
    all_configs = list_configs(root)
    configs = list(configs) if configs is not None else all_configs
    unknown = [c for c in configs if c not in all_configs]
    if unknown:
        raise ValueError(f'not a config of configs/{{cls,det,seg}}: {unknown}')
    rows = {r.config: r for r in PAPER_ROWS if r.config is not None}
    missing = [c for c in rows if c not in all_configs]
    if missing:
        raise ValueError(f'paper rows name configs that do not exist: {missing}')
    loaded = {}

    def load(path):
        if path not in loaded:
            loaded[path] = load_config(osp.join(root, path))
        return loaded[path]

    entries = []
    for path in configs:
        if progress:
            progress(path)
        folder = path.split('/')[1]
        spec = FOLDERS[folder]
        tspec = TABLE_SPECS[spec.table]
        row, same_as = rows.get(path), None
        if row is None:  # a config that loads to exactly a row's config stands for that row
            plain = _plain(load(path))
            for rc in rows:
                if rc.split('/')[1] == folder and _plain(load(rc)) == plain:
                    row, same_as = rows[rc], rc
                    break
        cfg = copy.deepcopy(load(path))  # the cached one stays as loaded (compared above)
        if row is not None:
            opts = merged_options(row)
        else:
            opts = dict(tspec.cfg_options)
        input_hw = tspec.input_hw
        if folder == 'cls':
            crop = _test_crop(cfg)
            if crop is not None:
                input_hw = (crop, crop)
        if row is not None and input_hw != tspec.input_hw:
            raise ValueError(f'{path}: counted at {input_hw}, but its paper row is at {tspec.input_hw}')
        model_cfg = cfg.model
        cfg.merge_from_dict(opts)
        model = build_model(cfg)
        res = count_model(model, input_shape=(1, 3) + tuple(input_hw), convention='paper', device=device)
        entries.append(Entry(config=path, folder=folder, params=int(res['params']), madds=int(res['madds']),
                             input_hw=tuple(input_hw), cfg_options=opts, architecture=_architecture(model_cfg),
                             code=_code_file(model_cfg, folder), row=row, same_as=same_as,
                             notes=[row.note] if row is not None and row.note and same_as is None else []))
        del model
    return entries


def ordered(entries: Sequence[Entry]) -> List[Entry]:
    """Paper rows in the paper's order (a config equal to a row right after it), then the other configs by name."""
    order = {r.config: i for i, r in enumerate(PAPER_ROWS) if r.config is not None}

    def key(e):
        if e.row is not None:
            return (0, order[e.row.config], e.same_as is not None, e.name)
        return (1, 0, False, e.name)
    return sorted(entries, key=key)


# ------------------------------------------------------------------------------------------ model index
def _counting(e: Entry) -> str:
    h, w = e.input_hw
    opts = ''.join(f', {k}={v}' for k, v in e.cfg_options.items())
    return f'1x3x{h}x{w}{opts}; paper convention (conv/linear multiply-adds)'


def _paper_row_label(e: Entry) -> Optional[str]:
    if e.row is None:
        return None
    label = f'Table {e.row.table}: {e.row.name}'
    if e.same_as:
        label += f' (same config as {osp.basename(e.same_as)})'
    return label


def model_dict(e: Entry) -> dict:
    """One ``Models`` item of a metafile."""
    meta = {'Parameters': e.params, 'FLOPs': e.madds, 'Counting': _counting(e),
            'Training Data': e.spec.dataset, 'Architecture': list(e.architecture)}
    out = {'Name': e.name, 'In Collection': e.spec.collection, 'Config': e.config, 'Metadata': meta}
    from mmv3.converters.weights import CONVERTED
    conv = CONVERTED.get(e.name)
    if conv is not None:  # converted trained weights: the source's own numbers, marked as the source's
        meta['Training Data'] = conv['training_data']
        out['Results'] = [{'Task': conv['task'], 'Dataset': conv['dataset'], 'Metrics': dict(conv['metrics'])}]
        out['Converted From'] = {k: conv[k] for k in ('source', 'weights', 'convert', 'test')}
    elif e.row is not None:
        meta['Paper Row'] = _paper_row_label(e)
        meta['Paper Parameters'] = int(round(e.row.params * 1e6))
        meta['Paper FLOPs'] = int(round(e.row.madds * TABLE_SPECS[e.row.table].madds_unit))
        out['Results'] = [{'Task': e.spec.task, 'Dataset': e.spec.dataset,
                           'Metrics': {f'{e.spec.metric} (paper)': e.row.accuracy}}]
    else:
        out['Results'] = None  # no paper number for this config (and no mmv3 weights yet)
    out['Paper'] = {'Title': PAPER_TITLE, 'URL': PAPER_URL}
    out['Code'] = e.code
    return out


def collection_dict(folder: str, entries: Sequence[Entry]) -> dict:
    spec = FOLDERS[folder]
    arch = []
    for e in entries:
        arch += [a for a in e.architecture if a not in arch]
    code = Counter(e.code for e in entries).most_common(1)[0][0]
    import mmv3
    return {'Name': spec.collection,
            'Metadata': {'Training Data': [spec.dataset], 'Architecture': arch},
            'Paper': {'Title': PAPER_TITLE, 'URL': PAPER_URL},
            'README': f'configs/{folder}/README.md',
            'Code': {'URL': code, 'Version': f'v{mmv3.__version__}'}}


def _dump(data) -> str:
    # ASCII (the dagger of Table 6's row names is escaped): mim / model-index read these files with the locale's
    # encoding.
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=120, default_flow_style=False)


def index_files(entries: Sequence[Entry]) -> Dict[str, str]:
    """``{relative path: text}`` of ``model-index.yml`` and ``configs/<folder>/metafile.yml``."""
    header = '# Generated by `python tools/reproduce_tables.py --model-index` from mmv3/analysis/paper_tables.py\n' \
             '# and the counted configs (mmv3.analysis.model_index). Do not edit: regenerate.\n'
    files = {}
    folders = [f for f in FOLDERS if any(e.folder == f for e in entries)]
    for folder in folders:
        es = ordered([e for e in entries if e.folder == folder])
        files[f'configs/{folder}/metafile.yml'] = header + _dump(
            {'Collections': [collection_dict(folder, es)], 'Models': [model_dict(e) for e in es]})
    files['model-index.yml'] = header + _dump({'Import': [f'configs/{f}/metafile.yml' for f in folders]})
    return files


# ------------------------------------------------------------------------------------------ READMEs
def _fmt(x: float, digits: int) -> str:
    return f'{x:.{digits}f}'


def results_table(folder: str, entries: Sequence[Entry]) -> str:
    spec = FOLDERS[folder]
    tspec = TABLE_SPECS[spec.table]
    unit = tspec.madds_label.split('(')[-1].rstrip(')')
    mdig = 1 if unit == 'M' else 2
    acc = tspec.accuracy_label.replace(' (%)', '')
    lines = [f'| Model | Paper row | Input | Params (M) | paper | MAdds ({unit}) | paper | {acc} (paper) | Config |',
             '| :-- | :-- | :-: | --: | --: | --: | --: | --: | :-: |']
    for e in entries:
        h, w = e.input_hw
        madds = e.madds / tspec.madds_unit
        params, madds_s = _fmt(e.params / 1e6, 3), _fmt(madds, mdig)
        if e.row is not None:
            row = e.row.name.replace('|', '\\|') + (f' (= `{e.same_as.split("/")[-1][:-3]}`)' if e.same_as else '')
            pp, pm, pa = f'{e.row.params:g}', f'{e.row.madds:g}', f'{e.row.accuracy:g}'
            params += f' ({(e.params / 1e6 / e.row.params - 1) * 100:+.1f}%)'
            madds_s += f' ({(madds / e.row.madds - 1) * 100:+.1f}%)'
        else:
            row, pp, pm, pa = '-', '-', '-', '-'
            from mmv3.converters.weights import CONVERTED
            conv = CONVERTED.get(e.name)
            if conv is not None:  # not a paper row: the source's number goes in the row column, marked
                metric, value = next(iter(conv['metrics'].items()))
                row = (f"{conv.get('row', 'no row (variant)')}; converted weights: {metric} {value:g} on "
                       f"{conv['dataset']}")
        lines.append(f'| `{e.name}` | {row} | {h}x{w} | {params} | {pp} | {madds_s} | {pm} | {pa} | '
                     f'[config]({osp.basename(e.config)}) |')
    return '\n'.join(lines)


def _block(name: str, body: str) -> str:
    return f'{GEN_BEGIN.format(name=name)}\n{body.rstrip()}\n{GEN_END.format(name=name)}\n'


def readme_blocks(folder: str, entries: Sequence[Entry]) -> Dict[str, str]:
    """The generated blocks of ``configs/<folder>/README.md``: ``header`` (title, abstract, table), ``citation``."""
    spec = FOLDERS[folder]
    tspec = TABLE_SPECS[spec.table]
    h, w = tspec.input_hw
    opts = ''.join(f', `{k}={v}`' for k, v in tspec.cfg_options.items())
    crop = ' (classification configs: at their own test crop)' if folder == 'cls' else ''
    n_rows = sum(1 for e in entries if e.row is not None)
    acc = tspec.accuracy_label.split(' (')[0]
    lines = [
        f'# {spec.title} (Table {spec.table} of *{PAPER_TITLE}*)', '',
        f'> [{PAPER_TITLE}]({PAPER_URL}) (Howard et al., ICCV 2019)', '',
        '<!-- [ALGORITHM] -->', '',
        '## Abstract', '', ABSTRACT, '',
        '## Configs and results', '',
        spec.summary, '',
        f'Params and MAdds are **counted** on each config by `mmv3.analysis.count_model` in the paper\'s '
        f'convention (conv/linear multiply-adds) at 1x3x{h}x{w}{opts}{crop}, with the relative difference to '
        f'the paper in brackets. The *paper* columns and the {acc} column are Table {spec.table}\'s numbers, '
        f'**not reproduced** here (no mmv3 checkpoints yet). {n_rows} of the {len(entries)} configs stand for '
        'a paper row; the others have no paper result.', '',
        results_table(folder, entries), '',
    ]
    notes = [f'`{e.name}`: {n}' for e in entries for n in e.notes]
    if notes:
        lines += ['Notes (from `paper_tables.py`): ' + '; '.join(notes) + '.', '']
    lines += ['The same data is in [metafile.yml](metafile.yml) (`mim search mmv3`); regenerate both with '
              '`python tools/reproduce_tables.py --model-index --readmes`.']
    citation = '\n'.join(['## Citation', '', '```bibtex', CITATION, '```'])
    return {'header': '\n'.join(lines), 'citation': citation}


def merge_readme(blocks: Dict[str, str], existing: Optional[str]) -> str:
    """Replace the generated blocks of ``existing`` (hand-written text outside them is kept as it is).

    Without an existing README (or one without markers): header block, the existing text, citation block.
    """
    if existing and _BLOCK.search(existing):
        seen = set()

        def sub(m):
            seen.add(m.group(1))
            if m.group(1) not in blocks:
                raise ValueError(f'README has an unknown generated block {m.group(1)!r}')
            return _block(m.group(1), blocks[m.group(1)])

        text = _BLOCK.sub(sub, existing)
        if seen != set(blocks):
            raise ValueError(f'README generated blocks {sorted(seen)} != {sorted(blocks)}')
        return text
    middle = (existing or '').strip()
    return _block('header', blocks['header']) + ('\n' + middle + '\n' if middle else '') + '\n' + \
        _block('citation', blocks['citation'])


def readme_files(entries: Sequence[Entry], root: str) -> Dict[str, str]:
    """``{relative path: text}`` of ``configs/<folder>/README.md`` (hand-written parts read from ``root``)."""
    files = {}
    for folder in FOLDERS:
        es = ordered([e for e in entries if e.folder == folder])
        if not es:
            continue
        rel = f'configs/{folder}/README.md'
        path = osp.join(root, rel)
        existing = open(path, encoding='utf-8').read() if osp.isfile(path) else None
        files[rel] = merge_readme(readme_blocks(folder, es), existing)
    return files


# ------------------------------------------------------------------------------------------ files
def generate(root: str, model_index: bool = True, readmes: bool = True, device: str = 'meta',
             progress: Optional[Callable[[str], None]] = None) -> Dict[str, str]:
    """``{relative path: text}`` of every generated file (all configs counted)."""
    entries = collect(root, device=device, progress=progress)
    files = {}
    if model_index:
        files.update(index_files(entries))
    if readmes:
        files.update(readme_files(entries, root))
    return files


def write_files(files: Dict[str, str], out_dir: str) -> List[str]:
    written = []
    for rel, text in files.items():
        path = osp.join(out_dir, rel)
        os.makedirs(osp.dirname(path) or '.', exist_ok=True)
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            f.write(text)
        written.append(path)
    return written


def stale_files(files: Dict[str, str], root: str) -> List[str]:
    """The files of ``files`` whose copy under ``root`` is missing or differs."""
    out = []
    for rel, text in files.items():
        path = osp.join(root, rel)
        if not osp.isfile(path) or open(path, encoding='utf-8').read() != text:
            out.append(rel)
    return out


__all__ = ['FOLDERS', 'Entry', 'list_configs', 'collect', 'index_files', 'readme_files', 'readme_blocks',
           'merge_readme', 'generate', 'write_files', 'stale_files']
