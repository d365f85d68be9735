"""The dynamically quantised graph of the model, for the embedding benchmark's int8 rows.

    python quantize_int8.py FP32_MODEL.onnx OUT.onnx
onnxruntime's own quantiser: weights int8 per output channel, activations quantised at run time
(DynamicQuantizeLinear -> MatMulInteger). The shape annotations it writes name a symbolic batch
that contradicts the fixed batch of 1 the embedder declares, so they are dropped; tract infers
the shapes again from the graph.
"""

import sys

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def main(source: str, target: str):
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)
    model = onnx.load(target)
    del model.graph.value_info[:]
    onnx.save(model, target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
