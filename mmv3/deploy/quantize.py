"""8-bit post-training static quantization with ONNX Runtime, calibrated on an image folder.

Recipe (what :func:`quantize_onnx` does):

1. ``quant_pre_process``: ONNX Runtime's shape inference + graph optimisation of the float model.
2. ``quantize_static`` with a :class:`ImageFolderReader` over the calibration images (preprocessed
   exactly as the exported model expects: the config's mean/std and BGR->RGB), MinMax calibration,
   **per-channel** int8 weights (symmetric) and uint8 activations (asymmetric) — U8S8, the fast path of
   ONNX Runtime's x86 kernels (VNNI) — in **QDQ** format (QuantizeLinear/DequantizeLinear pairs that
   ONNX Runtime fuses into ``QLinearConv`` & co. at session load) or ``QOperator`` format.

Agreement with the float model is measured on a (disjoint) set of images: top-1 agreement for
classification, mIoU of the int8 prediction against the float prediction for segmentation (plus mIoU
of each against ground truth when label maps are found), and output error for detection.
"""
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

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


def quantize_onnx(float_path: str, out_path: str, calib_arrays: Sequence[np.ndarray], per_channel: bool = True,
                  quant_format: str = 'QDQ', activation_type: str = 'uint8', calibrate_method: str = 'minmax',
                  input_name: str = 'input') -> str:
    """Post-training static quantization of ``float_path`` into ``out_path``.

    Args:
        float_path (str): Float ONNX model (BN already folded by the exporter).
        out_path (str): Where to write the int8 model.
        calib_arrays (list[np.ndarray]): Calibration inputs.
        per_channel (bool): Per-output-channel weight scales. Default: True.
        quant_format (str): ``'QDQ'`` or ``'QOperator'``. Default: ``'QDQ'``.
        activation_type (str): ``'uint8'`` (U8S8, fast on x86) or ``'int8'`` (S8S8). Default: ``'uint8'``.
        calibrate_method (str): ``'minmax'``, ``'entropy'`` or ``'percentile'``. Default: ``'minmax'``.

    Returns:
        str: ``out_path``.
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    formats = {'qdq': QuantFormat.QDQ, 'qoperator': QuantFormat.QOperator}
    acts = {'uint8': QuantType.QUInt8, 'int8': QuantType.QInt8}
    methods = {'minmax': CalibrationMethod.MinMax, 'entropy': CalibrationMethod.Entropy,
               'percentile': CalibrationMethod.Percentile}
    for name, value, allowed in (('quant_format', quant_format, formats), ('activation_type', activation_type, acts),
                                 ('calibrate_method', calibrate_method, methods)):
        if value.lower() not in allowed:
            raise ValueError(f'{name} must be one of {sorted(allowed)}, got {value!r}')
    if not calib_arrays:
        raise ValueError('no calibration images: pass a folder with images (--calib-dir)')

    class _Reader(ImageFolderReader, CalibrationDataReader):
        pass

    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    pre_path = out_path[:-len('.onnx')] + '.preprocessed.onnx' if out_path.endswith('.onnx') else out_path + '.pre'
    quant_pre_process(float_path, pre_path, skip_symbolic_shape=False)
    try:
        quantize_static(
            pre_path, out_path, _Reader(calib_arrays, input_name), quant_format=formats[quant_format.lower()],
            per_channel=per_channel, activation_type=acts[activation_type.lower()], weight_type=QuantType.QInt8,
            calibrate_method=methods[calibrate_method.lower()])
    finally:
        for p in glob.glob(pre_path + '*'):
            os.remove(p)
    return out_path


def confusion_miou(pred: np.ndarray, ref: np.ndarray, num_classes: int, ignore_index: int = 255) -> float:
    """mIoU of ``pred`` against ``ref`` (label maps), over classes present in either."""
    mask = ref != ignore_index
    p = pred[mask].astype(np.int64)
    r = ref[mask].astype(np.int64)
    valid = (r >= 0) & (r < num_classes) & (p >= 0) & (p < num_classes)
    hist = np.bincount(num_classes * r[valid] + p[valid], minlength=num_classes**2).reshape(num_classes, num_classes)
    inter = np.diag(hist)
    union = hist.sum(0) + hist.sum(1) - inter
    present = union > 0
    if not present.any():
        return float('nan')
    return float((inter[present] / union[present]).mean())


def agreement(task: str, float_outs: List[List[np.ndarray]], int8_outs: List[List[np.ndarray]],
              labels: Optional[List[Optional[np.ndarray]]] = None) -> Dict[str, float]:
    """Agreement of the int8 model with the float model over a set of images.

    Args:
        task (str): ``'cls'``, ``'seg'`` or ``'det'``.
        float_outs, int8_outs (list): Per image, the list of model outputs.
        labels (list, optional): Per image, the class index (cls) or label map (seg), or None.

    Returns:
        dict: cls: ``top1_agreement`` (fraction), ``top5_overlap`` (and ``top1_float`` / ``top1_int8``
        accuracy with labels); seg: ``miou_vs_float``,
        ``pixel_agreement`` (and ``miou_float_gt`` / ``miou_int8_gt`` with labels); det:
        ``max_abs_diff``, ``mean_abs_diff``, ``score_corr``. Always ``n`` (images).
    """
    n = len(float_outs)
    if n == 0 or n != len(int8_outs):
        raise ValueError('agreement needs the same, non-zero number of float and int8 outputs')
    if task == 'cls':
        f = np.concatenate([o[0] for o in float_outs])
        q = np.concatenate([o[0] for o in int8_outs])
        top1 = float((f.argmax(1) == q.argmax(1)).mean())
        k = min(5, f.shape[1])
        f5 = np.argsort(-f, 1)[:, :k]
        q5 = np.argsort(-q, 1)[:, :k]
        overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(f5, q5)]))
        res = dict(top1_agreement=top1, top5_overlap=overlap, n=n)
        if labels and all(lab is not None for lab in labels):
            gt = np.asarray(labels)
            res['top1_float'] = float((f.argmax(1) == gt).mean())
            res['top1_int8'] = float((q.argmax(1) == gt).mean())
        return res
    if task == 'seg':
        num_classes = float_outs[0][0].shape[1]
        fp = np.concatenate([o[0].argmax(1).ravel() for o in float_outs])
        qp = np.concatenate([o[0].argmax(1).ravel() for o in int8_outs])
        res = dict(miou_vs_float=confusion_miou(qp, fp, num_classes), pixel_agreement=float((fp == qp).mean()), n=n)
        if labels and all(lab is not None for lab in labels):
            gt = np.concatenate([lab.ravel() for lab in labels])
            res['miou_float_gt'] = confusion_miou(fp, gt, num_classes)
            res['miou_int8_gt'] = confusion_miou(qp, gt, num_classes)
        return res
    fa = np.concatenate([x.ravel() for o in float_outs for x in o])
    qa = np.concatenate([x.ravel() for o in int8_outs for x in o])
    return dict(max_abs_diff=float(np.abs(fa - qa).max()), mean_abs_diff=float(np.abs(fa - qa).mean()),
                score_corr=float(np.corrcoef(fa, qa)[0, 1]), n=n)
