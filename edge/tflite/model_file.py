"""Edit a `.tflite` file without TensorFlow: read its head, cut it at its features, or write a new
head's int8 weights into it.

A photo model ends in global-average-pooled features, one FULLY_CONNECTED layer and a softmax.
Teaching a device new classes keeps everything before the features and replaces that layer, so
the result is one standard int8 model that any TFLite runtime runs. The flatbuffer is edited
through the schema's object API, which ai-edge-litert ships (`schema_py_generated`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ModelError
from .flatbuffer import EMBEDDED_CARD

SOFTMAX_SCALE, SOFTMAX_ZERO_POINT = 1 / 256, -128  # what TFLite's int8 softmax requires


def schema():
    """The TFLite flatbuffer schema, with its object API: ai-edge-litert's, or on a desktop with
    only TensorFlow, TensorFlow's copy of it."""
    import importlib

    for module in (
        "ai_edge_litert.schema_py_generated",
        "tensorflow.lite.python.schema_py_generated",
    ):
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    raise ModelError(
        "editing a model needs ai-edge-litert (its TFLite schema): pip install ai-edge-litert"
    )


class Head(NamedTuple):
    """Where the classifier's last layer sits in the graph (tensor and operator indices)."""

    fc_op: int
    features: int
    weights: int
    bias: int
    logits: int
    softmax_op: int
    probabilities: int
    width: int  # features per image


def _op_name(s, model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    number = max(code.builtinCode, code.deprecatedBuiltinCode)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(number, str(number))


def read(model_bytes: bytes):
    s = schema()
    try:
        return s.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    except Exception as exc:  # a damaged flatbuffer raises struct and index errors
        raise ModelError(f"not a readable TFLite flatbuffer ({type(exc).__name__})") from None


def find_head(model) -> Head:
    """The FULLY_CONNECTED -> SOFTMAX tail of a one-subgraph int8 classifier."""
    s = schema()
    graph = model.subgraphs[0]
    ops = graph.operators
    if len(model.subgraphs) != 1 or len(ops) < 3:
        raise ModelError("the base is not a one-graph classifier")
    softmax, fc = ops[-1], ops[-2]
    if _op_name(s, model, softmax) != "SOFTMAX" or _op_name(s, model, fc) != "FULLY_CONNECTED":
        raise ModelError("the base does not end in a dense layer and a softmax")
    features, weights, bias = (int(i) for i in fc.inputs)
    logits, probabilities = int(fc.outputs[0]), int(softmax.outputs[0])
    if int(softmax.inputs[0]) != logits or list(graph.outputs) != [probabilities]:
        raise ModelError("the base's softmax does not read its dense layer's output")
    if graph.tensors[weights].type != s.TensorType.INT8:
        raise ModelError("the base is not an int8 model: teach builds on an int8 photo model")
    width = int(graph.tensors[weights].shape[1])
    return Head(len(ops) - 2, features, weights, bias, logits, len(ops) - 1, probabilities, width)


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def features_model(model_bytes: bytes) -> tuple[bytes, Head]:
    """The same graph cut after its features: the int8 features are its output."""
    model = read(model_bytes)
    head = find_head(model)
    graph = model.subgraphs[0]
    graph.operators = graph.operators[: head.fc_op]
    graph.outputs = np.array([head.features], np.int32)
    return _pack(model), head


def dense_weights(model_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The last dense layer as float weights (classes, width) and biases, dequantized: what
    `teach --keep-classes` keeps of the base."""
    model = read(model_bytes)
    head = find_head(model)
    graph = model.subgraphs[0]

    def values(index: int, dtype) -> np.ndarray:
        tensor = graph.tensors[index]
        data = np.frombuffer(bytes(model.buffers[tensor.buffer].data), dtype)
        scales = np.asarray(tensor.quantization.scale, np.float32)
        data = data.reshape(tuple(tensor.shape)).astype(np.float32)
        return data * (scales[:, None] if data.ndim == 2 else scales)

    return values(head.weights, np.int8), values(head.bias, np.int32)


class Int8Head(NamedTuple):
    """A dense layer's weights as TFLite runs them: per-class int8 weights, int32 biases."""

    weights: np.ndarray  # (classes, width) int8
    weight_scales: np.ndarray  # (classes,) float32
    bias: np.ndarray  # (classes,) int32
    logits_scale: float
    logits_zero_point: int


def quantize_head(
    weights: np.ndarray, bias: np.ndarray, features_scale: float, logits: np.ndarray
) -> Int8Head:
    """Float weights (classes, width) and biases -> TFLite's int8 scheme: symmetric per-class
    weights, biases at the input scale times each weight scale, and the logits' range (from
    `logits` seen on training features, widened to hold zero) mapped onto int8."""
    scales = np.maximum(np.abs(weights).max(axis=1), 1e-8) / 127.0
    q_weights = np.clip(np.round(weights / scales[:, None]), -127, 127).astype(np.int8)
    q_bias = np.round(bias / (features_scale * scales)).astype(np.int32)
    low, high = min(float(logits.min()), 0.0), max(float(logits.max()), 0.0)
    scale = max(high - low, 1e-6) / 255.0
    zero_point = int(np.clip(np.round(-128 - low / scale), -128, 127))
    return Int8Head(q_weights, scales.astype(np.float32), q_bias, scale, zero_point)


def with_head(model_bytes: bytes, head: Int8Head) -> bytes:
    """The base model with its last dense layer replaced: new classes, new weights, one graph."""
    s = schema()
    model = read(model_bytes)
    where = find_head(model)
    graph = model.subgraphs[0]
    classes = len(head.weights)

    def set_tensor(index: int, shape, data: np.ndarray | None, scales, zero_points, dim=0):
        tensor = graph.tensors[index]
        tensor.shape = np.array(shape, np.int32)
        if tensor.shapeSignature is not None:
            tensor.shapeSignature = np.array(
                [-1, *shape[1:]] if len(shape) == 2 else shape, np.int32
            )
        q = s.QuantizationParametersT()
        q.scale = np.asarray(scales, np.float32)
        q.zeroPoint = np.asarray(zero_points, np.int64)
        q.quantizedDimension = dim
        tensor.quantization = q
        if data is not None:  # the old weights' buffer takes the new ones
            model.buffers[tensor.buffer].data = np.frombuffer(data.tobytes(), np.uint8)

    features_scale = float(graph.tensors[where.features].quantization.scale[0])
    if head.weights.shape[1] != where.width:
        raise ModelError(
            f"the head reads {head.weights.shape[1]} features; the base has {where.width}"
        )
    zeros = np.zeros(classes, np.int64)
    set_tensor(where.weights, [classes, where.width], head.weights, head.weight_scales, zeros)
    set_tensor(where.bias, [classes], head.bias, features_scale * head.weight_scales, zeros)
    set_tensor(where.logits, [1, classes], None, [head.logits_scale], [head.logits_zero_point])
    set_tensor(where.probabilities, [1, classes], None, [SOFTMAX_SCALE], [SOFTMAX_ZERO_POINT])
    for entry in model.metadata or []:  # the base's own card would name the base's classes
        if entry.name.decode() == EMBEDDED_CARD:
            model.buffers[entry.buffer].data = None
    model.metadata = [m for m in model.metadata or [] if m.name.decode() != EMBEDDED_CARD]
    return _pack(model)


def with_metadata(model_bytes: bytes, name: str, data: bytes) -> bytes:
    """The model with a named metadata buffer (replacing one of the same name): the graph and
    its weights are untouched, so every runtime runs it as before."""
    s = schema()
    model = read(model_bytes)
    found = [m for m in (model.metadata or []) if m.name.decode() == name]
    if found:  # its buffer takes the new data
        model.buffers[found[0].buffer].data = np.frombuffer(data, np.uint8)
        return _pack(model)
    buffer = s.BufferT()
    buffer.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buffer)
    entry = s.MetadataT()
    entry.name = name.encode()
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return _pack(model)
