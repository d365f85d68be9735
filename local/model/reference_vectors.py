"""Reference embeddings for the Rust embedder's correctness test.

Each sentence is embedded twice, and the two must agree:
  1. onnxruntime on the ONNX file that `local/fetch-model` built;
  2. a plain NumPy forward pass of BERT written straight from `model.safetensors`. It does not
     use the ONNX graph, so a mistake in the graph builder cannot hide in both.
Both use mean pooling over the attention mask, then L2 normalisation, as the model card prescribes.
The published similarity of a known pair is checked too. The onnxruntime vectors are then written
as the committed fixture.

    python reference_vectors.py MODEL_DIR SAFETENSORS_DIR OUT.json
(needs: pip install numpy onnxruntime tokenizers safetensors)
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The quick brown fox jumps over the lazy dog.",
    "a",
    "PostgreSQL stores the vectors; pgvector's HNSW index finds the nearest ones.",
    "Café, naïve, résumé, Zürich, São Paulo and Kraków have accents.",
    "東京は日本の首都です。",
    "الذكاء الاصطناعي يغير العالم",
    "Москва — столица России.",
    "fn main() { println!(\"hello, {}\", 40 + 2); }",
    "I love pizza 🍕🍕 and rockets 🚀!",
    "THE SHOUTING HEADLINE ABOUT QUARTERLY EARNINGS",
    "See https://example.com/docs?id=42#intro for details.",
    "The boundary layer separates from the wing at high angles of attack, causing stall.",
    "Invoice #2026-0113: total due 1,234.56 EUR by 2026-12-31.",
    "   leading and trailing spaces   ",
    "Slow-moving wet snow fell over the quiet town all night long.",
    " ".join(["This long paragraph repeats to pass the 256-token limit, so truncation is tested too."] * 20),
    " ".join(["Heading > Section > Subsection: breadcrumbs give context to every chunk."] * 8),
    "R is a language and environment for statistical computing and graphics.",
]
MAX_TOKENS = 256


def encode(tokenizer, text):
    enc = tokenizer.encode(text)
    ids = np.array([enc.ids], dtype=np.int64)
    return ids, np.array([enc.attention_mask], dtype=np.int64), np.array([enc.type_ids], dtype=np.int64)


def pool(hidden, mask):
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def numpy_bert(weights, config, ids, mask, types):
    W = {k.removeprefix("bert."): v.astype(np.float64) for k, v in weights.items()}
    eps, heads = config.get("layer_norm_eps", 1e-12), config["num_attention_heads"]
    s = ids.shape[1]
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:s] + W["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    additive = (1.0 - mask[:, None, None, :]) * -10000.0
    lin = lambda t, p: t @ W[p + ".weight"].T + W[p + ".bias"]
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        b, n, h = x.shape
        split = lambda t: t.reshape(b, n, heads, h // heads).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(x, f"{p}.attention.self.{name}")) for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(h // heads) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(0, 2, 1, 3).reshape(b, n, h)
        x = layer_norm(lin(ctx, f"{p}.attention.output.dense") + x, W[f"{p}.attention.output.LayerNorm.weight"], W[f"{p}.attention.output.LayerNorm.bias"], eps)
        inner = lin(x, f"{p}.intermediate.dense")
        erf = np.vectorize(math.erf)
        gelu = 0.5 * inner * (1.0 + erf(inner / math.sqrt(2.0)))
        x = layer_norm(lin(gelu, f"{p}.output.dense") + x, W[f"{p}.output.LayerNorm.weight"], W[f"{p}.output.LayerNorm.bias"], eps)
    return x


def main(model_dir: Path, safetensors_dir: Path, out: Path):
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    weights = load_file(str(safetensors_dir / "model.safetensors"))
    config = json.loads((safetensors_dir / "config.json").read_text())

    rows = []
    for text in SENTENCES:
        ids, mask, types = encode(tokenizer, text)
        hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        onnx_vec = pool(hidden, mask)[0]
        numpy_vec = pool(numpy_bert(weights, config, ids, mask, types), mask)[0]
        agreement = float(onnx_vec @ numpy_vec)
        assert agreement > 0.99999, f"ONNX graph and NumPy disagree on {text!r}: cosine {agreement}"
        rows.append({"text": text, "tokens": int(ids.shape[1]), "embedding": [round(float(x), 8) for x in onnx_vec]})

    known = float(np.dot(rows[0]["embedding"], rows[1]["embedding"]))
    assert abs(known - 0.7553) < 0.0005, f"published similarity is 0.7553, got {known}"
    out.write_text(json.dumps({"model": "all-MiniLM-L6-v2", "maxTokens": MAX_TOKENS, "sentences": rows}, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(rows)} reference vectors written to {out}; cos(pair 0, 1) = {known:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
