"""Single-thread CPU latency of configs (and reference implementations) in several execution modes.

Modes (``--modes``) are those of the registered runtimes (:func:`mmv3.deploy.runtimes.all_modes`):

- ``eager``: the PyTorch model as built (``torch.inference_mode``, NCHW).
- ``fused``: BN folded into the convs (:func:`mmv3.deploy.fuse.fold_bn`) and ``channels_last``.
- ``ort``: ONNX Runtime float (BN-folded export, all graph optimisations, sequential executor).
- ``ort-int8``: ONNX Runtime after static int8 quantization (:mod:`mmv3.deploy.runtimes.onnxruntime`:
  bneck widths padded to multiples of 16, QOperator, per-channel, U8S8, hard-sigmoid as an integer
  clip, float stem; calibrated on ``--calib-dir`` images, else on random inputs).
- ``ort-int8-default``: ONNX Runtime's own default static int8 (``quantize_static`` defaults: QDQ, per-tensor,
  int8 activations; none of mmv3's passes): what a user of another model gets from the standard tooling.
- ``ov``, ``ov-bf16``, ``ov-int8``, ``ov-int8-nncf``: OpenVINO's CPU plugin on the IR of the same ONNX
  graph, with the f32 or the bf16 (AMX) inference-precision hint, or after NNCF int8 quantization (same
  calibration inputs; mmv3's recipe, or NNCF's defaults) with the bf16 hint for the layers left in float
  (:mod:`mmv3.deploy.runtimes.openvino`).
- ``litert``, ``litert-int8``: LiteRT's interpreter + XNNPACK on the float ``.tflite`` from litert-torch, or
  the int8 one (PT2E or ai-edge-quantizer, h-swish rewritten so XNNPACK takes the whole graph; same
  calibration inputs) (:mod:`mmv3.deploy.runtimes.litert`); fixed input size.

Every exported float artifact is checked against PyTorch first (:func:`mmv3.deploy.runtimes.verify`).

All candidates are timed **interleaved** (one call of each, in a rotating order, ``repeat`` times), so a
slow phase of the machine hits every model alike and the ratios from one run are fair.
"""
import os
import os.path as osp
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .latency import latency_stats

MMSEG_LRASPP = 'mobilenet_v3/mobilenet-v3-d8_lraspp_4xb4-320k_cityscapes-512x1024.py'


@dataclass
class Candidate:
    """One model to time: a label and a module taking one NCHW tensor."""
    label: str
    model: nn.Module
    task: str
    ours: bool = False
    calib: Optional[List[np.ndarray]] = None
    runners: Dict[str, Callable[[], object]] = field(default_factory=dict)


def parse_modes(modes: str) -> List[str]:
    """``'eager,ort'`` -> ``['eager', 'ort']``, refusing modes no registered runtime offers."""
    from mmv3.apis import ToolError
    from mmv3.deploy.runtimes import all_modes
    known = all_modes()
    out = [m.strip() for m in modes.split(',') if m.strip()]
    bad = [m for m in out if m not in known]
    if bad or not out:
        raise ToolError(f'--modes: unknown mode(s) {",".join(bad) or "(none given)"}; allowed: '
                        f'{",".join(known)} (comma-separated)')
    return out


def mmseg_config_path(rel: str = MMSEG_LRASPP) -> str:
    """Path of an mmseg config shipped inside the installed mmseg package (``.mim/configs``)."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmseg config {rel!r} not found under {osp.dirname(path)}; is mmsegmentation '
                                f'1.x installed with its configs?')
    return path


def peer_classifiers(arch: str, widen_factor: float = 1.0, num_classes: int = 1000) -> List[Tuple[str, nn.Module]]:
    """torchvision's and timm's MobileNetV3 of the same arch / width (random init)."""
    import timm
    import torchvision
    peers = []
    tv_fn = {'large': torchvision.models.mobilenet_v3_large, 'small': torchvision.models.mobilenet_v3_small}[arch]
    peers.append((f'torchvision mobilenet_v3_{arch}', tv_fn(width_mult=widen_factor, num_classes=num_classes)))
    timm_name = f'mobilenetv3_{arch}_{int(round(widen_factor * 100)):03d}'
    if timm_name in timm.list_models('mobilenetv3_*'):
        peers.append((f'timm {timm_name}', timm.create_model(timm_name, pretrained=False, num_classes=num_classes)))
    return peers


def setup_runners(cand: Candidate, shape: Tuple[int, int], modes: Sequence[str], threads: int, workdir: str,
                  int8_options: Optional[Dict[str, dict]] = None, export_options: Optional[Dict[str, dict]] = None
                  ) -> None:
    """Build the per-mode zero-argument callables of ``cand`` through the registered runtimes.

    Each mode's runtime prepares (exports, verifies against PyTorch, quantizes, loads) the BN-folded
    model, or the model as built for modes with ``fold=False``. ``int8_options[runtime name]`` go to
    that runtime's ``quantize`` (ONNX Runtime: channel padding, format, ...; OpenVINO: NNCF preset ...),
    ``export_options[runtime name]`` to its ``export`` (OpenVINO: ``hsigmoid``).
    """
    from mmv3.deploy.fuse import fold_bn
    from mmv3.deploy.runtimes import all_modes, build_runtime
    known = all_modes()
    full = (1, 3) + tuple(shape)
    x = np.random.default_rng(0).standard_normal(full).astype(np.float32)
    model = cand.model.eval()
    folded = None
    if any(known[m][1].get('fold', True) for m in modes):
        folded, _ = fold_bn(model, torch.from_numpy(x))
    runtimes = {}
    stem = ''.join(c if c.isalnum() else '_' for c in cand.label)
    for mode in modes:
        name, opts = known[mode]
        rt = runtimes.get(name) or runtimes.setdefault(name, build_runtime(name, threads))
        target = folded if opts.get('fold', True) else model
        handle = rt.prepare(target, full, workdir, stem, calib=cand.calib,
                            quant_options=(int8_options or {}).get(name),
                            export_options=(export_options or {}).get(name), **opts)
        cand.runners[mode] = rt.bind(handle, x)


def time_interleaved(cands: Sequence[Candidate], modes: Sequence[str], repeat: int, warmup: int,
                     progress: bool = True) -> Dict[Tuple[str, str], Dict[str, float]]:
    """Time every (candidate, mode) runner; calls are interleaved round-robin with a rotating order.

    Returns:
        dict: ``(label, mode) -> latency_stats`` (ms).
    """
    import time
    keys = [(c.label, m) for c in cands for m in modes if m in c.runners]
    fns = {(c.label, m): c.runners[m] for c in cands for m in modes if m in c.runners}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=(warmup + repeat) * len(keys), desc='benchmark', dynamic_ncols=True, leave=False)
    for k in keys:
        for _ in range(warmup):
            fns[k]()
            if bar is not None:
                bar.update(1)
    times = {k: [] for k in keys}
    for r in range(repeat):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for k in order:
            t0 = time.perf_counter()
            fns[k]()
            times[k].append((time.perf_counter() - t0) * 1e3)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return {k: latency_stats(v) for k, v in times.items()}


def format_results(cands: Sequence[Candidate], modes: Sequence[str], stats, shape, threads: int) -> str:
    """Markdown tables: latency per model and mode, ours-vs-peer ratios, int8 speedup."""
    lines = [f'Latency, batch 1, input {shape[0]}x{shape[1]}, {threads} thread(s), CPU '
             f'(median over interleaved runs; ms)', '',
             '| model | mode | median | IQR | min | max |', '|---|---|---|---|---|---|']
    for c in cands:
        for m in modes:
            s = stats.get((c.label, m))
            if s:
                lines.append(f'| {c.label} | {m} | {s["median"]:.2f} | {s["iqr"]:.2f} | {s["min"]:.2f} | {s["max"]:.2f} |')
    def ratio_cells(label, ref_medians):
        """``label``'s median over the reference median, per mode ('-' where either is missing)."""
        cells = []
        for m in modes:
            a, ref = stats.get((label, m)), ref_medians(m)
            cells.append(f'{a["median"] / ref:.3f}' if a and ref else '-')
        return ' | '.join(cells)

    def median_of(*labels):
        """Per mode, the smallest median among ``labels`` (None when none was timed)."""
        return lambda m: min((stats[(lb, m)]['median'] for lb in labels if (lb, m) in stats), default=None)

    ours = [c for c in cands if c.ours]
    peers = [c for c in cands if not c.ours]
    if ours and peers:
        lines += ['', 'Ratio ours / peer (median latency; < 1.0 = ours faster)', '',
                  '| ours | peer | ' + ' | '.join(modes) + ' |', '|---|---|' + '---|' * len(modes)]
        for o in ours:
            for p in peers:
                lines.append(f'| {o.label} | {p.label} | ' + ratio_cells(o.label, median_of(p.label)) + ' |')
            lines.append(f'| {o.label} | fastest peer | ' +
                         ratio_cells(o.label, median_of(*[p.label for p in peers])) + ' |')
    elif len(cands) > 1:
        base = cands[0]
        lines += ['', f'Ratio to {base.label} (median latency)', '',
                  '| model | ' + ' | '.join(modes) + ' |', '|---|' + '---|' * len(modes)]
        for c in cands:
            lines.append(f'| {c.label} | ' + ratio_cells(c.label, median_of(base.label)) + ' |')
    for fm, qm, rt in (('ort', 'ort-int8', 'ONNX Runtime'), ('ov', 'ov-int8', 'OpenVINO'),
                       ('litert', 'litert-int8', 'LiteRT'),
                       ('litert', 'litert-int8-asis', 'LiteRT, int8 as converted')):
        if fm in modes and qm in modes:
            lines += ['', f'int8 speedup ({rt} float / int8 median)', '', '| model | speedup |', '|---|---|']
            for c in cands:
                a, b = stats.get((c.label, fm)), stats.get((c.label, qm))
                if a and b:
                    lines.append(f'| {c.label} | {a["median"] / b["median"]:.2f}x |')
    if 'ort' in modes and len(modes) > 1:
        lines += ['', 'Ratio to ONNX Runtime float of the same model and run (median latency)', '',
                  '| model | ' + ' | '.join(modes) + ' |', '|---|' + '---|' * len(modes)]
        for c in cands:
            base = stats.get((c.label, 'ort'))
            cells = [f'{stats[(c.label, m)]["median"] / base["median"]:.3f}' if base and (c.label, m) in stats
                     else '-' for m in modes]
            lines.append(f'| {c.label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def make_workdir(workdir: Optional[str]) -> str:
    if workdir:
        os.makedirs(workdir, exist_ok=True)
        return workdir
    return tempfile.mkdtemp(prefix='mmv3-bench-')
