"""Writes the BERT encoder of a sentence-transformers checkpoint as an ONNX graph (opset 17).

No torch needed: the graph is built node by node from `model.safetensors` and `config.json`.
Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64 [batch, sequence]); output
`last_hidden_state` (float32 [batch, sequence, hidden]). Pooling and normalisation are left to the
caller, as sentence-transformers does them outside the transformer.

    python build_onnx.py MODEL_DIR OUT.onnx
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file


class Graph:
    def __init__(self):
        self.nodes, self.initializers, self.count = [], [], 0

    def const(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x, weights, prefix):
        # PyTorch stores Linear weights as [out, in]; MatMul wants [in, out].
        w = self.const(f"{prefix}.weight.T", weights[f"{prefix}.weight"].T.copy())
        return self.op("Add", [self.op("MatMul", [x, w]), self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])])

    def layer_norm(self, x, weights, prefix, eps):
        gamma = weights.get(f"{prefix}.weight", weights.get(f"{prefix}.gamma"))
        beta = weights.get(f"{prefix}.bias", weights.get(f"{prefix}.beta"))
        return self.op(
            "LayerNormalization",
            [x, self.const(f"{prefix}.w", gamma), self.const(f"{prefix}.b", beta)],
            axis=-1,
            epsilon=eps,
        )


def build(model_dir: Path, out: Path):
    config = json.loads((model_dir / "config.json").read_text())
    raw = load_file(str(model_dir / "model.safetensors"))
    weights = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim, eps = hidden // heads, config.get("layer_norm_eps", 1e-12)
    g = Graph()

    # Embeddings: word + position (rows 0..S-1) + token type, then LayerNorm.
    words = g.op("Gather", [g.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"])
    seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), g.const("one", np.array([1])), g.const("two", np.array([2]))])
    # Slice with the runtime length (not Range over a scalar: that broke onnxruntime's rewrites).
    positions = g.op(
        "Slice",
        [
            g.const("position_embeddings", weights["embeddings.position_embeddings.weight"]),
            g.const("zero", np.array([0])),
            seq_len,
            g.const("axis0", np.array([0])),
        ],
    )
    types = g.op("Gather", [g.const("token_type_embeddings", weights["embeddings.token_type_embeddings.weight"]), "token_type_ids"])
    x = g.layer_norm(g.op("Add", [g.op("Add", [words, positions]), types]), weights, "embeddings.LayerNorm", eps)

    # Additive attention mask [B, 1, 1, S]: 0 on tokens, -10000 on padding.
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op("Mul", [g.op("Sub", [g.const("f_one", np.array(1.0, np.float32)), mask]), g.const("neg", np.array(-10000.0, np.float32))])
    mask = g.op("Unsqueeze", [mask, g.const("axes12", np.array([1, 2]))])
    split_heads = g.const("split_heads", np.array([0, 0, heads, head_dim]))
    merge_heads = g.const("merge_heads", np.array([0, 0, hidden]))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def heads_of(name, perm):
            return g.op("Transpose", [g.op("Reshape", [g.linear(x, weights, f"{p}.attention.self.{name}"), split_heads])], perm=perm)

        q = heads_of("query", [0, 2, 1, 3])
        k = heads_of("key", [0, 2, 3, 1])
        v = heads_of("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attended, x]), weights, f"{p}.attention.output.LayerNorm", eps)
        inner = g.linear(x, weights, f"{p}.intermediate.dense")
        # Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
        gelu = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [g.op("Erf", [g.op("Div", [inner, sqrt2])]), "f_one"])])
        x = g.layer_norm(g.op("Add", [g.linear(gelu, weights, f"{p}.output.dense"), x]), weights, f"{p}.output.LayerNorm", eps)

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    ids = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])
    graph = helper.make_graph(g.nodes, "bert_encoder", ids, [output], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ragbase")
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
