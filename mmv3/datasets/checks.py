"""Fail-fast checks of a config's datasets before a runner is built.

Without them, a missing or empty split surfaces late and obscurely: mmengine's ``BaseDataset``
serialises an empty ``data_list`` with ``np.concatenate([])`` (``ValueError: need at least one
array to concatenate``), ``os.scandir`` raises on a missing folder from inside the dataloader
build, pycocotools reports a missing JSON as a bare ``FileNotFoundError``. ``check_data_cfg``
inspects the files on disk (without loading any annotation file larger than 20 MB) and raises
:class:`DatasetNotReadyError` with one line naming the config field, the path, and the command
that prepares it.

Usage (what ``tools/train.py`` / ``tools/test.py`` should call before ``Runner.from_cfg``)::

    from mmv3.datasets import check_data_cfg
    check_data_cfg(cfg, splits=('train', 'val'))   # tools/test.py: splits=('test',)
"""
import inspect
import json
import os
import os.path as osp

__all__ = ['DatasetNotReadyError', 'check_data_cfg', 'check_dataset_cfg', 'prepare_hint']

_JSON_PARSE_LIMIT = 20 * 1024 * 1024
_WRAPPERS = ('RepeatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset', 'ConcatDataset')


class DatasetNotReadyError(FileNotFoundError):
    """A dataset split in the config is missing or empty on disk."""


def prepare_hint(dataset_type, data_root):
    """The command(s) that prepare ``data_root`` for ``dataset_type`` (one line)."""
    root = data_root.rstrip('/') if data_root else '<data_root>'
    kind = (dataset_type or '').lower()
    for name, real in (('cityscapes', f'python tools/dataset_converters/cityscapes.py {root} (real Cityscapes)'),
                       ('coco', f'download COCO 2017 into {root} (see data/README.md)'),
                       ('imagenet', f'extract ImageNet-1k into {root} with meta/train.txt, meta/val.txt '
                                    '(see data/README.md)')):
        if name in kind:
            return f'{real}, or for the sample: python tools/misc/make_sample_data.py {name} --out {root}'
    return 'see data/README.md (python tools/misc/make_sample_data.py --help writes samples)'


def _fail(where, what, dataset_type, data_root):
    raise DatasetNotReadyError(f'{where}: {what}. Prepare it with: {prepare_hint(dataset_type, data_root)}')


def _join(root, path):
    if not path:
        return root
    return path if (osp.isabs(path) or not root) else osp.join(root, path)


def _resolve(dataset_type, scope=None):
    """The dataset class registered as ``dataset_type`` (in ``scope`` or the default scope), or None."""
    if not isinstance(dataset_type, str):
        return dataset_type if inspect.isclass(dataset_type) else None
    try:
        from mmengine.registry import DATASETS
        with DATASETS.switch_scope_and_registry(scope) as registry:
            return registry.get(dataset_type)
    except Exception:  # unknown scope / type: the runner reports that itself
        return None


def _default_arg(cls, name):
    """Default of ``__init__`` argument ``name`` of dataset class ``cls`` (None if unknown)."""
    for klass in getattr(cls, '__mro__', ()):
        try:
            param = inspect.signature(klass.__init__).parameters.get(name)
        except (TypeError, ValueError):
            continue
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return None


def _first_file(directory, suffixes, ignore_case):
    """Path (relative to ``directory``) of a file ending with one of ``suffixes``, or None.

    mmseg matches ``img_suffix`` case-sensitively; mmpretrain lower-cases file names before
    comparing with ``extensions``.
    """
    for dirpath, dirnames, files in os.walk(directory, followlinks=True):
        dirnames.sort()
        for name in sorted(files):
            if not suffixes or (name.lower() if ignore_case else name).endswith(suffixes):
                return osp.relpath(osp.join(dirpath, name), directory)
    return None


def _check_ann_file(where, path, dataset_type, data_root):
    if not osp.isfile(path):
        _fail(where, f'ann_file {path} does not exist', dataset_type, data_root)
    size = osp.getsize(path)
    if size == 0:
        _fail(where, f'ann_file {path} is empty', dataset_type, data_root)
    if path.endswith('.json') and size <= _JSON_PARSE_LIMIT:
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError as e:
            raise DatasetNotReadyError(f'{where}: ann_file {path} is not valid JSON ({e})') from None
        if isinstance(data, dict) and 'images' in data and not data['images']:
            _fail(where, f'ann_file {path} lists no images ("images": [])', dataset_type, data_root)
    elif path.endswith('.txt'):
        with open(path) as f:
            if not any(line.strip() for line in f):
                _fail(where, f'ann_file {path} has no entries', dataset_type, data_root)


def check_dataset_cfg(dataset_cfg, where='dataset', scope=None):
    """Check one dataset config (wrappers are followed) against the files on disk.

    Checks: ``data_root`` exists; ``ann_file`` (relative to ``data_root``) exists, is not
    empty, and (JSON up to 20 MB) lists at least one image; without ``ann_file``, the image
    folder of ``data_prefix`` exists and holds at least one image with the dataset's suffix
    (``img_suffix`` / ``extensions``, from the config or the class default); a
    ``seg_map_path`` folder exists and holds the label map of the first image (so an
    unconverted Cityscapes without ``*_labelTrainIds.png`` is caught). Remote paths
    (``s3://`` ...) are not checked.

    Args:
        dataset_cfg (dict): The ``dataset=`` dict of a dataloader.
        where (str): Name of the config field, for the message.
        scope (str, optional): Registry scope to resolve ``type`` in (e.g. ``'mmseg'``);
            defaults to the current default scope.

    Raises:
        DatasetNotReadyError: one line naming ``where``, the path and the prepare command.
    """
    if dataset_cfg is None:
        return
    dtype = dataset_cfg.get('type', '')
    if (isinstance(dtype, str) and dtype.split('.')[-1] in _WRAPPERS) or 'datasets' in dataset_cfg:
        if 'datasets' in dataset_cfg:
            for i, sub in enumerate(dataset_cfg['datasets']):
                check_dataset_cfg(sub, f'{where}.datasets[{i}]', scope)
        if 'dataset' in dataset_cfg:
            check_dataset_cfg(dataset_cfg['dataset'], f'{where}.dataset', scope)
        return
    data_root = dataset_cfg.get('data_root', '') or ''
    if '://' in str(data_root):
        return
    type_name = dtype if isinstance(dtype, str) else getattr(dtype, '__name__', '')
    if data_root and not osp.isdir(data_root):
        _fail(where, f'data_root {data_root} does not exist', type_name, data_root)

    ann_file = dataset_cfg.get('ann_file', '') or ''
    prefix = dataset_cfg.get('data_prefix', '') or ''
    split = dataset_cfg.get('split', '') or ''
    if split and not prefix:  # mmpretrain ImageNet-style `split=`
        prefix = split
        if not ann_file and osp.isfile(osp.join(data_root, 'meta', f'{split}.txt')):
            ann_file = osp.join('meta', f'{split}.txt')
    if ann_file and '://' not in ann_file:
        _check_ann_file(where, _join(data_root, ann_file), type_name, data_root)
    first = suffix = None
    if isinstance(prefix, dict):
        img_dir = prefix.get('img_path', prefix.get('img', None))
        seg_dir = prefix.get('seg_map_path', None)
    else:
        img_dir, seg_dir = prefix, None
    if img_dir is not None and '://' not in str(img_dir):
        img_dir = _join(data_root, img_dir)
        if img_dir and not osp.isdir(img_dir):
            _fail(where, f'image folder {img_dir} (data_prefix) does not exist', type_name, data_root)
        if img_dir and not ann_file:
            cls = _resolve(dtype, scope)
            suffix = dataset_cfg.get('img_suffix', None) or _default_arg(cls, 'img_suffix')
            exts = dataset_cfg.get('extensions', None) or _default_arg(cls, 'extensions') \
                or getattr(cls, 'IMG_EXTENSIONS', None)
            suffixes = (suffix, ) if isinstance(suffix, str) else tuple(e.lower() for e in exts) if exts else ()
            first = _first_file(img_dir, suffixes, ignore_case=not isinstance(suffix, str))
            if first is None:
                shown = ' or '.join(f'*{s}' for s in suffixes) if suffixes else 'files'
                _fail(where, f'the split is empty: {img_dir} holds no {shown}', type_name, data_root)
    if seg_dir is not None and '://' not in str(seg_dir):
        seg_dir = _join(data_root, seg_dir)
        if seg_dir and not osp.isdir(seg_dir):
            _fail(where, f'label folder {seg_dir} (data_prefix.seg_map_path) does not exist', type_name, data_root)
        seg_suffix = dataset_cfg.get('seg_map_suffix', None) or _default_arg(_resolve(dtype, scope), 'seg_map_suffix')
        if (seg_dir and first and isinstance(suffix, str) and isinstance(seg_suffix, str)
                and first.endswith(suffix)):
            seg_map = osp.join(seg_dir, first[:-len(suffix)] + seg_suffix)
            if not osp.isfile(seg_map):  # e.g. Cityscapes downloaded but not converted to train ids
                _fail(where, f'label map {seg_map} of image {osp.join(img_dir, first)} does not exist',
                      type_name, data_root)


def check_data_cfg(cfg, splits=('train', 'val', 'test')):
    """Check the datasets of a full config (``{split}_dataloader`` and ``{split}_evaluator``).

    Call it after the config is loaded, before building the runner. Dataset types are resolved
    in the config's ``default_scope``.

    Args:
        cfg (mmengine.Config | dict): The config.
        splits (Sequence[str]): Which of ``'train'``, ``'val'``, ``'test'`` to check; a split
            whose dataloader is absent or ``None`` is skipped.

    Raises:
        DatasetNotReadyError: for the first problem found.
    """
    for split in splits:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader:
            continue
        dataset = loader.get('dataset', None)
        check_dataset_cfg(dataset, f'{split}_dataloader.dataset', cfg.get('default_scope', None))
        evaluators = cfg.get(f'{split}_evaluator', None) if split != 'train' else None
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for i, ev in enumerate(evaluators or []):
            ann = ev.get('ann_file', None) if isinstance(ev, dict) else None
            if ann and '://' not in ann and not osp.isfile(ann):
                root = (dataset or {}).get('data_root', '') if isinstance(dataset, dict) else ''
                _fail(f'{split}_evaluator', f'ann_file {ann} does not exist',
                      (dataset or {}).get('type', '') if isinstance(dataset, dict) else '', root)
