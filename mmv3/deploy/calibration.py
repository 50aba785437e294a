"""Calibration and evaluation images for reduced-precision exports: any image folder, preprocessed
exactly as the exported model expects (the config's mean / std and BGR->RGB; classification:
short side to H / 0.875 and centre crop, the ImageNet evaluation convention), with their labels
(Cityscapes ``labelTrainIds`` maps, mmpretrain ``meta/<split>.txt`` class indices) when found.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

IMG_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.JPEG', '.JPG', '.PNG')


def list_images(folder: str, limit: Optional[int] = None, skip_labels: bool = True) -> List[str]:
    """Image files under ``folder`` (recursive, sorted). Cityscapes label maps (``*_gtFine_*``) are skipped.

    Args:
        folder (str): A dataset folder in any layout (ImageNet class folders, Cityscapes
            ``leftImg8bit/<split>/<city>/``, a flat folder, ...).
        limit (int, optional): Keep at most this many (spread evenly over the sorted list so every
            class folder contributes). Default: all.
        skip_labels (bool): Skip files whose name contains ``_gtFine_`` / ``_gtCoarse_``. Default: True.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(
            f'image folder not found: {folder!r}; generate the sample data with '
            f'`python tools/misc/make_sample_data.py` or point --calib-dir / --eval-dir at a dataset')
    files = []
    for root, _, names in os.walk(folder, followlinks=True):
        for n in names:
            if n.endswith(IMG_EXTS) and not (skip_labels and ('_gtFine_' in n or '_gtCoarse_' in n)):
                files.append(osp.join(root, n))
    files.sort()
    if not files:
        raise FileNotFoundError(f'no images ({", ".join(IMG_EXTS[:5])}) found under {folder!r}')
    if limit is not None and len(files) > limit:
        idx = np.linspace(0, len(files) - 1, limit).round().astype(int)
        files = [files[i] for i in idx]
    return files


def preprocess_image(path: str, shape: Tuple[int, int], mean: Sequence[float], std: Sequence[float],
                     to_rgb: bool, task: str = 'cls') -> np.ndarray:
    """Read one image into the exported model's input: ``float32 (1, 3, H, W)``.

    Classification: resize the short side to ``H / 0.875`` and centre-crop ``(H, W)`` (the ImageNet
    evaluation convention). Segmentation / detection: resize to ``(H, W)``.
    """
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)  # BGR, like mmcv's LoadImageFromFile
    if img is None:
        raise ValueError(f'cannot read image {path!r}')
    h, w = shape
    if task == 'cls':
        short = int(round(h / 0.875))
        ih, iw = img.shape[:2]
        scale = short / min(ih, iw)
        img = cv2.resize(img, (max(w, int(round(iw * scale))), max(h, int(round(ih * scale)))),
                         interpolation=cv2.INTER_LINEAR)
        top = (img.shape[0] - h) // 2
        left = (img.shape[1] - w) // 2
        img = img[top:top + h, left:left + w]
    else:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    if to_rgb:
        img = img[..., ::-1]
    img = (img.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def load_label(image_path: str, shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """The Cityscapes ``labelTrainIds`` map of an image (nearest-resized to ``shape``), if it exists."""
    import cv2
    if '_leftImg8bit' not in image_path:
        return None
    cand = image_path.replace('leftImg8bit', 'gtFine', 1).replace('_leftImg8bit', '_gtFine_labelTrainIds')
    if not osp.isfile(cand):
        return None
    lab = cv2.imread(cand, cv2.IMREAD_UNCHANGED)
    if lab is None:
        return None
    return cv2.resize(lab, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


class ImageFolderReader:
    """ONNX Runtime ``CalibrationDataReader`` over preprocessed images.

    Args:
        arrays (list[np.ndarray]): Preprocessed inputs (see :func:`preprocess_image`).
        input_name (str): The ONNX model's input name. Default: ``'input'``.
    """

    def __init__(self, arrays: Sequence[np.ndarray], input_name: str = 'input'):
        self.arrays = list(arrays)
        self.input_name = input_name
        self._it = iter(self.arrays)

    def get_next(self):
        x = next(self._it, None)
        return None if x is None else {self.input_name: x}

    def rewind(self):
        self._it = iter(self.arrays)


def check_image_folders(**folders: Optional[str]) -> None:
    """Refuse in one line (:class:`mmv3.apis.ToolError`, naming the flag) a folder that is missing or holds no
    images, before a tool writes anything: ``check_image_folders(calib_dir=..., eval_dir=...)`` (None: skipped)."""
    from mmv3.apis import ToolError
    for key, folder in folders.items():
        if folder is None:
            continue
        try:
            list_images(folder, 1)
        except FileNotFoundError as e:
            flag = '--' + key.replace('_', '-')
            raise ToolError(f'{flag}: {e}; pass a folder with images (any layout, searched recursively)') from None


def read_eval_images(prep, eval_dir: str, calib_dir: str, calib_paths: Sequence[str], limit: Optional[int] = None):
    """:func:`read_images` of ``eval_dir``, leaving out the calibration images when it is ``calib_dir``."""
    same = osp.abspath(eval_dir) == osp.abspath(calib_dir)
    return read_images(prep, eval_dir, limit, calib_paths if same else ())


def read_images(prep, folder: str, limit: Optional[int] = None, offset_names: Sequence[str] = ()):
    """Preprocessed arrays (and seg labels) for the images in ``folder``.

    Returns:
        tuple: ``(paths, arrays, labels)``; ``labels`` holds a label map per image or None.
    """
    from mmv3.apis import preprocess_params
    pre = preprocess_params(prep.model)
    all_paths = list_images(folder, None)
    skip = set(offset_names)
    paths = [p for p in all_paths if p not in skip] or all_paths  # tiny folders: reuse them all
    if limit is not None and len(paths) > limit:
        idx = np.linspace(0, len(paths) - 1, limit).round().astype(int)
        paths = [paths[i] for i in idx]
    arrays = [preprocess_image(p, prep.shape, pre['mean'], pre['std'], pre['to_rgb'], prep.task) for p in paths]
    if prep.task == 'seg':
        labels = [load_label(p, prep.shape) for p in paths]
    elif prep.task == 'cls':
        lookup = imagenet_label_lookup(folder)
        labels = [lookup.get(osp.abspath(p)) for p in paths]
    else:
        labels = [None] * len(paths)
    return paths, arrays, labels


def imagenet_label_lookup(folder: str) -> dict:
    """``{absolute image path: class index}`` from mmpretrain ``meta/<split>.txt`` files found at
    ``folder`` or its parent (ImageNet layout); empty when there are none."""
    out = {}
    for root in (folder, osp.dirname(osp.abspath(folder))):
        for split in ('train', 'val', 'test'):
            ann = osp.join(root, 'meta', f'{split}.txt')
            if not osp.isfile(ann):
                continue
            with open(ann) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[1].lstrip('-').isdigit():
                        out[osp.abspath(osp.join(root, split, parts[0]))] = int(parts[1])
    return out
