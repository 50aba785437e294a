"""Graph passes on LiteRT ``.tflite`` files, and which of their ops the XNNPACK delegate runs.

Why (issue 16, item 3): an int8 MobileNetV3 from either of Google's PyTorch paths (litert-torch's PT2E
quantizer, or ai-edge-quantizer on the float ``.tflite``) has ``HARD_SWISH`` ops on **int8** tensors.
LiteRT's XNNPACK delegate takes ``HARD_SWISH`` only on float tensors (``VisitUnaryNode`` in
``tflite/delegates/xnnpack/xnnpack_delegate.cc`` checks ``CheckTensorFloatType`` for it, while
``DEQUANTIZE``, ``QUANTIZE``, int8 ``ADD`` / ``MUL`` / ``CONV_2D`` / ``DEPTHWISE_CONV_2D`` / ``MEAN`` /
``FULLY_CONNECTED`` are delegated), so each int8 h-swish runs on TFLite's own int8 kernel and cuts the
delegated graph in two: V3-Large's 21 h-swish give 22 XNNPACK partitions instead of 1
(:func:`xnnpack_partitions` shows it). The passes here rewrite the flatbuffer so that everything is
delegated again:

- :func:`hard_swish_to_float`: ``int8 HARD_SWISH`` -> ``DEQUANTIZE`` -> float ``HARD_SWISH`` -> ``QUANTIZE``
  (the same function at float precision, three XNNPACK nodes);
- :func:`hard_swish_to_int8_ops`: ``int8 HARD_SWISH`` -> ``MUL(x, 1/6)`` -> ``ADD(., 1/2)`` saturating to
  ``[0, 1]`` (the int8 output range *is* the clamp of hard-sigmoid) -> ``MUL(x, .)``: three int8 XNNPACK
  nodes, ``x * relu6(x + 3) / 6`` with the gate rounded to 1/255;
- :func:`float_io`: int8 graph inputs / outputs get a ``QUANTIZE`` / ``DEQUANTIZE`` inside the graph, so
  the int8 model takes and returns float32 like every other mmv3 runtime (and the quantization of the
  input is timed, as ONNX Runtime's int8 graph does).

They need only ``ai-edge-litert`` (its flatbuffer schema and interpreter), not litert-torch.
"""
import collections
from typing import Dict, List, Optional

import numpy as np


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def read_model(path: str):
    """The ``.tflite`` at ``path`` as a mutable ``ModelT``."""
    from ai_edge_litert.tools import flatbuffer_utils
    with open(path, 'rb') as f:
        return flatbuffer_utils.read_model_from_bytearray(bytearray(f.read()))


def write_model(model, path: str) -> str:
    """Write a ``ModelT`` to ``path``."""
    from ai_edge_litert.tools import flatbuffer_utils
    flatbuffer_utils.write_model(model, path)
    return path


def _opcode_name(model, opcode_index: int) -> str:
    schema = _schema()
    code = model.operatorCodes[opcode_index]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith('_')}
    return names.get(builtin, f'BUILTIN_{builtin}')


def _opcode(model, builtin: int, version: int) -> int:
    """Index of the operator code of ``builtin`` (added when missing; version raised to ``version``)."""
    schema = _schema()
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin and not code.customCode:
            code.version = max(code.version, version)
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _empty_buffer(model) -> int:
    schema = _schema()
    model.buffers.append(schema.BufferT())
    return len(model.buffers) - 1


def _tensor(model, graph, name: str, shape, dtype: int, scale: Optional[float] = None, zero_point: int = 0,
            data: Optional[np.ndarray] = None) -> int:
    """Append a tensor (with a constant ``data`` buffer, or an empty one) and return its index."""
    schema = _schema()
    t = schema.TensorT()
    t.name = name
    t.shape = np.asarray(shape, np.int32)
    t.type = dtype
    if data is None:
        t.buffer = _empty_buffer(model)
    else:
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        model.buffers.append(buf)
        t.buffer = len(model.buffers) - 1
    if scale is not None:
        q = schema.QuantizationParametersT()
        q.scale = [float(scale)]
        q.zeroPoint = [int(zero_point)]
        t.quantization = q
    graph.tensors.append(t)
    return len(graph.tensors) - 1


def _op(model, builtin: int, version: int, inputs: List[int], outputs: List[int], options=None,
        options_type: int = 0):
    schema = _schema()
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(model, builtin, version)
    op.inputs = np.asarray(inputs, np.int32)
    op.outputs = np.asarray(outputs, np.int32)
    if options is not None:
        op.builtinOptionsType = options_type
        op.builtinOptions = options
    return op


def _qparams(tensor):
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) != 1:
        return None
    return float(q.scale[0]), int(q.zeroPoint[0]) if q.zeroPoint is not None else 0


def _int8_hard_swish_ops(model, graph):
    """``(index, op)`` of the HARD_SWISH ops whose input and output are per-tensor int8."""
    schema = _schema()
    out = []
    for i, op in enumerate(graph.operators):
        if _opcode_name(model, op.opcodeIndex) != 'HARD_SWISH':
            continue
        x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        if x.type == schema.TensorType.INT8 and y.type == schema.TensorType.INT8 and _qparams(x) and _qparams(y):
            out.append((i, op))
    return out


def hard_swish_to_float(model) -> int:
    """Run every int8 ``HARD_SWISH`` as ``DEQUANTIZE -> HARD_SWISH (float32) -> QUANTIZE``.

    Returns:
        int: The number of ops rewritten.
    """
    schema = _schema()
    n = 0
    for graph in model.subgraphs:
        for i, op in reversed(_int8_hard_swish_ops(model, graph)):
            x, y = int(op.inputs[0]), int(op.outputs[0])
            shape = graph.tensors[x].shape
            xf = _tensor(model, graph, f'{graph.tensors[x].name}/dequantized', shape, schema.TensorType.FLOAT32)
            yf = _tensor(model, graph, f'{graph.tensors[y].name}/float', shape, schema.TensorType.FLOAT32)
            new = [_op(model, schema.BuiltinOperator.DEQUANTIZE, 2, [x], [xf]),
                   _op(model, schema.BuiltinOperator.HARD_SWISH, 1, [xf], [yf]),
                   _op(model, schema.BuiltinOperator.QUANTIZE, 2, [yf], [y])]
            graph.operators[i:i + 1] = new
            n += 1
    return n


def hard_swish_to_int8_ops(model) -> int:
    """Run every int8 ``HARD_SWISH`` as three int8 ops XNNPACK delegates.

    ``u = MUL(x, 1/6)`` (``u`` quantized with ``x``'s scale / 6: exact), ``g = ADD(u, 1/2)`` with ``g``
    quantized on ``[0, 1]`` (scale 1/255, zero point -128: the int8 saturation is hard-sigmoid's clamp),
    ``y = MUL(x, g)`` into the original output tensor.

    Returns:
        int: The number of ops rewritten.
    """
    schema = _schema()
    n = 0
    int8 = schema.TensorType.INT8
    for graph in model.subgraphs:
        for i, op in reversed(_int8_hard_swish_ops(model, graph)):
            x, y = int(op.inputs[0]), int(op.outputs[0])
            sx, zx = _qparams(graph.tensors[x])
            shape = graph.tensors[x].shape
            name = graph.tensors[x].name
            sixth = _tensor(model, graph, f'{name}/one_sixth', [], int8, (1 / 6) / 127, 0, np.array([127], np.int8))
            half = _tensor(model, graph, f'{name}/one_half', [], int8, 0.5 / 127, 0, np.array([127], np.int8))
            u = _tensor(model, graph, f'{name}/div6', shape, int8, sx / 6, zx)
            g = _tensor(model, graph, f'{name}/hard_sigmoid', shape, int8, 1 / 255, -128)
            ops, opts = schema.BuiltinOperator, schema.BuiltinOptions
            new = [_op(model, ops.MUL, 2, [x, sixth], [u], schema.MulOptionsT(), opts.MulOptions),
                   _op(model, ops.ADD, 2, [u, half], [g], schema.AddOptionsT(), opts.AddOptions),
                   _op(model, ops.MUL, 2, [x, g], [y], schema.MulOptionsT(), opts.MulOptions)]
            graph.operators[i:i + 1] = new
            n += 1
    return n


def float_io(model) -> int:
    """Give an int8 model float32 inputs and outputs (``QUANTIZE`` / ``DEQUANTIZE`` inside the graph).

    The signature's tensor indices follow. Returns the number of inputs + outputs changed.
    """
    schema = _schema()
    n = 0
    graph = model.subgraphs[0]
    remap = {}
    new_first, new_last = [], []
    for k, t_idx in enumerate(list(graph.inputs)):
        t = graph.tensors[t_idx]
        if t.type != schema.TensorType.INT8 or _qparams(t) is None:
            continue
        f = _tensor(model, graph, f'{t.name}/float', t.shape, schema.TensorType.FLOAT32)
        graph.tensors[f].shapeSignature = t.shapeSignature
        new_first.append(_op(model, schema.BuiltinOperator.QUANTIZE, 2, [f], [t_idx]))
        graph.inputs[k] = f
        remap[int(t_idx)] = f
        n += 1
    for k, t_idx in enumerate(list(graph.outputs)):
        t = graph.tensors[t_idx]
        if t.type != schema.TensorType.INT8 or _qparams(t) is None:
            continue
        f = _tensor(model, graph, f'{t.name}/float', t.shape, schema.TensorType.FLOAT32)
        graph.tensors[f].shapeSignature = t.shapeSignature
        new_last.append(_op(model, schema.BuiltinOperator.DEQUANTIZE, 2, [t_idx], [f]))
        graph.outputs[k] = f
        remap[int(t_idx)] = f
        n += 1
    graph.operators = new_first + list(graph.operators) + new_last
    for sig in model.signatureDefs or []:
        for tm in list(sig.inputs or []) + list(sig.outputs or []):
            tm.tensorIndex = remap.get(int(tm.tensorIndex), tm.tensorIndex)
    return n


def _buffer_array(model, tensor, dtype) -> np.ndarray:
    data = model.buffers[tensor.buffer].data
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype)


def restore_dead_channels(model, float_model) -> int:
    """Re-quantize the bias of output channels whose int8 weights are all zero, from the float model.

    ai-edge-quantizer gives an all-zero weight channel a ~1e-11 scale, so its int32 bias scale
    (input scale x weight scale) is ~1e-13 and any real bias saturates at -2**31 (a probe classifier's
    unfitted classes: bias -30 became ~0). Such a channel's weights are zero whatever their scale, so
    the scale is set to 1 and the bias re-quantized from ``float_model`` (the ``.tflite`` the quantizer
    read; bias tensors matched by name). Returns the number of channels fixed.
    """
    schema = _schema()
    layers = {'CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'}
    fixed = 0
    for graph, fgraph in zip(model.subgraphs, float_model.subgraphs):
        by_name = {t.name: t for t in fgraph.tensors if t.name}
        for op in graph.operators:
            if _opcode_name(model, op.opcodeIndex) not in layers or len(op.inputs) < 3 or op.inputs[2] < 0:
                continue
            x, w, b = (graph.tensors[i] for i in op.inputs[:3])
            fb = by_name.get(b.name)
            if (fb is None or w.type != schema.TensorType.INT8 or b.type != schema.TensorType.INT32
                    or w.quantization is None or b.quantization is None or len(w.quantization.scale) < 2
                    or _qparams(x) is None or fb.type != schema.TensorType.FLOAT32 or list(fb.shape) != list(b.shape)):
                continue
            axis = int(w.quantization.quantizedDimension)
            wq = np.moveaxis(_buffer_array(model, w, np.int8).reshape(tuple(w.shape)), axis, 0)
            wq = wq.reshape(wq.shape[0], -1)
            dead = np.where(~wq.any(1))[0]
            if not len(dead):
                continue
            s_in = _qparams(x)[0]
            bias_f = _buffer_array(float_model, fb, np.float32)
            bias_q = _buffer_array(model, b, np.int32).copy()
            w_scale = np.asarray(w.quantization.scale, np.float32).copy()
            b_scale = np.asarray(b.quantization.scale, np.float32).copy()
            w_scale[dead] = 1.0
            b_scale[dead] = s_in
            bias_q[dead] = np.clip(np.round(bias_f[dead] / s_in), -2**31, 2**31 - 1).astype(np.int32)
            w.quantization.scale = w_scale.tolist()
            b.quantization.scale = b_scale.tolist()
            model.buffers[b.buffer].data = np.frombuffer(bias_q.tobytes(), np.uint8)
            fixed += len(dead)
    return fixed


def op_counts(model) -> Dict[str, int]:
    """Op histogram of a ``ModelT`` (or a path), int8 ops marked ``OP(int8)`` by their first input."""
    schema = _schema()
    if isinstance(model, str):
        model = read_model(model)
    counts = collections.Counter()
    for graph in model.subgraphs:
        for op in graph.operators:
            name = _opcode_name(model, op.opcodeIndex)
            first = graph.tensors[op.inputs[0]] if len(op.inputs) and op.inputs[0] >= 0 else None
            counts[name + ('(int8)' if first is not None and first.type == schema.TensorType.INT8 else '')] += 1
    return dict(sorted(counts.items()))


def xnnpack_partitions(path: str, threads: int = 1) -> Dict[str, object]:
    """Which ops of ``path`` LiteRT's default XNNPACK delegate runs, and how many partitions it makes.

    Loads the model in ``ai_edge_litert``'s interpreter (XNNPACK applied by default) and walks back from
    each ``DELEGATE`` node's outputs to its inputs: the ops reached are that partition's; the others
    run on TFLite's own kernels, each one a boundary between two XNNPACK partitions.

    Returns:
        dict: ``partitions`` (DELEGATE nodes), ``cpu_ops`` (histogram of the ops left to TFLite's
        kernels, ``OP(dtype)``), ``delegated`` (histogram of the delegated ops), ``nodes``.
    """
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=path, num_threads=threads)
    it.allocate_tensors()
    ops = it._get_ops_details()  # (the interpreter's own op listing: original nodes, then DELEGATE nodes)
    orig = [o for o in ops if o['op_name'] != 'DELEGATE']
    delegates = [o for o in ops if o['op_name'] == 'DELEGATE']
    producer = {int(t): o for o in orig for t in o['outputs']}
    owner = {}
    for d in delegates:
        stop = {int(t) for t in d['inputs']}
        stack = [int(t) for t in d['outputs']]
        while stack:
            p = producer.get(stack.pop())
            if p is None or p['index'] in owner:
                continue
            owner[p['index']] = d['index']
            stack += [int(t) for t in p['inputs'] if t >= 0 and int(t) not in stop]

    def key(o):
        types = o.get('operand_types') or []
        return f"{o['op_name']}({np.dtype(types[0]).name if types else '-'})"
    return dict(partitions=len(delegates), nodes=len(orig),
                cpu_ops=dict(collections.Counter(key(o) for o in orig if o['index'] not in owner)),
                delegated=dict(collections.Counter(key(o) for o in orig if o['index'] in owner)))


def int8_hard_swish_only(model, rewrite: bool = False) -> int:
    """Keep only the int8 ``HARD_SWISH`` ops of ``model`` (each one's input a graph input, its output a graph
    output), rewritten by :func:`hard_swish_to_float` when ``rewrite``: a model that times exactly those ops.

    Returns:
        int: The number of ``HARD_SWISH`` ops kept.
    """
    n = 0
    for graph in model.subgraphs[:1]:
        ops = [op for _, op in _int8_hard_swish_ops(model, graph)]
        graph.operators = ops
        graph.inputs = np.asarray([int(op.inputs[0]) for op in ops], np.int32)
        graph.outputs = np.asarray([int(op.outputs[0]) for op in ops], np.int32)
        n = len(ops)
    model.subgraphs = model.subgraphs[:1]
    model.signatureDefs = []
    if rewrite:
        hard_swish_to_float(model)
    return n
