"""The two rewrites of the exported embedding graph, on small graphs built here and run by onnxruntime:
int8 products quantised per token row, and the attention NaN guards dropped."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

from assistant.storage.onnx_graph import UnexpectedGraph, drop_nan_guards, per_token, rewrite_file

RNG = np.random.default_rng(7)
K, N = 16, 8


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _two_products(path) -> np.ndarray:
    """x[B,S,K] → MatMul(W1) + b → Relu → MatMul(W2), saved as float; returns W1 for the reference."""
    w1 = RNG.normal(size=(K, N)).astype(np.float32)
    w2 = RNG.normal(size=(N, K)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
         helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["y"])],
        "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", K])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(RNG.normal(size=N).astype(np.float32), "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return w1


def _quantised(tmp_path) -> tuple[onnx.ModelProto, onnx.ModelProto, np.ndarray]:
    w1 = _two_products(tmp_path / "f.onnx")
    quantize_dynamic(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), weight_type=QuantType.QInt8)
    before = onnx.load(str(tmp_path / "q.onnx"))
    after = onnx.load(str(tmp_path / "q.onnx"))
    assert per_token(after) == 2
    return before, after, w1


def test_per_token_vectors_do_not_depend_on_their_batchmates(tmp_path):
    """One row with large activations in a batch: per batch, the others' scale grows with it and their
    outputs move; per token they are the same as when run alone."""
    before, after, _ = _quantised(tmp_path)
    x = RNG.normal(size=(3, 5, K)).astype(np.float32)
    loud = x.copy()
    loud[2] *= 40.0
    for model, moved in ((before, True), (after, False)):
        s = _session(model)
        alone = s.run(None, {"x": x[:2]})[0]
        beside = s.run(None, {"x": loud})[0][:2]
        assert bool(np.abs(alone - beside).max() > 1e-2) is moved
    assert not any(n.op_type == "DynamicQuantizeLinear" for n in after.graph.node)


def test_per_token_quantises_each_row_with_its_own_scale(tmp_path):
    """The first product's output equals symmetric per-row int8 arithmetic done in numpy."""
    _, after, w1 = _quantised(tmp_path)
    inits = {i.name: numpy_helper.to_array(i) for i in after.graph.initializer}
    product = next(n for n in after.graph.node if n.op_type == "MatMulInteger" and "w1" in n.input[1])
    wq, ws = inits[product.input[1]].astype(np.int32), float(inits["w1_scale"])
    x = RNG.normal(size=(2, 4, K)).astype(np.float32) * np.array([1.0, 30.0])[:, None, None].astype(np.float32)
    rows = x.reshape(-1, K)
    scale = np.abs(rows).max(1) / 127
    q = np.clip(np.round(rows / scale[:, None]), -127, 127).astype(np.int32)
    expected = (q @ wq) * (scale[:, None] * ws)
    # the product's float output, read off the rewritten graph
    prefix = product.output[0].rsplit("/", 1)[0]
    out = next(n.output[0] for n in after.graph.node if n.op_type == "Reshape" and n.input[0].startswith(prefix))
    after.graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
    got = _session(after).run([out], {"x": x})[0].reshape(-1, N)
    assert np.abs(got - expected).max() < 1e-4 * np.abs(expected).max()
    assert np.abs(got - rows @ w1).max() < 0.05 * np.abs(rows @ w1).max()  # and close to the float product


def test_a_graph_of_another_shape_is_refused(tmp_path):
    _two_products(tmp_path / "f.onnx")
    with pytest.raises(UnexpectedGraph):
        rewrite_file(tmp_path / "f.onnx", tmp_path / "out.onnx", quantised=True)  # nothing quantised
    assert not (tmp_path / "out.onnx").exists()


def test_nan_guards_go_and_the_output_is_bit_for_bit_the_same():
    """Softmax over masked scores, as PyTorch exports attention: one mask per layer, each softmax's NaN
    replaced by 0. Without the guards and with one mask the output is identical for rows with a key."""
    nodes, inits = [], [numpy_helper.from_array(np.array([0.0], np.float32), "zero")]
    prev = "scores"
    for layer in range(3):
        p = f"l{layer}"
        inits.append(numpy_helper.from_array(np.array([-np.inf], np.float32), p + "_ninf"))
        nodes += [helper.make_node("Where", ["keep", "zero", p + "_ninf"], [p + "_mask"]),
                  helper.make_node("Add", [prev, p + "_mask"], [p + "_masked"]),
                  helper.make_node("Softmax", [p + "_masked"], [p + "_p"], axis=-1),
                  helper.make_node("IsNaN", [p + "_p"], [p + "_nan"]),
                  helper.make_node("Where", [p + "_nan", "zero", p + "_p"], [p + "_out"])]
        prev = p + "_out"
    nodes.append(helper.make_node("Identity", [prev], ["out"]))
    graph = helper.make_graph(
        nodes, "attn", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["b", 4, 4]),
                        helper.make_tensor_value_info("keep", TensorProto.BOOL, ["b", 1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", 4, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feed = {"scores": RNG.normal(size=(2, 4, 4)).astype(np.float32),
            "keep": np.array([[[True, True, False, False]], [[True, True, True, True]]])}
    before = _session(model).run(None, feed)[0]
    assert drop_nan_guards(model) == 3 * 2 + 2  # three guards of two nodes, two masks of three
    onnx.checker.check_model(model)
    assert not any(n.op_type == "IsNaN" for n in model.graph.node)
    assert np.array_equal(_session(model).run(None, feed)[0], before)
