"""8-bit post-training static quantization with ONNX Runtime, calibrated on an image folder.

Recipe (what :func:`quantize_onnx` does):

1. ``quant_pre_process``: ONNX Runtime's shape inference + graph optimisation of the float model.
2. ``quantize_static`` with a :class:`ImageFolderReader` over the calibration images (preprocessed
   exactly as the exported model expects: the config's mean/std and BGR->RGB), MinMax calibration,
   **per-channel** int8 weights (symmetric) and uint8 activations (asymmetric) — U8S8, the fast path of
   ONNX Runtime's x86 kernels (VNNI) — in **QOperator** format (explicit ``QLinearConv``,
   ``QLinearMul``, ...) or ``QDQ`` format (QuantizeLinear/DequantizeLinear pairs that ONNX Runtime
   fuses at session load). The 16-channel stem stays in float (``float_stem``).
   The final ``Resize`` of a segmentation model stays in float too (:func:`output_resize_nodes`).
3. :func:`hard_sigmoid_to_clip` (QOperator): every hard-sigmoid (h-swish's gate, the SE gates), which
   ONNX Runtime can only run in float between a dequantize and a quantize, becomes one integer
   ``Clip`` on the producer's uint8 output.

:func:`mmv3.deploy.pipeline.quantize_model` runs this on a copy of the model whose bneck widths are
padded to multiples of 16 (:func:`mmv3.deploy.fuse.pad_channels`), the shape of ONNX Runtime's fast
uint8 depthwise kernels.

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


def stem_nodes(model, max_channels: int = 16) -> List[str]:
    """Names of the stem's nodes of ``model`` (an ``onnx.ModelProto`` whose nodes all have names).

    The stem is every node before the first node with a 4-D output of more than ``max_channels``
    channels: MobileNetV3's first conv (16 channels, h-swish) and first bneck (16 channels, ReLU),
    both at 1/2 input resolution. Measured on V3-Large at 224 (one thread, ORT 1.32): uint8 takes
    548 us for the 3->16 stem conv and 258 us for the 16-channel 112x112 depthwise conv, float NCHWc
    274 us and 114 us, so int8 there is slower than float.
    """
    from onnx import shape_inference
    inferred = shape_inference.infer_shapes(model)
    channels = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField('dim_value'):
            channels[vi.name] = dims[1].dim_value
    names = []
    for node in model.graph.node:
        if any(channels.get(o, 0) > max_channels for o in node.output):
            break
        names.append(node.name)
    return names


def output_resize_nodes(model) -> List[str]:
    """Names of the ``Resize`` nodes of ``model`` (an ``onnx.ModelProto`` whose nodes all have names) that
    produce a graph output: a segmentation model's final upsampling to the input size.

    Quantized, ONNX Runtime resizes the uint8 logits at full resolution and then dequantizes them there;
    in float the small logits are dequantized first. Measured on LR-ASPP (V3-Large) at 512x1024, one
    thread: 29.5 ms uint8 resize + 5.6 ms full-size dequantize against a 15 ms float resize.
    """
    outputs = {o.name for o in model.graph.output}
    return [n.name for n in model.graph.node if n.op_type == 'Resize' and any(o in outputs for o in n.output)]


def float_nodes(path: str, float_stem: bool = True) -> List[str]:
    """The nodes of the ONNX model at ``path`` that :func:`quantize_onnx` leaves in float: the final
    output ``Resize`` (:func:`output_resize_nodes`) and, with ``float_stem``, the stem (:func:`stem_nodes`).

    Unnamed nodes (e.g. the ones ``quant_pre_process`` inlines from functions) get names first, so that
    ``quantize_static(nodes_to_exclude=...)`` can refer to them; the model is saved back in place.
    """
    import onnx
    model = onnx.load(path)
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f'{node.op_type}_{i}_{node.output[0]}'
    names = (stem_nodes(model) if float_stem else []) + output_resize_nodes(model)
    onnx.save(model, path)
    return names


def quantize_onnx(float_path: str, out_path: str, calib_arrays: Sequence[np.ndarray], per_channel: bool = True,
                  quant_format: str = 'QOperator', activation_type: str = 'uint8', calibrate_method: str = 'minmax',
                  input_name: str = 'input', int8_hard_sigmoid: bool = True, float_stem: bool = True) -> str:
    """Post-training static quantization of ``float_path`` into ``out_path``.

    Args:
        float_path (str): Float ONNX model (BN already folded by the exporter).
        out_path (str): Where to write the int8 model.
        calib_arrays (list[np.ndarray]): Calibration inputs.
        per_channel (bool): Per-output-channel weight scales. Default: True.
        quant_format (str): ``'QOperator'`` (explicit ``QLinearConv`` & co.) or ``'QDQ'``
            (Quantize/DequantizeLinear pairs fused by ONNX Runtime at load). Default: ``'QOperator'``.
        activation_type (str): ``'uint8'`` (U8S8, fast on x86) or ``'int8'`` (S8S8). Default: ``'uint8'``.
        calibrate_method (str): ``'minmax'``, ``'entropy'`` or ``'percentile'``. Default: ``'minmax'``.
        int8_hard_sigmoid (bool): Run h-swish's / SE's hard-sigmoid as an integer clip
            (:func:`hard_sigmoid_to_clip`; QOperator only). Default: True.
        float_stem (bool): Keep the stem (the layers before the first one with more than 16 output
            channels: V3's first conv and first bneck, at 1/2 resolution) in float, where ONNX Runtime's
            uint8 kernels are slower than its float ones (see :func:`stem_nodes`). Default: True.
            The final output ``Resize`` of a segmentation model always stays float (:func:`float_nodes`).

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
        exclude = float_nodes(pre_path, float_stem)
        quantize_static(
            pre_path, out_path, _Reader(calib_arrays, input_name), quant_format=formats[quant_format.lower()],
            per_channel=per_channel, activation_type=acts[activation_type.lower()], weight_type=QuantType.QInt8,
            calibrate_method=methods[calibrate_method.lower()], nodes_to_exclude=exclude)
    finally:
        for p in glob.glob(pre_path + '*'):
            os.remove(p)
    if int8_hard_sigmoid and quant_format.lower() == 'qoperator':
        hard_sigmoid_to_clip(out_path)
    return out_path


_QRANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}


def hard_sigmoid_to_clip(path: str, out_path: Optional[str] = None) -> int:
    """Run hard-sigmoid (and so h-swish's gate) in int8: ``DequantizeLinear -> HardSigmoid ->
    QuantizeLinear`` becomes one integer ``Clip``. Returns the number of rewrites.

    ONNX Runtime has no quantized HardSigmoid, so a QOperator graph leaves every h-swish
    (``x * HardSigmoid(x)`` after ``quant_pre_process``) and every SE gate as dequantize ->
    float hard-sigmoid -> quantize on a full activation tensor. But ``HardSigmoid(x) = clip(alpha x +
    beta, 0, 1)`` is affine-then-clip, and an affine map of a quantized tensor is a change of its
    (scale, zero point). With ``x = s (q - z)``::

        HardSigmoid(x) = (alpha s) * (clip(q, z - c, z - c + c / beta) - (z - c)),   c = beta / (alpha s)

    which is exact when ``c`` is an integer. The pass therefore re-chooses the quantization of ``x``
    (the producer's output scale / zero point, e.g. a ``QLinearConv``'s) as the smallest grid with
    an integer ``c`` that covers the calibrated range extended to ``x = -beta / alpha`` (the gate's
    lower knee; -3 for PyTorch's hard-sigmoid), so the gate is read off ``q`` with one clip and
    handed to its consumer (``QLinearMul``) with scale ``alpha s`` and zero point ``z - c``.
    On V3-Large this turns 29 float dequantize / hard-sigmoid / quantize triples into integer clips
    (the effect on latency is in the README's int8 ablation, measured with
    ``tools/analysis_tools/benchmark.py --float-hard-sigmoid``).

    Args:
        path (str): A QOperator-format int8 ONNX model (``quantize_static(quant_format=QOperator)``).
        out_path (str, optional): Where to write the result. Default: overwrite ``path``.
    """
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: Dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in graph.output}

    def value(name):
        return numpy_helper.to_array(inits[name]) if name in inits else None

    def rebind(tensor, old_scale, old_zp, scale, zp, tag):
        """Give ``tensor`` its own (scale, zero point) initializers in its producer and its consumers."""
        s_name, z_name = f'{old_scale}_{tag}', f'{old_zp}_{tag}'
        graph.initializer.extend([numpy_helper.from_array(np.asarray(scale, np.float32), s_name),
                                  numpy_helper.from_array(np.asarray(zp, value(old_zp).dtype), z_name)])
        for node in [producer.get(tensor)] + consumers.get(tensor, []):
            if node is None:
                continue
            for i, name in enumerate(node.input):
                if name == old_scale:
                    node.input[i] = s_name
                elif name == old_zp:
                    node.input[i] = z_name

    drop, replace, count = set(), {}, 0
    for hs in [n for n in graph.node if n.op_type == 'HardSigmoid']:
        dq = producer.get(hs.input[0])
        if dq is None or dq.op_type != 'DequantizeLinear' or len(dq.input) < 3:
            continue
        if len(consumers.get(dq.output[0], [])) != 1 or len(consumers.get(hs.output[0], [])) != 1:
            continue
        q = consumers[hs.output[0]][0]
        if q.op_type != 'QuantizeLinear' or len(q.input) < 3 or q.output[0] in graph_outputs:
            continue
        x_q, s_name, z_name = dq.input[:3]
        g_s_name, g_z_name = q.input[1], q.input[2]
        s, z, g_z = value(s_name), value(z_name), value(g_z_name)
        if s is None or z is None or g_z is None or s.size != 1 or z.dtype not in _QRANGE or g_z.dtype != z.dtype:
            continue
        attrs = {a.name: a.f for a in hs.attribute}
        alpha, beta = attrs.get('alpha', 0.2), attrs.get('beta', 0.5)
        if not (alpha > 0 and 0 < beta <= 1):
            continue
        qtype = z.dtype
        qmin, qmax = _QRANGE[qtype]
        s, z = float(s), int(z)
        lo, hi = min((qmin - z) * s, -beta / alpha), (qmax - z) * s
        c = int(np.floor(beta / alpha * (qmax - qmin) / (hi - lo)))
        if c < 1:
            continue
        s_new = beta / (alpha * c)
        z_new = int(np.clip(qmin + round(-lo / s_new), qmin + c, qmax))
        clip_lo, clip_hi = z_new - c, min(qmax, z_new - c + int(round(c / beta)))
        g_q = q.output[0]
        rebind(x_q, s_name, z_name, s_new, z_new, 'hsig')
        rebind(g_q, g_s_name, g_z_name, alpha * s_new, clip_lo, 'hsig')  # the gate's own scale / zero point
        graph.initializer.extend([
            numpy_helper.from_array(np.asarray(clip_lo, qtype), g_q + '_clip_min'),
            numpy_helper.from_array(np.asarray(clip_hi, qtype), g_q + '_clip_max')])
        replace[id(q)] = helper.make_node('Clip', [x_q, g_q + '_clip_min', g_q + '_clip_max'], [g_q],
                                          name=(q.name or g_q) + '_int8_hsig')
        drop |= {id(dq), id(hs)}
        count += 1
    if count:
        nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
        del graph.node[:]
        graph.node.extend(nodes)
        used = {i for n in graph.node for i in n.input}
        keep = [i for i in graph.initializer if i.name in used]
        del graph.initializer[:]
        graph.initializer.extend(keep)
        onnx.checker.check_model(model)
    onnx.save(model, out_path or path)
    return count


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
