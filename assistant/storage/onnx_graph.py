"""Two rewrites of the exported embedding graph, run once when the ONNX file is made (onnx_backend).

``per_token``: onnxruntime's dynamic quantisation gives each int8 matrix product one activation scale
for the whole batch (``DynamicQuantizeLinear``), so a text's vector depends on the other texts it
is encoded with: up to 1.4e-2 apart, cosine 0.996, alone against in a batch. Here every token row
gets its own scale (symmetric, max |x| / 127, zero point 128): a vector is then the same whatever it
is batched with (8.9e-8 apart), so files can share batches, and it is closer to the float model
(mean cosine 0.989 against 0.986 on 300 passages of the haystack; bench/encode_batching.py).

``drop_nan_guards``: the PyTorch export of attention replaces NaN in the softmax by 0 (a row whose
keys are all masked) and rebuilds the same additive mask in each of the 12 layers. A text always has
its [CLS] token unmasked, so no row is all masked: the guards only cost time (a quarter of the int8
model's run on short texts) and the result is bit for bit the same without them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


class UnexpectedGraph(ValueError):
    """The graph is not shaped as the rewrite expects (another model family): export without it."""


def _consumers(graph) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            out[name].append(node)
    return out


def _producers(graph) -> dict:
    return {name: node for node in graph.node for name in node.output}


def _constant(graph, name: str, producers: dict):
    """The value of an initializer or Constant node output, else None."""
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    node = producers.get(name)
    if node is not None and node.op_type == "Constant" and node.attribute:
        return numpy_helper.to_array(node.attribute[0].t)
    return None


def _replace_nodes(graph, keep: list, renamed: dict[str, str] | None = None) -> None:
    """Set the graph's nodes to ``keep`` (topologically sorted), inputs renamed by ``renamed``."""
    for node in keep:
        for k, name in enumerate(node.input):
            if renamed and name in renamed:
                node.input[k] = renamed[name]
    ready = {i.name for i in graph.initializer} | {i.name for i in graph.input} | {""}
    ordered, pending = [], keep
    while pending:
        rest = []
        for node in pending:
            if all(i in ready for i in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise UnexpectedGraph(f"cycle or missing input at {rest[0].name or rest[0].op_type}")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.value_info[:]


def drop_nan_guards(model: onnx.ModelProto) -> int:
    """Remove Where(IsNaN(softmax), 0, softmax) and all but one of identical mask-building Where nodes.
    Returns the number of nodes removed."""
    graph = model.graph
    producers, consumers = _producers(graph), _consumers(graph)
    renamed: dict[str, str] = {}
    dropped: set[int] = set()
    outputs = {o.name for o in graph.output}  # kept: the graph's interface
    for node in graph.node:
        if node.op_type != "IsNaN" or getattr(producers.get(node.input[0]), "op_type", "") != "Softmax":
            continue
        guards = consumers[node.output[0]]
        if not all(w.op_type == "Where" and w.input[0] == node.output[0] and w.input[2] == node.input[0]
                   and w.output[0] not in outputs for w in guards):
            continue
        for where in guards:
            renamed[where.output[0]] = node.input[0]
            dropped.add(id(where))
        dropped.add(id(node))
    first: dict[tuple, str] = {}
    for node in graph.node:
        if node.op_type != "Where" or node.output[0] in outputs:
            continue
        values = [_constant(graph, name, producers) for name in node.input[1:]]
        if any(v is None or v.size != 1 for v in values):
            continue
        key = (node.input[0], *(float(v.reshape(-1)[0]) for v in values))
        if key in first:
            renamed[node.output[0]] = first[key]
            dropped.add(id(node))
        else:
            first[key] = node.output[0]
    if dropped:
        _replace_nodes(graph, [n for n in graph.node if id(n) not in dropped], renamed)
    return len(dropped)


def per_token(model: onnx.ModelProto) -> int:
    """Rewrite each DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scale × weight scale) of a
    ``quantize_dynamic`` graph so the activations are quantised per token row. Returns the number of
    quantisers rewritten; raises UnexpectedGraph when a product is not of that shape."""
    graph = model.graph
    producers, consumers = _producers(graph), _consumers(graph)
    inits = {i.name: i for i in graph.initializer}

    def const(name: str, value) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    c127, eps = const("pt_127", np.float32(127.0)), const("pt_eps", np.float32(1e-8))
    zero_point = const("pt_zero_point", np.uint8(128))
    first, last = const("pt_first", np.array([0], np.int64)), const("pt_last", np.array([-1], np.int64))
    added, dropped, count = [], set(), 0
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            continue
        x, quantised, scale = node.input[0], node.output[0], node.output[1]
        products = consumers[quantised]
        if not products or any(p.op_type != "MatMulInteger" or p.input[1] not in inits for p in products):
            raise UnexpectedGraph(f"{node.name}: its output is not only the input of int8 products")
        p = f"{quantised}/per_token"  # output names are unique (node names may be empty)
        width = numpy_helper.to_array(inits[products[0].input[1]]).shape[0]
        rows = const(p + "/rows", np.array([-1, width], np.int64))
        added += [
            helper.make_node("Reshape", [x, rows], [p + "/x"]),
            helper.make_node("Abs", [p + "/x"], [p + "/abs"]),
            helper.make_node("ReduceMax", [p + "/abs"], [p + "/max"], axes=[1], keepdims=0),
            helper.make_node("Max", [p + "/max", eps], [p + "/max_eps"]),
            helper.make_node("Div", [p + "/max_eps", c127], [p + "/scale"]),
            helper.make_node("Shape", [p + "/scale"], [p + "/n"]),
            helper.make_node("ConstantOfShape", [p + "/n"], [p + "/zero_point"],
                             value=numpy_helper.from_array(np.array([128], np.uint8))),
            helper.make_node("QuantizeLinear", [p + "/x", p + "/scale", p + "/zero_point"], [p + "/q"], axis=0),
            helper.make_node("Shape", [x], [p + "/shape"]),
            helper.make_node("Slice", [p + "/shape", first, last], [p + "/lead"]),
        ]
        for product in products:
            casts = consumers[product.output[0]]
            muls = consumers[casts[0].output[0]] if len(casts) == 1 and casts[0].op_type == "Cast" else []
            if len(muls) != 1 or muls[0].op_type != "Mul":
                raise UnexpectedGraph(f"{product.name}: not followed by Cast and Mul")
            mul = muls[0]
            both = producers.get(next(i for i in mul.input if i != casts[0].output[0]))
            if both is None or both.op_type != "Mul" or scale not in both.input:
                raise UnexpectedGraph(f"{product.name}: its scale is not activation × weight scale")
            weight_scale = next(i for i in both.input if i != scale)
            q = f"{product.output[0]}/per_token"
            out_width = numpy_helper.to_array(inits[product.input[1]]).shape[1]
            added += [
                helper.make_node("MatMulInteger", [p + "/q", product.input[1], zero_point, product.input[3]],
                                 [q + "/int"]),
                helper.make_node("Mul", [p + "/scale", weight_scale], [q + "/scale"]),
                helper.make_node("DequantizeLinear", [q + "/int", q + "/scale"], [q + "/y"], axis=0),
                helper.make_node("Concat", [p + "/lead", const(q + "/width", np.array([out_width], np.int64))],
                                 [q + "/shape"], axis=0),
                helper.make_node("Reshape", [q + "/y", q + "/shape"], [mul.output[0]]),
            ]
            dropped |= {id(product), id(casts[0]), id(mul), id(both)}
        dropped.add(id(node))
        count += 1
    if count:
        _replace_nodes(graph, [n for n in graph.node if id(n) not in dropped] + added)
    return count


def rewrite_file(src: Path, dst: Path, *, quantised: bool) -> None:
    """Load ``src``, drop its NaN guards (and quantise per token when it is an int8 graph), check it, and
    save it as ``dst`` (written beside it and renamed: a failure leaves ``dst`` as it was)."""
    model = onnx.load(str(src))
    if quantised and not per_token(model):
        raise UnexpectedGraph("no dynamically quantised products found")
    drop_nan_guards(model)
    onnx.checker.check_model(model)
    tmp = dst.with_name(dst.name + ".rewrite")
    try:
        onnx.save(model, str(tmp))
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)

