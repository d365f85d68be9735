"""onnxruntime's throughput on the same model file and inputs as the Rust benchmark, for comparison.

    python ort_throughput.py MODEL_DIR INPUTS.json THREADS
Prints one JSON line: {"tokens": N, "seconds": S, "batch": B} for the median of three runs,
tokenisation and pooling included, texts of similar length batched together, at whichever batch
size (1 or 16) was faster: onnxruntime's best is the peer. Also "latency_ms": the p50 and p99 of
embedding each text alone, as a search embeds its question.
"""

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

BATCHES = (1, 16)


def main(model_dir: Path, inputs: Path, threads: int):
    texts = json.loads(inputs.read_text())
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    ordered = sorted(texts, key=len)

    def run(batch):
        tokens = 0
        for start in range(0, len(ordered), batch):
            encodings = tokenizer.encode_batch(ordered[start : start + batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / m.sum(1)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            tokens += int(mask.sum())
        return tokens

    def median_seconds(batch):
        tokens = run(batch)  # warm-up
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            run(batch)
            timings.append(time.perf_counter() - started)
        return statistics.median(timings), batch, tokens

    seconds, batch, tokens = min(median_seconds(batch) for batch in BATCHES)
    latencies = []
    for text in texts:
        started = time.perf_counter()
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
        latencies.append((time.perf_counter() - started) * 1e3)
    p50, p99 = np.percentile(latencies, [50, 99])
    print(json.dumps({"tokens": tokens, "seconds": seconds, "batch": batch, "latency_ms": [p50, p99]}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
