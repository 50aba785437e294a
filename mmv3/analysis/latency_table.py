"""Latency look-up table (the paper's Section 4.2 / NetAdapt): per-layer latency on this machine.

Every layer *configuration* a width search can produce (operator, in / expansion / out channels,
kernel, stride, dilation, input size, SE width, activation) is timed once as a tiny standalone
model through a registered runtime (:func:`mmv3.deploy.runtimes.build_runtime`: export + verify
+ load + bind) and cached on disk as JSON, keyed by the machine (CPU model + core count), the
runtime (name, version, threads), the clock and the layer. A whole network's latency is predicted as

    sum(block latencies) + k x parameters

The sum alone misses systematically, in a direction that depends on the machine and the input size:
a standalone block pays its own call overhead and layout conversions but keeps its weights hot in
the cache, while the whole network streams all of its weights every call. (Quiet, on the table's
scale, V3-Large on ONNX Runtime: at 96x96 the blocks sum to 1.53 ms and the network takes 1.71 ms;
at 224x224, 5.60 vs 4.54 ms.) So the prediction adds one per-network term, ``k`` ms per parameter,
``k`` = (the seed's measured latency - its block sum) / its parameters (:meth:`LatencyTable.calibrate`,
cached too): the seed is the calibration point, every other width is a prediction.

Time scale: the machine's speed drifts (on this shared 2-core machine the same V3-Large at 128x128
measured 2.6-3.7 ms from one call of a tool to the next, quiet, both clocks agreeing), so a block
measured now and one measured an hour later are not comparable as they are. Every timing is
therefore interleaved with a fixed reference workload and scaled by (the reference's latency when
the table was started) / (the reference now) (:meth:`LatencyTable.time_modules`): entries, networks
and predictions are all on one scale, whenever they were measured.

Clock: with one thread the default is the thread's CPU time (``time.thread_time``): on a shared,
loaded machine wall-clock latency mostly measures the wait for a core (here: 10 ms wall vs
2.4 ms CPU for the same call); on a quiet machine the two agree. ``clock='wall'`` (and any
``threads > 1``) times wall-clock. Measuring is lazy: only the configurations a prediction needs,
each once per cache.
"""
import glob
import hashlib
import json
import math
import os
import os.path as osp
import platform
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from mmv3.apis.errors import ToolError

#: cache key of the reference workload's latency (the table's time scale, :meth:`LatencyTable.time_modules`)
REFERENCE_KEY = 'reference 1x1 32-96, dw3x3 96, 1x1 96-32 relu 56x56'

#: ``--runtime`` names -> registered runtime names
RUNTIME_ALIASES = {'ort': 'onnxruntime', 'onnxruntime': 'onnxruntime', 'torch': 'torch', 'openvino': 'openvino'}


def machine_key() -> str:
    """``'<CPU model> x<cores>'`` (from /proc/cpuinfo where there is one)."""
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{model} x{os.cpu_count()}'


def runtime_version(name: str) -> str:
    """The installed version of a registered runtime's package (``torch`` / ``onnxruntime`` ...)."""
    mod = {'onnxruntime': 'onnxruntime', 'torch': 'torch', 'openvino': 'openvino'}.get(name, name)
    try:
        return __import__(mod).__version__
    except Exception:  # noqa: BLE001  (a runtime without __version__ still gets a key)
        return 'unknown'


def resolve_runtime(name: str) -> str:
    """``ort`` / ``openvino`` / ``torch`` -> the registered runtime name, or a one-line refusal."""
    from mmv3.registry import RUNTIMES
    import mmv3.deploy.runtimes  # noqa: F401  (registers them)
    reg = RUNTIME_ALIASES.get(name, name)
    if reg not in RUNTIMES.module_dict:  # not RUNTIMES.get: it falls back to importing a module of that name
        raise ToolError(f'runtime {name!r} is not registered in mmv3 (registered: '
                        f'{", ".join(sorted(RUNTIMES.module_dict))}); use --runtime ort or --runtime torch')
    return reg


# ------------------------------------------------------------------------------ layers
def layer_sizes(plan, input_hw: Tuple[int, int]) -> List[Tuple[int, int]]:
    """Input (H, W) of each planned layer for a network input of ``input_hw`` ('same' padding)."""
    h, w = input_hw
    sizes = []
    for p in plan:
        sizes.append((h, w))
        h, w = math.ceil(h / p.stride), math.ceil(w / p.stride)
    return sizes


def layer_key(p, hw: Tuple[int, int], backbone) -> str:
    """The configuration of one planned layer as a string (a cache key)."""
    from mmv3.models.backbones.base_mobilenet import se_channels
    se = se_channels(backbone.spec, p.in_ch, p.mid) if p.se else 0
    act = backbone.nl_cfgs[p.nl].get('type')
    gate = (backbone.se_gate_cfg or dict(type=backbone.spec.se_gate))['type'] if p.se else '-'
    pad = f' pad-{backbone.pad_type}' if getattr(backbone, 'pad_type', '') else ''
    return (f'{p.op} k{p.k} in{p.in_ch} mid{p.mid} out{p.out} se{se}:{gate} {act} s{p.stride} d{p.dilation} '
            f'{hw[0]}x{hw[1]}{pad}')


class _Tuple(nn.Module):
    """A module returning a 1-tuple (what the runtimes' export expects)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return (self.module(x), )


class HeadBlock(nn.Module):
    """Neck + head of a classifier on the backbone's last feature map (the head as one block)."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.neck = getattr(classifier, 'neck', None)
        self.head = classifier.head

    def forward(self, x):
        feats = (x, )
        if self.neck is not None:
            feats = self.neck(feats)
        out = self.head(feats)
        return tuple(out) if isinstance(out, (tuple, list)) else (out, )


def head_key(classifier: nn.Module, in_shape: Sequence[int]) -> str:
    """The head block's configuration (module structure + input shape) as a short string."""
    text = repr(HeadBlock(classifier))
    return f'head {hashlib.sha1(text.encode()).hexdigest()[:12]} {"x".join(map(str, in_shape))}'


# ------------------------------------------------------------------------------ the table
class LatencyTable:
    """Per-layer latency cache for one machine + runtime + thread count.

    Args:
        runtime (str): ``'ort'`` (ONNX Runtime), ``'torch'`` (fused mode) or ``'openvino'``.
        threads (int): Intra-op threads. Default: 1.
        cache_dir (str, optional): Folder of the JSON cache. Default: ``~/.cache/mmv3/latency``.
        repeat (int): Timed runs per configuration (median). Default: 50.
        warmup (int): Untimed runs first. Default: 10.
        measure (callable, optional): ``measure(module, input_shape) -> ms`` instead of timing
            through the runtime (tests: a deterministic cost model). Default: None.
        progress (bool): A tqdm bar over the configurations being measured. Default: True.
        clock (str, optional): ``'cpu'`` (thread CPU time; one thread only) or ``'wall'``.
            Default: ``'cpu'`` with one thread, else ``'wall'``.
        percentile (float): Statistic of the timed runs (50 = median; lower = the least disturbed
            runs on a shared machine). Default: 50.
    """

    def __init__(self, runtime: str = 'ort', threads: int = 1, cache_dir: Optional[str] = None, repeat: int = 50,
                 warmup: int = 10, measure: Optional[Callable[[nn.Module, Tuple[int, ...]], float]] = None,
                 progress: bool = True, clock: Optional[str] = None, percentile: float = 50):
        if not isinstance(threads, int) or threads < 1:
            raise ToolError(f'--threads must be an integer >= 1, got {threads!r}')
        if repeat < 1:
            raise ToolError(f'--repeat must be >= 1, got {repeat}')
        self.runtime_name = resolve_runtime(runtime) if measure is None else runtime
        self.threads, self.repeat, self.warmup = threads, repeat, warmup
        self.progress = progress
        self._measure_fn = measure
        clock = clock or ('cpu' if threads == 1 else 'wall')
        if clock not in ('cpu', 'wall') or (clock == 'cpu' and threads > 1):
            raise ToolError(f"clock must be 'wall' or (with one thread) 'cpu', got {clock!r} with {threads} threads")
        self.clock = clock
        if not 0 <= percentile <= 100:
            raise ToolError(f'percentile must be in [0, 100], got {percentile}')
        self.percentile = percentile
        self.overhead_per_mparam = 0.0  # ms per million parameters, set by calibrate()
        self._rt = None
        version = runtime_version(self.runtime_name) if measure is None else 'custom'
        self.context = dict(machine=machine_key(), runtime=self.runtime_name, version=version, threads=threads,
                            clock=clock, percentile=percentile, scale='reference-interleaved')
        cache_dir = cache_dir or osp.join(osp.expanduser('~'), '.cache', 'mmv3', 'latency')
        digest = hashlib.sha1(json.dumps(self.context, sort_keys=True).encode()).hexdigest()[:12]
        self.path = osp.join(cache_dir, f'lut_{self.runtime_name}_{digest}.json')
        self.entries: Dict[str, float] = {}
        if osp.exists(self.path):
            try:
                with open(self.path) as f:
                    data = json.load(f)
                if data.get('context') == self.context:
                    self.entries = {k: float(v) for k, v in data.get('entries', {}).items()}
            except (OSError, ValueError):
                self.entries = {}  # a broken cache is re-measured, never trusted
        self.measured = 0  # configurations timed by this instance (not from the cache)

    # -------------------------------------------------------------- measuring
    def _runtime(self):
        if self._rt is None:
            from mmv3.deploy.runtimes import build_runtime
            self._rt = build_runtime(self.runtime_name, self.threads)
            self._tmp = tempfile.mkdtemp(prefix='mmv3_lut_')
        return self._rt

    def time_module(self, module: nn.Module, input_shape: Sequence[int], stem: str = 'block') -> float:
        """Latency (ms, the table's statistic, on the reference scale) of ``module`` (tensor in, tuple out) on a
        random input of ``input_shape``."""
        if self._measure_fn is not None:
            return float(self._measure_fn(module.eval(), tuple(int(v) for v in input_shape)))
        return self.time_modules([(module, input_shape)], stem)[0]

    def time_modules(self, items: Sequence[Tuple[nn.Module, Sequence[int]]], stem: str = 'block') -> List[float]:
        """Latencies (ms) of several modules timed **interleaved** with the reference workload.

        Each is exported and loaded through the runtime; then ``repeat`` rounds call every one of them and
        the reference once each (in a rotating order), so a slow phase of the machine hits all alike. Each
        latency is its statistic (``percentile``) times ``reference_ms / reference now``: on this shared
        machine the same network measured 2.6-3.7 ms from one call of a tool to the next (machine speed
        drift, not the network), and the scaling puts every entry of the table, whenever it was measured, on
        the scale of the moment the reference was first timed (:attr:`reference_ms`, cached with the table).
        """
        if self._measure_fn is not None:
            return [self.time_module(m, s) for m, s in items]
        fns = [self._bind(m, s, stem) for m, s in items] + [self._reference_fn()]
        stats = self._time_interleaved(fns)
        scale = self._reference_scale(stats[-1])
        return [t * scale for t in stats[:-1]]

    def _time_interleaved(self, fns: Sequence[Callable[[], object]]) -> List[float]:
        """The statistic (ms) of each callable over ``repeat`` interleaved rounds (after ``warmup`` calls each)."""
        for fn in fns:
            for _ in range(self.warmup):
                fn()
        now = time.thread_time if self.clock == 'cpu' else time.perf_counter
        times = [[] for _ in fns]
        for r in range(self.repeat):
            for j in range(len(fns)):
                i = (j + r) % len(fns)
                t0 = now()
                fns[i]()
                times[i].append((now() - t0) * 1e3)
        return [float(np.percentile(t, self.percentile)) for t in times]

    def _reference_fn(self) -> Callable[[], object]:
        """The reference workload (built once per table): a fixed bneck-like block (1x1 32->96, depthwise 3x3,
        1x1 96->32 at 56x56, ReLU), run through the same runtime."""
        if getattr(self, '_ref', None) is None:
            torch.manual_seed(0)
            ref = nn.Sequential(nn.Conv2d(32, 96, 1), nn.ReLU(), nn.Conv2d(96, 96, 3, padding=1, groups=96), nn.ReLU(),
                                nn.Conv2d(96, 32, 1))
            self._ref = self._bind(_Tuple(ref), (1, 32, 56, 56), 'reference')
        return self._ref

    def _reference_scale(self, ref_now: float) -> float:
        """``reference_ms / ref_now``; the first timing of the reference on this table defines ``reference_ms``."""
        if REFERENCE_KEY not in self.entries:
            self.entries[REFERENCE_KEY] = ref_now
            self.save()
        return self.entries[REFERENCE_KEY] / ref_now

    @property
    def reference_ms(self) -> Optional[float]:
        """The reference workload's latency (ms) when this table's scale was set (None: not yet)."""
        return self.entries.get(REFERENCE_KEY)

    def _bind(self, module: nn.Module, input_shape: Sequence[int], stem: str) -> Callable[[], object]:
        """Export (BN folded) + verify + load ``module`` through the runtime; a zero-argument callable running it."""
        module = module.eval()
        input_shape = tuple(int(v) for v in input_shape)
        self._calls = getattr(self, '_calls', 0) + 1
        stem = f'{stem}_{self._calls}'  # a fresh artifact per timing (the runtime caches by path)
        from mmv3.deploy.fuse import count_bn, fold_bn
        x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
        target = module
        if count_bn(module):
            target, _ = fold_bn(module, torch.from_numpy(x))
        rt = self._runtime()
        torch.set_num_threads(self.threads)
        opts = {}
        if self.runtime_name == 'torch':
            opts = dict(channels_last=True)
        handle = rt.prepare(target, input_shape, self._tmp, stem, **opts)
        for path in glob.glob(osp.join(self._tmp, stem + '.*')):
            os.remove(path)  # loaded: the artifact is not needed any more
        return rt.bind(handle, x)

    def save(self) -> None:
        """Write the cache (atomically)."""
        from mmv3.engine.atomic_io import atomic_write_text
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        atomic_write_text(json.dumps(dict(context=self.context, entries=self.entries), indent=1, sort_keys=True),
                          self.path)

    def lookup(self, items: Sequence[Tuple[str, Callable[[], Tuple[nn.Module, Tuple[int, ...]]]]]) -> List[float]:
        """Latency (ms) of each ``(key, make)``; ``make()`` -> ``(module, input_shape)`` runs only for keys
        not in the cache (measured, then cached)."""
        missing = [(k, make) for k, make in items if k not in self.entries]
        seen = set()
        missing = [(k, m) for k, m in missing if not (k in seen or seen.add(k))]
        if missing:
            bar = None
            if self.progress:
                from tqdm import tqdm
                bar = tqdm(total=len(missing), desc=f'latency table ({self.runtime_name})', leave=False,
                           dynamic_ncols=True)
            for k, make in missing:
                module, shape = make()
                self.entries[k] = self.time_module(module, shape, stem='lut')
                self.measured += 1
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            self.save()
        return [self.entries[k] for k, _ in items]

    # -------------------------------------------------------------- predicting
    def layer_items(self, model: nn.Module, plan, input_hw: Tuple[int, int]):
        """``(key, make)`` per backbone layer of ``plan`` and one for the head block of ``model``."""
        backbone = model.backbone
        num_built = len(backbone.layer_names)
        sizes = layer_sizes(plan, input_hw)
        items = []
        for p, hw in zip(plan[:num_built], sizes):
            def make(p=p, hw=hw):
                layer = backbone.make_layer(p)
                return _Tuple(layer), (1, p.in_ch, hw[0], hw[1])
            items.append((layer_key(p, hw, backbone), make))
        last = plan[num_built - 1]
        h, w = layer_sizes(plan[:num_built], input_hw)[-1]
        hw = (math.ceil(h / last.stride), math.ceil(w / last.stride))
        shape = (1, last.out, hw[0], hw[1])
        items.append((head_key(model, shape), lambda: (HeadBlock(model), shape)))
        return items

    def params(self, model: nn.Module, plan) -> int:
        """Parameters of ``model``'s structure with the backbone widths ``plan`` (built layers + head)."""
        bb = model.backbone
        if not hasattr(self, '_params'):
            self._params = {}
        total = 0
        for p in plan[:len(bb.layer_names)]:
            if p not in self._params:
                layer = bb.make_layer(p)
                self._params[p] = sum(t.numel() for t in layer.parameters())
            total += self._params[p]
        return total + sum(t.numel() for name, t in model.named_parameters() if not name.startswith('backbone.'))

    def breakdown(self, model: nn.Module, plan, input_hw: Tuple[int, int]) -> Dict[str, object]:
        """Per-block latencies (ms), the weight-streaming overhead and the predicted total of ``model`` with
        ``plan``."""
        items = self.layer_items(model, plan, input_hw)
        lat = self.lookup(items)
        overhead = self.overhead_per_mparam * self.params(model, plan) / 1e6
        return dict(layers=lat[:-1], head=lat[-1], overhead=overhead, total=sum(lat) + overhead,
                    keys=[k for k, _ in items])

    def predict(self, model: nn.Module, plan, input_hw: Tuple[int, int]) -> float:
        """Predicted whole-network latency (ms) of ``model``'s structure with the backbone widths ``plan``."""
        return self.breakdown(model, plan, input_hw)['total']

    def block_sum(self, model: nn.Module, plan, input_hw: Tuple[int, int]) -> float:
        """The sum of ``model``'s block latencies (ms) with the backbone widths ``plan``, without the
        weight-streaming term."""
        return float(sum(self.lookup(self.layer_items(model, plan, input_hw))))

    def fit_overhead(self, points: Sequence[Tuple[float, float, float]]) -> float:
        """Refit the weight-streaming term on measured networks (e.g. the seed and each network a search chose).

        ``k`` is the least-squares fit through the origin of ``measured - block sum = k x parameters``
        over ``points`` = ``[(block_sum_ms, parameters, measured_ms), ...]``; with one point it is that
        point's ratio (what :meth:`calibrate` sets). Not cached: the points belong to the caller.

        Returns:
            float: The overhead (ms per million parameters), now used by :meth:`predict`.
        """
        pts = [(float(b), float(p) / 1e6, float(m)) for b, p, m in points]
        if not pts or any(p <= 0 for _, p, _ in pts):
            raise ValueError('fit_overhead needs at least one (block_sum_ms, parameters > 0, measured_ms) point')
        self.overhead_per_mparam = sum(p * (m - b) for b, p, m in pts) / sum(p * p for _, p, _ in pts)
        return self.overhead_per_mparam

    def calibrate(self, model: nn.Module, input_hw: Tuple[int, int]) -> float:
        """Set (and cache) the overhead per million parameters: (``model``'s measured latency minus its
        block sum) / its parameters.

        Returns:
            float: The overhead (ms per million parameters).
        """
        items = self.layer_items(model, model.backbone.plan, input_hw)
        digest = hashlib.sha1('|'.join(k for k, _ in items).encode()).hexdigest()[:12]
        key = f'overhead-per-mparam {digest} {input_hw[0]}x{input_hw[1]}'
        if key not in self.entries:
            blocks = sum(self.lookup(items))
            measured = self.measure_network(model, input_hw)
            self.entries[key] = (measured - blocks) / (self.params(model, model.backbone.plan) / 1e6)
            self.save()
        self.overhead_per_mparam = self.entries[key]
        return self.overhead_per_mparam

    def measure_network(self, model: nn.Module, input_hw: Tuple[int, int], stem: str = 'network') -> float:
        """Measured whole-network latency (ms) of a classifier (the same runtime, threads, timing and scale)."""
        return self.measure_networks([model], input_hw, stem)[0]

    def measure_networks(self, models: Sequence[nn.Module], input_hw: Tuple[int, int], stem: str = 'network'
                         ) -> List[float]:
        """Whole-network latencies (ms) of several classifiers, timed interleaved (:meth:`time_modules`)."""
        from mmv3.apis import TaskWrapper
        shape = (1, 3) + tuple(input_hw)
        wrapped = [m if isinstance(m, TaskWrapper) else TaskWrapper(m, 'cls') for m in models]
        return self.time_modules([(w.eval(), shape) for w in wrapped], stem=stem)


__all__ = ['LatencyTable', 'HeadBlock', 'machine_key', 'layer_key', 'layer_sizes', 'resolve_runtime']
