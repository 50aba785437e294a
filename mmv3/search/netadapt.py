"""NetAdapt (Yang et al. 2018) as the paper uses it after the NAS (Section 4.2), on this machine.

From a trained seed: each step makes the proposals (:func:`~.proposals.make_proposals`: every
unit's smallest shrink that cuts ``delta`` x the seed's latency in the look-up table's
prediction), populates each from the previous step's weights (:mod:`.populate`: largest-L1
filters), fine-tunes it for ``short_iters`` iterations, evaluates top-1 on the val split, and
keeps the proposal with the best ``dAcc / |dLatency|``; it repeats until the chosen network's
latency reaches ``target_ratio`` x the seed's, then fine-tunes the result for ``long_iters``.

Latency is predicted by the look-up table and, for the network chosen at each step, measured
(interleaved with the seed, ``measurements`` times, through the same runtime). With
``stop='measured'`` (the default) those measurements keep the table honest over a search: every
measured network (the seed and each chosen one) is a point of the table's weight-streaming fit
(:meth:`LatencyTable.fit_overhead`), so the next step's proposals are predicted with the refitted
term, and the search stops when the *measured* ratio to the seed meets the target, so the table's
error cannot leave the final network above it. ``stop='predicted'`` is NetAdapt's paper as written: the
table, calibrated once on the seed, decides alone (the measurements are only recorded).

Fine-tuning is a plain loop (the model's ``loss`` mode on the config's ``train_dataloader``,
built by mmengine's ``Runner.build_dataloader``, the config's optimizer through
``build_optim_wrapper`` at a constant learning rate; no EMA / schedulers / hooks).

Files in ``work_dir``: ``state.json`` (where the search is; a rerun resumes from the last
finished step), ``step_XX.json`` (proposals with predicted latency, accuracy and score, the
chosen one with its measured latency), ``step_XX.pth`` (the chosen model), ``netadapt.png``
(accuracy vs latency over the steps), and at the end ``netadapt_final.py`` (``_base_`` = the seed
config, only ``model.backbone.arch_overrides`` set) and ``netadapt_final.pth``.
"""
import copy
import json
import os
import os.path as osp
import statistics
import time
from typing import Callable, Dict, Optional, Sequence

import torch

from mmv3.apis import ToolError
from mmv3.engine.atomic_io import atomic_torch_save, atomic_write_text

from .common import build_variant, merge_overrides
from .populate import populate_state_dict
from .proposals import make_proposals, search_units

#: what decides that the target is met (``--stop``)
STOP_RULES = ('measured', 'predicted')


# ------------------------------------------------------------------------------ train / eval
class TaskLoop:
    """Fine-tuning and top-1 evaluation of a classifier on a config's dataloaders.

    Args:
        cfg (Config): The (seed) config: ``train_dataloader``, ``val_dataloader`` (or
            ``test_dataloader``), ``optim_wrapper``.
        lr (float, optional): Learning rate of the fine-tuning (default: the config's).
        seed (int): Seed of the fine-tuning runs (each run reseeds). Default: 0.
        max_val_batches (int, optional): Evaluate on at most this many val batches. Default: all.
    """

    def __init__(self, cfg, lr: Optional[float] = None, seed: int = 0, max_val_batches: Optional[int] = None):
        from mmengine.runner import Runner
        self.cfg = cfg
        self.lr = lr
        self.seed = seed
        self.max_val_batches = max_val_batches
        val = cfg.get('val_dataloader', None) or cfg.get('test_dataloader', None)
        if not cfg.get('train_dataloader', None) or not val:
            raise ToolError('the config needs a train_dataloader and a val_dataloader (or test_dataloader)')
        self.train_loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader), seed=seed)
        self.val_loader = Runner.build_dataloader(copy.deepcopy(val), seed=seed)
        self._iter = None

    def _next_batch(self):
        if self._iter is None:
            self._iter = iter(self.train_loader)
        try:
            return next(self._iter)
        except StopIteration:
            self._iter = iter(self.train_loader)
            return next(self._iter)

    def finetune(self, model, iters: int, run_seed: int = 0):
        """Train ``model`` for ``iters`` iterations (in place); returns the last loss."""
        from mmengine.optim import build_optim_wrapper
        if iters <= 0:
            return None
        torch.manual_seed(self.seed + run_seed)
        optim_cfg = copy.deepcopy(self.cfg.optim_wrapper)
        if self.lr is not None:
            optim_cfg.optimizer['lr'] = self.lr
        optim = build_optim_wrapper(model, optim_cfg)
        model.train()
        loss = None
        for _ in range(iters):
            data = model.data_preprocessor(self._next_batch(), True)
            losses = model(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
            optim.update_params(loss)
        model.eval()
        return float(loss)

    @torch.no_grad()
    def evaluate(self, model) -> float:
        """Top-1 accuracy (%) on the val split."""
        model.eval()
        correct = total = 0
        for n, batch in enumerate(self.val_loader):
            if self.max_val_batches is not None and n >= self.max_val_batches:
                break
            data = model.data_preprocessor(batch, False)
            for s in model(**data, mode='predict'):
                correct += int(s.pred_label.flatten()[0] == s.gt_label.flatten()[0])
                total += 1
        return 100.0 * correct / max(total, 1)


# ------------------------------------------------------------------------------ the search
def _json_overrides(ov):
    return {str(k): dict(v) for k, v in sorted((ov or {}).items())}


def _int_overrides(ov):
    return {int(k): dict(v) for k, v in (ov or {}).items()}


def write_final_config(path: str, seed_config: str, overrides: Dict[int, dict], note: str = '') -> str:
    """``path``: a config that ``_base_``s ``seed_config`` (relative path) and sets only the widths."""
    base = osp.relpath(osp.abspath(seed_config), osp.dirname(osp.abspath(path)))
    rows = ',\n'.join(f'            {r}: dict({", ".join(f"{k}={v}" for k, v in sorted(o.items()))})'
                      for r, o in sorted(overrides.items()))
    text = (f'# NetAdapt result (tools/search/netadapt.py){": " + note if note else ""}\n'
            f"_base_ = '{base}'\n"
            f'model = dict(\n    backbone=dict(\n        arch_overrides={{\n{rows}\n        }}))\n')
    atomic_write_text(text, path)
    return path


def plot_history(path: str, history: Sequence[dict], title: str = 'NetAdapt') -> Optional[str]:
    """Accuracy vs latency over the steps: the chosen network each step at its predicted and its measured
    latency, all proposals (predicted) faint."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for h in history[1:]:
        xs = [p['predicted_ms'] for p in h.get('proposals', [])]
        ys = [p['accuracy'] for p in h.get('proposals', [])]
        ax.scatter(xs, ys, s=8, color='0.7')
    ax.plot([h['predicted_ms'] for h in history], [h['accuracy'] for h in history], 'o-', color='C0',
            label='chosen, predicted (step 0 = seed)')
    measured = [h for h in history if h.get('measured_ms') is not None]
    ax.plot([h['measured_ms'] for h in measured], [h['accuracy'] for h in measured], 's--', color='C1',
            label='chosen, measured')
    for h in history:
        ax.annotate(str(h['step']), (h['predicted_ms'], h['accuracy']), fontsize=7)
    ax.set_xlabel('latency (ms)')
    ax.set_ylabel('top-1 after short fine-tune (%)')
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


class NetAdapt:
    """The search; see the module docstring.

    Args:
        cfg (Config): The seed config (a classifier with a mmv3 MobileNet backbone).
        config_path (str): Its file (``_base_`` of the final config).
        seed_model (nn.Module): The seed model with its trained weights.
        lut (LatencyTable): The latency look-up table (calibrated on the seed).
        loop (TaskLoop): Fine-tuning and evaluation.
        work_dir (str): Output / resume folder.
        input_hw (tuple): Input (H, W) of the latency prediction.
        target_ratio (float): Target latency as a fraction of the seed's.
        delta (float): Each proposal cuts at least ``delta`` x the seed's latency. Default: 0.01.
        short_iters (int): Fine-tune iterations per proposal. Default: 10.
        long_iters (int): Fine-tune iterations of the final model. Default: 100.
        kinds (Sequence[str]): Proposal kinds. Default: both.
        stop (str): ``'measured'``: stop when the chosen network's latency, measured interleaved with the
            seed's, is <= ``target_ratio`` x the seed's (:meth:`_measure`); ``'predicted'``: when the
            table's prediction is <= ``target_ratio`` x the seed's prediction. Default: ``'measured'``.
        measurements (int): Interleaved timings of each measured network with the seed (medians). Default: 3.
        log (callable): Where progress lines go. Default: ``print``.
    """

    def __init__(self, cfg, config_path, seed_model, lut, loop, work_dir, input_hw, target_ratio, delta=0.01,
                 short_iters=10, long_iters=100, kinds=('expand', 'bottleneck'), stop: str = 'measured',
                 measurements: int = 3, log: Callable = print):
        if not 0 < target_ratio < 1:
            raise ToolError(f'--target-ratio must be in (0, 1), got {target_ratio}')
        if not 0 < delta < 1:
            raise ToolError(f'--delta must be in (0, 1), got {delta}')
        if short_iters < 0 or long_iters < 0:
            raise ToolError('--short-iters and --long-iters must be >= 0')
        if stop not in STOP_RULES:
            raise ToolError(f'--stop must be one of {"|".join(STOP_RULES)}, got {stop!r}')
        if not isinstance(measurements, int) or measurements < 1:
            raise ToolError(f'--measurements must be an integer >= 1, got {measurements!r}')
        self.cfg, self.config_path, self.seed = cfg, config_path, seed_model
        self.lut, self.loop, self.work_dir, self.hw = lut, loop, work_dir, tuple(input_hw)
        self.target_ratio, self.delta = target_ratio, delta
        self.short_iters, self.long_iters, self.kinds = short_iters, long_iters, tuple(kinds)
        self.log = log
        self.stop, self.measurements = stop, measurements
        bb = seed_model.backbone
        self.seed_plan = bb.plan
        self.num_built = len(bb.layer_names)
        self.units = search_units(self.seed_plan, bb.int_taps, list(bb.inner_taps), self.num_built, self.kinds)
        self.settings = dict(config=osp.abspath(config_path), target_ratio=target_ratio, delta=delta,
                             short_iters=short_iters, long_iters=long_iters, kinds=list(self.kinds),
                             runtime=lut.runtime_name, input=list(self.hw), stop=stop)

    # ------------------------------------------------------------ files
    def _path(self, name):
        return osp.join(self.work_dir, name)

    def _load_state(self):
        path = self._path('state.json')
        if not osp.exists(path):
            return None
        with open(path) as f:
            state = json.load(f)
        if state.get('settings') != self.settings:
            diff = sorted(k for k in self.settings if state.get('settings', {}).get(k) != self.settings[k])
            raise ToolError(f'{self.work_dir} holds a NetAdapt search with other settings ({", ".join(diff)}): '
                            f'rerun with the same ones to resume, or use another --work-dir')
        return state

    def _measure(self, model) -> dict:
        """``model`` timed interleaved with the seed, ``measurements`` times: its latency, the seed's and their
        ratio (medians; ms on the table's scale).

        Always against the seed in the same run: a network's latency here depends on what ran around it (a
        network timed alone keeps its weights in the last-level cache, next to another it does not: the NetAdapt
        demo's final network measured 0.99 ms alone and 1.17 ms interleaved with the seed) and on the machine's
        drift, so only a ratio measured under the same conditions as the final comparison
        (``tools/search/compare_uniform.py``) can decide that the target is met.
        """
        pairs = [self.lut.measure_networks([model, self.seed], self.hw) for _ in range(self.measurements)]
        return dict(measured_ms=float(statistics.median(p[0] for p in pairs)),
                    seed_ms=float(statistics.median(p[1] for p in pairs)),
                    measured_ratio=float(statistics.median(p[0] / p[1] for p in pairs)))

    def _latency_entry(self, plan, predicted, measured: dict) -> dict:
        """What the history keeps of a measured network (the table's fit points)."""
        return dict(predicted_ms=predicted, **measured, block_sum_ms=self.lut.block_sum(self.seed, plan, self.hw),
                    params=self.lut.params(self.seed, plan))

    def _refit(self, state) -> float:
        """With ``stop='measured'``: refit the table's weight-streaming term on every network measured so far
        (seed + chosen). Returns the term in use (ms per million parameters)."""
        if self.stop == 'measured':
            self.lut.fit_overhead([(h['block_sum_ms'], h['params'], h['measured_ms']) for h in state['history']])
        return self.lut.overhead_per_mparam

    def _met(self, entry, state) -> bool:
        """Whether ``entry`` meets the target: its measured ratio to the seed (``stop='measured'``) or its
        predicted latency (``'predicted'``)."""
        if self.stop == 'measured':
            return entry['measured_ratio'] <= self.target_ratio
        return entry['predicted_ms'] <= state['target_ms']

    def _model(self, overrides, weights):
        model = build_variant(self.cfg, overrides)
        model.load_state_dict(weights, strict=True)
        return model.eval()

    # ------------------------------------------------------------ run
    def run(self, max_steps: Optional[int] = None) -> dict:
        """Run (or resume) the search; ``max_steps``: stop after that many steps in this call.

        Returns:
            dict: The state (``finished`` is True once the final model is written).
        """
        os.makedirs(self.work_dir, exist_ok=True)
        state = self._load_state()
        if state is None:
            t0 = time.time()
            seed_lat = self.lut.predict(self.seed, self.seed_plan, self.hw)
            acc = self.loop.evaluate(self.seed)
            seed_entry = dict(step=0, accuracy=acc, **self._latency_entry(self.seed_plan, seed_lat,
                                                                          self._measure(self.seed)))
            seed_ms = seed_entry['measured_ms'] if self.stop == 'measured' else seed_lat
            state = dict(settings=self.settings, step=0, overrides={}, seed_predicted_ms=seed_lat,
                         seed_measured_ms=seed_entry['measured_ms'], target_ms=self.target_ratio * seed_ms,
                         delta_ms=self.delta * seed_lat, finished=False, wall_s=0.0, history=[seed_entry])
            atomic_torch_save(self.seed.state_dict(), self._path('step_00.pth'))
            state['wall_s'] = time.time() - t0
            atomic_write_text(json.dumps(state, indent=1), self._path('state.json'))
            self.log(f'[netadapt] seed: predicted {seed_lat:.3f} ms, measured {seed_entry["measured_ms"]:.3f} ms, '
                     f'top-1 {acc:.2f}%; target {self.target_ratio} x the seed\'s {self.stop} latency '
                     f'({state["target_ms"]:.3f} ms), delta {state["delta_ms"]:.3f} ms')
        else:
            self.log(f'[netadapt] resuming {self.work_dir} after step {state["step"]}')
        if state['finished']:
            self.log('[netadapt] already finished')
            return state
        from mmv3.engine.safe_checkpoint import get_state_dict, load_checkpoint_safely
        overrides = _int_overrides(state['overrides'])
        weights = get_state_dict(load_checkpoint_safely(self._path(f'step_{state["step"]:02d}.pth'),
                                                        what='NetAdapt step weights'))
        current = self._model(overrides, weights)
        self._refit(state)
        done_now = 0
        while not self._met(state['history'][-1], state):
            if max_steps is not None and done_now >= max_steps:
                self.log(f'[netadapt] stopping after {done_now} step(s) (--max-steps); rerun to continue')
                return state
            t0 = time.time()
            step = state['step'] + 1
            prev = state['history'][-1]
            cur_lat, props = make_proposals(self.lut, self.seed, self.seed_plan, overrides, self.hw,
                                            state['delta_ms'], self.units)
            if not props:
                self.log(f'[netadapt] step {step}: no proposal cuts {state["delta_ms"]:.3f} ms; stopping short '
                         f'of the target')
                break
            cur_sd = current.state_dict()
            best, records = None, []
            for n, q in enumerate(props):
                model = build_variant(self.cfg, q.overrides)
                sd, _ = populate_state_dict(cur_sd, current.backbone.plan, model.backbone.plan,
                                            self.seed.backbone.spec, num_built=self.num_built)
                model.load_state_dict(sd, strict=True)
                self.loop.finetune(model, self.short_iters, run_seed=1000 * step + n)
                acc = self.loop.evaluate(model)
                d_lat = cur_lat - q.predicted
                score = (acc - prev['accuracy']) / max(abs(d_lat), 1e-9)
                rec = dict(q.to_json(), accuracy=acc, score=score)
                records.append(rec)
                self.log(f'[netadapt] step {step} proposal {n + 1}/{len(props)}: {q.describe():<34} '
                         f'{q.predicted:.3f} ms, top-1 {acc:.2f}%, score {score:+.3f}')
                if best is None or (score, -q.predicted) > (best[0], -best[1].predicted):
                    best = (score, q, model, rec)
            score, q, model, rec = best
            rec['chosen'] = True
            overrides = q.overrides
            current = model
            lat = self._latency_entry(q.plan, q.predicted, self._measure(model))
            entry = dict(step=step, **lat, accuracy=rec['accuracy'], chosen=rec['name'],
                         overrides=_json_overrides(overrides), proposals=records, wall_s=time.time() - t0)
            atomic_write_text(json.dumps(entry, indent=1), self._path(f'step_{step:02d}.json'))
            atomic_torch_save(current.state_dict(), self._path(f'step_{step:02d}.pth'))
            state.update(step=step, overrides=_json_overrides(overrides), wall_s=state['wall_s'] + entry['wall_s'])
            state['history'].append({k: entry[k] for k in ('step', 'predicted_ms', 'measured_ms', 'seed_ms',
                                                           'measured_ratio', 'block_sum_ms', 'params', 'accuracy',
                                                           'chosen')} | dict(proposals=[
                                                               dict(predicted_ms=r['predicted_ms'],
                                                                    accuracy=r['accuracy']) for r in records]))
            k = self._refit(state)
            state['overhead_per_mparam'] = k
            atomic_write_text(json.dumps(state, indent=1), self._path('state.json'))
            plot_history(self._path('netadapt.png'), state['history'])
            self.log(f'[netadapt] step {step}: chose {rec["name"]}: predicted {q.predicted:.3f} ms (measured '
                     f'{lat["measured_ms"]:.3f}, {lat["measured_ratio"]:.3f} x the seed), '
                     f'top-1 {rec["accuracy"]:.2f}%; streaming term {k:.4f} ms per M params'
                     + (f' (refitted on {len(state["history"])} measured networks)' if self.stop == 'measured' else ''))
            done_now += 1
        return self.finish(state, current, overrides)

    def finish(self, state, model, overrides) -> dict:
        """Long fine-tune, final accuracy and latency, ``netadapt_final.py`` / ``.pth``."""
        t0 = time.time()
        self.loop.finetune(model, self.long_iters, run_seed=999999)
        acc = self.loop.evaluate(model)
        measured = self._measure(model)
        final_ov = merge_overrides(self.cfg.model.backbone.get('arch_overrides', None), overrides)
        cfg_path = write_final_config(self._path('netadapt_final.py'), self.config_path, final_ov,
                                      f'{state["step"]} steps, target {self.target_ratio} x the seed latency')
        atomic_torch_save(dict(state_dict=model.state_dict(), meta=dict(netadapt=_json_overrides(final_ov))),
                          self._path('netadapt_final.pth'))
        state.update(finished=True, wall_s=state['wall_s'] + time.time() - t0,
                     final=dict(config=cfg_path, checkpoint=self._path('netadapt_final.pth'), accuracy=acc,
                                predicted_ms=state['history'][-1]['predicted_ms'], long_iters=self.long_iters,
                                **measured))
        atomic_write_text(json.dumps(state, indent=1), self._path('state.json'))
        plot_history(self._path('netadapt.png'), state['history'])
        self.log(f'[netadapt] final: {cfg_path}: predicted {state["final"]["predicted_ms"]:.3f} ms, measured '
                 f'{measured["measured_ms"]:.3f} ms = {measured["measured_ratio"]:.3f} x the seed (target '
                 f'{self.target_ratio} x), top-1 {acc:.2f}% after {self.long_iters} iterations; search wall time '
                 f'{state["wall_s"]:.0f} s')
        return state


__all__ = ['NetAdapt', 'TaskLoop', 'write_final_config', 'plot_history']
