"""Small ONNX graphs with the inputs, outputs, shapes and value ranges of the published face models
(SCRFD det_10g, ArcFace w600k_r50, inswapper_128, GFPGAN, CodeFormer), each computing something a
test can predict, so that the tools' pre- and post-processing are checked end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
SCRFD_SIZE = 640
SCRFD_STRIDES = (8, 16, 32)
# Keypoint offsets from the anchor centre, in strides: eyes, nose, mouth corners.
SCRFD_POINTS = np.array([-1.0, -0.5, 1.0, -0.5, 0.0, 0.2, -0.7, 0.9, 0.7, 0.9], np.float32)
SCRFD_DISTANCE = 2.0  # every box: 2 strides from the anchor centre to each side


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _const(name: str, value: NDArray[np.generic]) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name=f"{name}_value"))


def scrfd(path: Path) -> Path:
    """det_10g's interface: input "input.1" (1, 3, 640, 640); per stride 8/16/32 outputs scores
    (N, 1), box distances (N, 4) and keypoint offsets (N, 10), N = 2 anchors per grid cell.
    Score of an anchor at stride 8: the mean of the normalised red channel over its 8x8 cell, through
    a ReLU (a pure red cell scores 127.5 / 128; any cell with red below 128 scores 0); strides 16
    and 32 score 0. Distances and keypoint offsets are constants (SCRFD_DISTANCE, SCRFD_POINTS)."""
    nodes: list[onnx.NodeProto] = [
        _const("starts", np.array([0], np.int64)),
        _const("ends", np.array([1], np.int64)),
        _const("axis1", np.array([1], np.int64)),
        helper.make_node("Slice", ["input.1", "starts", "ends", "axis1"], ["red"]),
    ]
    scores, boxes, points = [], [], []
    for stride in SCRFD_STRIDES:
        cells = (SCRFD_SIZE // stride) ** 2
        nodes += [
            helper.make_node(
                "AveragePool", ["red"], [f"pool{stride}"], kernel_shape=[stride, stride], strides=[stride, stride]
            ),
            helper.make_node("Relu", [f"pool{stride}"], [f"relu{stride}"]),
            _const(f"gain{stride}", np.array(1.0 if stride == 8 else 0.0, np.float32)),
            helper.make_node("Mul", [f"relu{stride}", f"gain{stride}"], [f"gained{stride}"]),
            _const(f"cells{stride}", np.array([cells, 1], np.int64)),
            helper.make_node("Reshape", [f"gained{stride}", f"cells{stride}"], [f"column{stride}"]),
            helper.make_node("Concat", [f"column{stride}", f"column{stride}"], [f"pair{stride}"], axis=1),
            _const(f"anchors{stride}", np.array([cells * 2, 1], np.int64)),
            helper.make_node("Reshape", [f"pair{stride}", f"anchors{stride}"], [f"score_{stride}"]),
            _const(f"bbox_{stride}", np.full((cells * 2, 4), SCRFD_DISTANCE, np.float32)),
            _const(f"kps_{stride}", np.tile(SCRFD_POINTS, (cells * 2, 1))),
        ]
        scores.append(helper.make_tensor_value_info(f"score_{stride}", TensorProto.FLOAT, [cells * 2, 1]))
        boxes.append(helper.make_tensor_value_info(f"bbox_{stride}", TensorProto.FLOAT, [cells * 2, 4]))
        points.append(helper.make_tensor_value_info(f"kps_{stride}", TensorProto.FLOAT, [cells * 2, 10]))
    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, SCRFD_SIZE, SCRFD_SIZE])
    return _save(helper.make_graph(nodes, "scrfd_tiny", [image], scores + boxes + points), path)


def arcface(path: Path, embedding: NDArray[np.float32]) -> Path:
    """w600k_r50's interface: input "input.1" (1, 3, 112, 112), output "683" (1, 512). It answers
    `embedding` (unnormalised) whatever the face: a test can then predict the swapper's latent."""
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),  # (1,) of the input, times 0
        _const("zero", np.array(0.0, np.float32)),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        _const("embedding", embedding.reshape(1, 512).astype(np.float32)),
        helper.make_node("Add", ["embedding", "nothing"], ["683"]),
    ]
    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])
    output = helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])
    return _save(helper.make_graph(nodes, "arcface_tiny", [image], [output]), path)


def inswapper(path: Path, emap: NDArray[np.float32], mode: str) -> Path:
    """inswapper_128's interface: inputs "target" (1, 3, 128, 128) in 0..1 and "source" (1, 512),
    output "output" (1, 3, 128, 128) in 0..1; `emap` is the graph's last initializer, as in the real
    file. mode "identity": the target crop comes back unchanged; mode "latent": every pixel is
    0.5 + 10 * source[:3] (R, G, B), a colour the test computes from the latent it expects."""
    if mode == "identity":
        nodes = [
            helper.make_node("ReduceSum", ["source"], ["total"], keepdims=0),
            _const("zero", np.array(0.0, np.float32)),
            helper.make_node("Mul", ["total", "zero"], ["nothing"]),
            helper.make_node("Add", ["target", "nothing"], ["output"]),
        ]
    else:
        nodes = [
            _const("starts", np.array([0], np.int64)),
            _const("ends", np.array([3], np.int64)),
            _const("axis1", np.array([1], np.int64)),
            helper.make_node("Slice", ["source", "starts", "ends", "axis1"], ["rgb"]),
            _const("shape", np.array([1, 3, 1, 1], np.int64)),
            helper.make_node("Reshape", ["rgb", "shape"], ["rgb4"]),
            _const("gain", np.array(10.0, np.float32)),
            _const("half", np.array(0.5, np.float32)),
            helper.make_node("Mul", ["rgb4", "gain"], ["scaled"]),
            helper.make_node("Add", ["scaled", "half"], ["colour"]),
            _const("zero", np.array(0.0, np.float32)),
            helper.make_node("Mul", ["target", "zero"], ["blank"]),
            helper.make_node("Add", ["blank", "colour"], ["output"]),
        ]
    inputs = [
        helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
        helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512]),
    ]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])
    initializers = [
        numpy_helper.from_array(np.ones(4, np.float32), name="unused_first"),
        numpy_helper.from_array(emap.astype(np.float32), name="buff2fs"),
    ]
    graph = helper.make_graph(nodes, "inswapper_tiny", inputs, [output], initializer=initializers)
    return _save(graph, path)


def restorer(path: Path, with_weight: bool) -> Path:
    """GFPGAN's interface (input "input" (1, 3, 512, 512) in -1..1, output "output" the same) or,
    `with_weight`, CodeFormer's (plus "weight", a double (1,)). The face comes back as its negative
    (inverted colours), times the weight for CodeFormer."""
    nodes = [helper.make_node("Neg", ["input"], ["negative"])]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])]
    if with_weight:
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
        nodes += [
            helper.make_node("Cast", ["weight"], ["weight32"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["negative", "weight32"], ["output"]),
        ]
    else:
        nodes += [helper.make_node("Identity", ["negative"], ["output"])]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 512, 512])
    return _save(helper.make_graph(nodes, "restorer_tiny", inputs, [output]), path)
