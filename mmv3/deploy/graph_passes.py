"""ONNX graph passes of mmv3's int8 recipe (ONNX Runtime QOperator graphs).

- :func:`float_nodes` (:func:`stem_nodes`, :func:`output_resize_nodes`, :func:`pool_conv_nodes`,
  :func:`match_nodes`): the nodes quantization leaves in float, where ONNX Runtime's uint8 kernels are
  slower than its float ones or int8 costs the most accuracy.
- :func:`float_output_gemm`: a classifier's logits written in float by its ``QGemm``.
- :func:`hard_sigmoid_to_clip`: every hard-sigmoid (h-swish's gate, the SE gates) as one integer
  ``Clip`` instead of dequantize -> float HardSigmoid -> quantize.
"""
import fnmatch
from typing import Dict, List, Optional, Sequence

import numpy as np


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


def match_nodes(model, patterns: Sequence[str]) -> List[str]:
    """Names of the nodes of ``model`` (an ``onnx.ModelProto`` whose nodes all have names) matched by any
    of the ``fnmatch`` ``patterns`` (e.g. ``'*/layer16/*'``, ``'*/head/layers.1/*'``), in graph order.

    A node matches by its name or by the name of one of its outputs, so the nodes ONNX Runtime inlines
    from functions (h-swish's ``HardSigmoid`` / ``Mul``, named after their outputs by :func:`float_nodes`)
    follow the conv they belong to. A pattern that matches no node is refused (``ValueError``): a typo
    would otherwise quantize everything silently.
    """
    names, unmatched = [], []
    for pattern in patterns:
        hits = [n.name for n in model.graph.node
                if fnmatch.fnmatchcase(n.name, pattern) or any(fnmatch.fnmatchcase(o, pattern) for o in n.output)]
        if not hits:
            unmatched.append(pattern)
        names += [h for h in hits if h not in names]
    if unmatched:
        example = next((n.name for n in model.graph.node if n.op_type == 'Conv'), '')
        raise ValueError(f'keep-float pattern(s) {", ".join(map(repr, unmatched))} match no node of the graph '
                         f'(fnmatch on node names such as {example!r})')
    return names


#: elementwise activation ops :func:`pool_conv_nodes` walks through between a conv and its pooling
_ACTIVATIONS = ('Relu', 'Clip', 'HardSigmoid', 'HardSwish', 'Sigmoid', 'Mul')


def pool_conv_nodes(model) -> List[str]:
    """Names of the conv that feeds a classifier's global pooling, and of its activation nodes
    (``model``: an ``onnx.ModelProto`` whose nodes all have names); empty when there is none.

    The classifier's pooling is a ``GlobalAveragePool`` none of whose consumers is a ``Conv`` (an SE
    block's pool feeds its 1x1 convs); walking back from it through activation nodes (h-swish is
    ``x * HardSigmoid(x)``) reaches the conv: on V3-Large the 160 -> 960 1x1 conv at 7x7 (``layer16``).

    Why float: ONNX Runtime quantizes that conv's h-swish twice (its input, the conv output, and its
    output, after an integer-clip gate), and the 49 positions of each channel are then averaged, so
    the rounding offsets of one channel add up instead of averaging out. Measured on the ``make
    demo-int8`` stand-ins (README; error = mean max-abs logit error over the mean max-abs logit):
    keeping it float cut the error from 0.037 to 0.021 (seed 0) and 0.054 to 0.022 (seed 2), raised it
    from 0.020 to 0.025 on seed 1, at no measurable latency (7.5 M of 217 M multiply-adds).
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers: Dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    names: List[str] = []
    for pool in model.graph.node:
        if pool.op_type != 'GlobalAveragePool' or any(c.op_type == 'Conv' for c in consumers.get(pool.output[0], [])):
            continue
        chain, frontier, conv = [], [pool.input[0]], None
        while frontier and conv is None:
            node = producer.get(frontier.pop())
            if node is None or node.name in chain:
                continue
            if node.op_type == 'Conv':
                conv = node
            elif node.op_type in _ACTIVATIONS:
                chain.append(node.name)
                frontier.extend(i for i in node.input if i in producer)
            else:
                break
        if conv is not None:
            names += [n for n in [conv.name] + chain if n not in names]
    return names


def float_nodes(path: str, float_stem: bool = True, keep_float: Sequence[str] = (),
                float_last_conv: bool = False) -> List[str]:
    """The nodes of the ONNX model at ``path`` that :func:`quantize_onnx` leaves in float: the final
    output ``Resize`` (:func:`output_resize_nodes`), with ``float_stem`` the stem (:func:`stem_nodes`),
    with ``float_last_conv`` the conv before the classifier's pooling (:func:`pool_conv_nodes`), and the
    nodes matched by the ``keep_float`` patterns (:func:`match_nodes`).

    Unnamed nodes (e.g. the ones ``quant_pre_process`` inlines from functions) get names first, so that
    ``quantize_static(nodes_to_exclude=...)`` can refer to them; the model is saved back in place.
    """
    import onnx
    model = onnx.load(path)
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f'{node.op_type}_{i}_{node.output[0]}'
    names = (stem_nodes(model) if float_stem else []) + output_resize_nodes(model)
    extra = (pool_conv_nodes(model) if float_last_conv else []) + match_nodes(model, keep_float)
    names += [n for n in extra if n not in names]
    onnx.save(model, path)
    return names


_QRANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}


def _rebuild(model, drop: set, replace: Optional[dict] = None) -> None:
    """Drop the nodes whose ``id`` is in ``drop``, swap those in ``replace`` (``id`` -> node), remove the
    initializers no node reads any more, and check the model."""
    import onnx
    graph = model.graph
    replace = replace or {}
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    onnx.checker.check_model(model)


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
        _rebuild(model, drop, replace)
    onnx.save(model, out_path or path)
    return count


def float_output_gemm(path: str, out_path: Optional[str] = None) -> int:
    """Let a quantized ``QGemm`` that produces a graph output (a classifier's logits) write float.

    ONNX Runtime's QOperator quantizer quantizes every graph output: the classifier ``QGemm`` writes
    uint8 logits (``y_scale``, ``y_zero_point``) and a ``DequantizeLinear`` turns them back into float.
    That rounds the logits themselves to the calibrated output grid (0.077 on the ``make demo-int8``
    stand-in, seed 1, logits in [-3.5, 16.2]): two logits closer than one step become equal and the
    argmax takes the lower class index, so every near-tie between two classes flips the same way (the
    8 disagreements of that seed all went to the lower index). ``QGemm`` without ``y_scale`` writes
    float (``alpha * A' B' + C`` with the int32 bias), so the pass drops the output quantization and the
    ``DequantizeLinear``: the logits keep the accumulator's precision, at no cost in speed.

    Args:
        path (str): A QOperator-format int8 ONNX model.
        out_path (str, optional): Where to write the result. Default: overwrite ``path``.

    Returns:
        int: The number of ``QGemm`` nodes rewritten.
    """
    import onnx
    model = onnx.load(path)
    graph = model.graph
    outputs = {o.name for o in graph.output}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: Dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    drop, count = set(), 0
    for dq in [n for n in graph.node if n.op_type == 'DequantizeLinear' and n.output[0] in outputs]:
        gemm = producer.get(dq.input[0])
        if gemm is None or gemm.op_type != 'QGemm' or len(gemm.input) < 9 or len(consumers[dq.input[0]]) != 1:
            continue
        del gemm.input[7:]  # y_scale, y_zero_point: absent = float output
        gemm.output[0] = dq.output[0]
        drop.add(id(dq))
        count += 1
    if count:
        _rebuild(model, drop)
    onnx.save(model, out_path or path)
    return count
