"""NetAdapt (tools/search/netadapt.py, mmv3.search) and the latency look-up table (mmv3.analysis.latency_table).

Fast: V3-Small x0.35 at 32x32 on a generated ImageNet-format sample, a deterministic cost model in
place of timing (``LatencyTable(measure=...)``: the table's caching, keys, prediction and the
search's logic are the real ones), 1-iteration fine-tunes.
"""
import copy
import json
import os.path as osp
import warnings

import pytest
import torch
import torch.nn as nn

from mmv3.analysis.latency_table import LatencyTable
from mmv3.apis import build_model, load_config, load_weights
from mmv3.models.backbones.base_mobilenet import override_widths
from mmv3.search import build_variant, load_seed, make_proposals, search_units
from mmv3.search.populate import populate_state_dict

warnings.filterwarnings('ignore')
TINY = osp.join(osp.dirname(__file__), 'data', 'configs', 'tiny_cls_imagenet.py')
HW = (32, 32)


def cost_ms(module, shape):
    """Deterministic 'latency': 1 ns per conv multiply-accumulate + 0.01 ms per call."""
    macs = []

    def hook(m, inp, out):
        macs.append(m.weight.numel() * out.shape[-1] * out.shape[-2])
    hs = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
          and not isinstance(m, nn.Linear)]
    lin = sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        module(torch.zeros(shape))
    for h in hs:
        h.remove()
    return 1e-6 * (sum(macs) + lin) + 0.01


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from mmv3.testing.sample_data import make_imagenet
    root = str(tmp_path_factory.mktemp('imagenet'))
    make_imagenet(root, num_train=12, num_val=6, img_size=(32, 32))
    return root


def seed_cfg(root):
    return {'train_dataloader.dataset.data_root': root, 'test_dataloader.dataset.data_root': root}


@pytest.fixture(scope='module')
def seed(data_root):
    return load_seed(TINY, seed_cfg(data_root))


def make_lut(tmp_path):
    return LatencyTable('fake', cache_dir=str(tmp_path), measure=cost_ms, progress=False)


def test_lut_caches_and_sums(seed, tmp_path):
    cfg, model = seed
    lut = make_lut(tmp_path)
    calls = []
    lut._measure_fn = lambda m, s: calls.append(s) or cost_ms(m, s)
    br = lut.breakdown(model, model.backbone.plan, HW)
    n_blocks = len(model.backbone.layer_names) + 1
    assert len(br['keys']) == n_blocks
    assert br['total'] == pytest.approx(sum(br['layers']) + br['head'])  # not calibrated: no overhead term
    assert len(calls) == len(set(br['keys']))  # each configuration measured once
    again = make_lut(tmp_path)  # a new table reads the cache from disk
    again._measure_fn = lambda m, s: pytest.fail('measured although cached')
    assert again.predict(model, model.backbone.plan, HW) == pytest.approx(br['total'])
    # calibration: the seed's prediction is its measured latency
    lut._measure_fn = cost_ms
    lut.calibrate(model, HW)
    assert lut.predict(model, model.backbone.plan, HW) == pytest.approx(lut.measure_network(model, HW), rel=1e-6)


def test_proposals_cut_delta_and_groups_shrink_together(seed, tmp_path):
    cfg, model = seed
    bb = model.backbone
    lut = make_lut(tmp_path)
    lut.calibrate(model, HW)
    seed_ms = lut.predict(model, bb.plan, HW)
    delta = 0.02 * seed_ms
    units = search_units(bb.plan, bb.int_taps, list(bb.inner_taps), len(bb.layer_names))
    cur, props = make_proposals(lut, model, bb.plan, {}, HW, delta, units)
    assert cur == pytest.approx(seed_ms)
    kinds = {q.kind for q in props}
    assert kinds == {'expand', 'bottleneck'}
    groups = set(bb.residual_groups())
    for q in props:
        assert cur - lut.predict(model, q.plan, HW) >= delta  # cuts at least delta in the prediction
        assert q.width % 8 == 0 and q.width < q.old_width
        if q.width + 8 < q.old_width:  # and it is the smallest such shrink (8 channels less would not do)
            from mmv3.search.proposals import Unit, with_width
            unit = Unit(q.kind, q.rows, 'exp' if q.kind == 'expand' else 'out')
            try:
                wider = override_widths(bb.plan, with_width({}, unit, q.width + 8))
            except ValueError:
                wider = None
            if wider is not None:
                assert cur - lut.predict(model, wider, HW) < delta
        if q.kind == 'bottleneck':
            assert len(q.rows) == 1 or q.rows in groups
            assert {q.plan[r].out for r in q.rows} == {q.width}
            built = build_variant(cfg, q.overrides).backbone  # residual connections kept
            assert [p.residual for p in built.plan] == [p.residual for p in bb.plan]
    assert any(q.kind == 'bottleneck' and len(q.rows) > 1 for q in props)  # a whole group shrinks at once
    for g in groups:  # every residual group is one proposal unit, never a part of it
        assert not any(q.kind == 'bottleneck' and set(q.rows) < set(g) for q in props)


def test_populate_keeps_largest_l1_filters_exactly(seed, tmp_path):
    cfg, model = seed
    model = copy.deepcopy(model)
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_()
    bb = model.backbone
    g = max(bb.residual_groups(), key=len)
    e = next(i for i, p in enumerate(bb.plan) if p.expand and p.se)
    ov = {r: dict(out=bb.plan[g[0]].out - 8) for r in g}
    ov.setdefault(e, {})['exp'] = bb.plan[e].mid - 8
    new = build_variant(cfg, ov)
    sd, keep = populate_state_dict(model.state_dict(), bb.plan, new.backbone.plan, bb.spec,
                                   num_built=len(bb.layer_names))
    new.load_state_dict(sd, strict=True)
    old_l, new_l = bb, new.backbone
    # expansion: the kept channels are the largest-L1 expand filters, copied exactly everywhere they appear
    w = getattr(old_l, f'layer{e}').expand_conv.conv.weight
    k = keep[('M', e)]
    assert torch.equal(k, torch.sort(torch.topk(w.abs().flatten(1).sum(1), len(k)).indices).values)
    a, b = getattr(old_l, f'layer{e}'), getattr(new_l, f'layer{e}')
    assert torch.equal(b.expand_conv.conv.weight, a.expand_conv.conv.weight[k])
    assert torch.equal(b.expand_conv.bn.running_var, a.expand_conv.bn.running_var[k])
    assert torch.equal(b.depthwise_conv.conv.weight, a.depthwise_conv.conv.weight[k])
    assert torch.equal(b.se.conv2.conv.bias, a.se.conv2.conv.bias[k])
    proj = a.linear_conv.conv.weight
    if ('O', e) in keep:  # the block is in the shrunk group too
        proj = proj[keep[('O', e)]]
    assert torch.equal(b.linear_conv.conv.weight, proj[:, k])
    # residual group: one channel set for all rows (largest summed L1), consumers sliced on their inputs
    ko = keep[('O', g[0])]
    score = sum(getattr(old_l, f'layer{r}').linear_conv.conv.weight.abs().flatten(1).sum(1) for r in g)
    assert torch.equal(ko, torch.sort(torch.topk(score, len(ko)).indices).values)
    for r in g:
        assert torch.equal(keep[('O', r)], ko)
        assert torch.equal(getattr(new_l, f'layer{r}').linear_conv.bn.weight,
                           getattr(old_l, f'layer{r}').linear_conv.bn.weight[ko])
    nxt = g[-1] + 1
    assert torch.equal(getattr(new_l, f'layer{nxt}').expand_conv.conv.weight,
                       getattr(old_l, f'layer{nxt}').expand_conv.conv.weight[:, ko])


def _search(cfg, model, work_dir, lut, logs, **kwargs):
    from mmv3.search.netadapt import NetAdapt, TaskLoop
    loop = TaskLoop(cfg, lr=0.01, max_val_batches=2)
    opts = dict(target_ratio=0.9, delta=0.04, short_iters=1, long_iters=1) | kwargs
    return NetAdapt(cfg, TINY, model, lut, loop, str(work_dir), HW, log=logs.append, **opts)


def test_fit_overhead_is_least_squares_through_origin(tmp_path):
    lut = make_lut(tmp_path)
    # measured - block sum = k x params (params in millions): exact points give k back
    k = lut.fit_overhead([(1.0, 2e6, 1.0 + 2 * 0.3), (0.5, 1e6, 0.5 + 0.3)])
    assert k == pytest.approx(0.3) and lut.overhead_per_mparam == pytest.approx(0.3)
    # noisy points: sum(p r) / sum(p^2)
    k = lut.fit_overhead([(1.0, 1e6, 1.2), (1.0, 2e6, 1.2)])
    assert k == pytest.approx((1 * 0.2 + 2 * 0.2) / (1 + 4))
    with pytest.raises(ValueError):
        lut.fit_overhead([])


def test_measured_stop_meets_the_target_where_the_prediction_misleads(seed, tmp_path):
    """A network measurement with a fixed cost the blocks do not have (per-call overhead): calibrated on the
    seed, the table books that cost as weight streaming and over-predicts the savings of narrower networks.
    Stopping on the prediction then ends above the target; stopping on the measurement does not."""
    from mmv3.apis import TaskWrapper
    cfg, model = seed
    fixed = 2.0 * cost_ms(TaskWrapper(model, 'cls').eval(), (1, 3) + HW)

    def measure(module, shape):
        return cost_ms(module, shape) + (fixed if isinstance(module, TaskWrapper) else 0.0)

    final = {}
    for stop in ('predicted', 'measured'):
        lut = LatencyTable('fake', cache_dir=str(tmp_path / 'cache'), measure=measure, progress=False)
        lut.calibrate(model, HW)
        logs = []
        state = _search(cfg, model, tmp_path / stop, lut, logs, stop=stop, delta=0.06, short_iters=0,
                        long_iters=0).run()
        assert state['finished'] and state['settings']['stop'] == stop
        hist = state['history']
        assert all({'block_sum_ms', 'params', 'measured_ms'} <= set(h) for h in hist)
        if stop == 'measured':  # the streaming term is refitted on every measured network (seed + chosen ones)
            pts = [(h['block_sum_ms'], h['params'], h['measured_ms']) for h in hist]
            refit = LatencyTable('fake', cache_dir=str(tmp_path / 'c2'), measure=measure, progress=False)
            assert state['overhead_per_mparam'] == pytest.approx(refit.fit_overhead(pts))
        assert all(h['measured_ratio'] == pytest.approx(h['measured_ms'] / h['seed_ms']) for h in hist)
        final[stop] = (state['final']['measured_ms'], state['target_ms'], state['seed_measured_ms'])
        if stop == 'measured':  # measured interleaved with the seed: the ratio decides
            assert state['final']['measured_ratio'] <= 0.9 < hist[-2]['measured_ratio']
    measured, target, seed_ms = final['measured']
    assert target == pytest.approx(0.9 * seed_ms)  # the target is a fraction of the seed's measured latency
    assert measured <= target
    p_measured, _, _ = final['predicted']
    assert p_measured > 0.9 * seed_ms  # the prediction alone stops above the measured target


def test_bad_stop_rule_is_refused(seed, tmp_path):
    from mmv3.apis import ToolError
    cfg, model = seed
    with pytest.raises(ToolError, match='--stop must be one of measured|predicted'):
        _search(cfg, model, tmp_path / 'w', make_lut(tmp_path), [], stop='guess')
    with pytest.raises(ToolError, match='--measurements'):
        _search(cfg, model, tmp_path / 'w', make_lut(tmp_path), [], measurements=0)


def test_search_resumes_and_final_config_meets_target(seed, tmp_path, data_root):
    cfg, model = seed
    lut = make_lut(tmp_path / 'cache')
    lut.calibrate(model, HW)
    work = tmp_path / 'search'
    logs = []
    state = _search(cfg, model, work, lut, logs).run(max_steps=1)  # "killed" after one finished step
    assert state['step'] == 1 and not state['finished']
    step1 = (work / 'step_01.json').read_text()
    chosen = json.loads(step1)
    assert chosen['proposals'] and sum(bool(p.get('chosen')) for p in chosen['proposals']) == 1
    assert not (work / 'step_02.json').exists() and not (work / 'netadapt_final.py').exists()

    logs2 = []
    state = _search(cfg, model, work, lut, logs2).run()
    assert 'resuming' in logs2[0] and 'after step 1' in logs2[0]
    assert any(line.startswith('[netadapt] step 2 proposal 1/') for line in logs2)  # continues at step 2
    assert not any(line.startswith('[netadapt] step 1 ') for line in logs2)
    assert (work / 'step_01.json').read_text() == step1  # the finished step is not redone
    assert state['finished'] and state['step'] >= 2
    assert (work / 'netadapt.png').is_file()

    # the final config builds (``_base_`` = the seed config, only the widths) and meets the target
    final_cfg = load_config(str(work / 'netadapt_final.py'), seed_cfg(data_root))
    assert dict(final_cfg.model.backbone.arch_overrides) == {int(k): v for k, v in state['overrides'].items()}
    final = build_model(final_cfg)
    load_weights(final, str(work / 'netadapt_final.pth'))
    assert lut.measure_network(final, HW) <= state['target_ms']  # --stop measured (the default)
    assert lut.predict(final, final.backbone.plan, HW) < lut.predict(model, model.backbone.plan, HW)


def test_cli_refusals(tmp_path, capsys):
    import importlib.util
    from mmv3.apis import run_cli
    tool = osp.join(osp.dirname(__file__), '..', 'tools', 'search', 'netadapt.py')
    spec = importlib.util.spec_from_file_location('netadapt_tool', tool)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    seg = osp.join(osp.dirname(__file__), '..', 'configs', 'seg', 'lraspp_v3_small_cityscapes.py')
    ckpt = tmp_path / 'x.pth'
    torch.save({}, ckpt)
    for args, msg in [([seg, '--target-ratio', '0.8'], 'supports mmpretrain classification configs'),
                      ([TINY, '--target-ratio', '1.5'], '--target-ratio must be in (0, 1)'),
                      ([TINY, '--target-ratio', '0.8', '--proposals', 'width'], '--proposals'),
                      ([TINY, '--target-ratio', '0.8', '--runtime', 'tensorrt'], "runtime 'tensorrt' is not registered")]:
        with pytest.raises(SystemExit) as e:
            run_cli(mod.main, 'netadapt.py', [*args, '--checkpoint', str(ckpt), '--work-dir', str(tmp_path / 'w')])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith('netadapt.py: error: ') and msg in err, err
    assert not (tmp_path / 'w').exists()


def test_table_times_layers_as_the_backbone_builds_them(seed, tmp_path):
    """TF-padded backbones with TF's SE gate: the timed blocks have the same padding and gate, and keys differ."""
    from mmv3.models.layers import Conv2dSame, QSigmoid
    cfg, _ = seed
    tf_cfg = copy.deepcopy(cfg)
    tf_cfg.model.backbone.update(pad_type='same', se_gate_cfg=dict(type='mmv3.QSigmoid'))
    tf_model, model = build_model(tf_cfg), build_model(cfg)
    lut = make_lut(tmp_path)
    items = lut.layer_items(tf_model, tf_model.backbone.plan, HW)
    plain = lut.layer_items(model, model.backbone.plan, HW)
    blocks = [make()[0] for _, make in items[:-1]]
    kinds = [type(m) for b in blocks for m in b.modules()]
    own = [type(m) for n in tf_model.backbone.layer_names for m in getattr(tf_model.backbone, n).modules()]
    assert kinds.count(Conv2dSame) == own.count(Conv2dSame) > 0
    assert kinds.count(QSigmoid) == own.count(QSigmoid) > 0
    assert {k for k, _ in items[:-1]}.isdisjoint(k for k, _ in plain[:-1])  # cached apart from the plain layers


def test_timings_are_scaled_by_the_interleaved_reference(tmp_path, monkeypatch):
    """A machine that halves its speed between two timings of the same block: the reference workload timed
    with each brings both onto the table's scale (the first timing of the reference)."""
    import time

    class Cost(nn.Module):
        def __init__(self, seconds):
            super().__init__()
            self.seconds = seconds

    speed = dict(factor=1.0)

    def fake_bind(module, shape, stem):
        cost = 0.002 if stem == 'reference' else module.seconds
        return lambda: time.sleep(cost * speed['factor'])

    lut = LatencyTable('ort', cache_dir=str(tmp_path), repeat=5, warmup=1, clock='wall', progress=False)
    monkeypatch.setattr(lut, '_bind', fake_bind)
    a, b = lut.time_modules([(Cost(0.004), (1, )), (Cost(0.008), (1, ))])
    assert lut.reference_ms == pytest.approx(2.0, rel=0.3)
    assert b / a == pytest.approx(2.0, rel=0.2)  # interleaved: the ratio of the two is kept
    speed['factor'] = 2.0  # the machine slows down
    (a2, ) = lut.time_modules([(Cost(0.004), (1, ))])
    assert a2 == pytest.approx(a, rel=0.2)  # without the reference scale it would be 2x
    raw = lut._time_interleaved([fake_bind(Cost(0.004), (1, ), 'x')])[0]
    assert raw == pytest.approx(2 * a, rel=0.2)
    assert json.loads(open(lut.path).read())['entries']['reference 1x1 32-96, dw3x3 96, 1x1 96-32 relu 56x56'] == \
        pytest.approx(lut.reference_ms)  # the scale is cached with the table


def test_uniform_match_is_decided_by_interleaved_timing_with_the_target(seed, tmp_path):
    from mmv3.search.uniform import match_latency, uniform_overrides
    cfg, model = seed
    lut = make_lut(tmp_path)
    lut.calibrate(model, HW)
    bb = model.backbone
    target = build_variant(cfg, uniform_overrides(cfg, bb.plan, 0.75, len(bb.layer_names)))
    pred = lut.predict(model, target.backbone.plan, HW)
    alpha, _, tried = match_latency(lut, cfg, model, HW, pred, [1.0, 0.875, 0.75, 0.625, 0.5], target_model=target)
    assert alpha == 0.75 and 2 <= len(tried) <= 5  # a bisection over the five alphas
    best = next(t for t in tried if t['alpha'] == 0.75)
    assert best['measured_ratio'] == pytest.approx(1.0) and best['measured_ms'] == pytest.approx(best['target_ms'])
