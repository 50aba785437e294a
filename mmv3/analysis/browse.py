"""Augmented training (or val) samples with their labels drawn, by the toolbox's own visualizer
(what ``tools/analysis_tools/browse_dataset.py`` runs; as mmseg's / mmdet's / mmpretrain's
``browse_dataset.py``: the dataset of the config, its pipeline applied, gt drawn, no model).
"""
import os
import os.path as osp
from typing import List, Optional

from mmv3.apis import ToolError, check_dataset_roots, check_registered_types, setup_scope, task_of

PHASES = ('train', 'val', 'test')


def _visualizer(cfg, scope: str):
    from mmengine.registry import VISUALIZERS
    from mmengine.visualization import Visualizer

    from mmv3.apis.runner import VIS_DEFAULTS
    vis_cfg = cfg.get('visualizer', None)
    if not isinstance(vis_cfg, dict):
        vis_cfg = dict(VIS_DEFAULTS[scope][1])
    vis_cfg = dict(vis_cfg)
    vis_cfg.pop('vis_backends', None)  # images go to --output-dir, nothing to a save_dir
    vis_cfg.pop('save_dir', None)
    vis_cfg['name'] = f'mmv3_browse_{len(Visualizer._instance_dict)}'  # ManagerMixin: one per name
    return VISUALIZERS.build(vis_cfg)


def browse_dataset(cfg, output_dir: Optional[str], phase: str = 'train', show_number: Optional[int] = None,
                   show: bool = False, wait_time: float = 2.) -> List[str]:
    """Draw ``show_number`` samples of the ``phase`` dataset (pipeline applied) with their labels.

    Args:
        cfg (mmengine.Config): A loaded config (:func:`mmv3.apis.load_config`).
        output_dir (str, optional): Where the images are written (``<index>_<image name>``).
        phase (str): ``'train'``, ``'val'`` or ``'test'``: which dataloader's dataset. Default ``'train'``.
        show_number (int, optional): How many samples; ``None``: all of them.
        show (bool): Also show each image in a window.
        wait_time (float): Seconds each shown image stays.

    Returns:
        list[str]: The written files.
    """
    if phase not in PHASES:
        raise ToolError(f'--phase must be one of {", ".join(PHASES)}, got {phase!r}')
    loader = cfg.get(f'{phase}_dataloader', None)
    if not isinstance(loader, dict) or not isinstance(loader.get('dataset'), dict):
        raise ToolError(f'the config has no {phase}_dataloader.dataset: use --phase with one of '
                        f'{", ".join(p for p in PHASES if isinstance(cfg.get(f"{p}_dataloader"), dict))}')
    if show_number is not None and show_number < 1:
        raise ToolError(f'--show-number must be >= 1, got {show_number}')
    if output_dir is None and not show:
        raise ToolError('nothing to do: give --output-dir DIR (or drop --not-show)')
    scope = setup_scope(cfg)
    task = task_of(cfg)
    check_dataset_roots(cfg, (f'{phase}_dataloader', ))
    check_registered_types(cfg, (phase, ))

    from mmengine.registry import DATASETS
    dataset = DATASETS.build(loader['dataset'])
    visualizer = _visualizer(cfg, scope)
    visualizer.dataset_meta = dataset.metainfo
    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
    count = len(dataset) if show_number is None else min(show_number, len(dataset))
    written = []
    for i in range(count):
        item = dataset[i]
        sample = item['data_samples']
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1].copy()  # packed BGR -> RGB
        name = f'{i:04d}_{osp.splitext(osp.basename(sample.img_path))[0]}.png'
        out_file = osp.join(output_dir, name) if output_dir is not None else None
        if task == 'cls':
            visualizer.visualize_cls(image, sample, draw_gt=True, draw_pred=False, draw_score=False,
                                     show=show, wait_time=wait_time, out_file=out_file, name=name)
        else:
            sample = sample.numpy()
            if task == 'det':  # the visualizer draws plain tensors, not mmdet's box type
                from mmdet.structures.bbox import BaseBoxes
                boxes = sample.gt_instances.get('bboxes', None)
                if isinstance(boxes, BaseBoxes):
                    sample.gt_instances.bboxes = boxes.tensor
            visualizer.add_datasample(name, image, sample, draw_gt=True, draw_pred=False, show=show,
                                      wait_time=wait_time, out_file=out_file)
        if out_file is not None:
            written.append(out_file)
    return written
