"""Small ONNX models with the input and output names, shapes and value ranges of the published
ones (Real-ESRGAN ONNX exports, LaMa, Depth Anything), built here with random or simple weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def upscaler(path: Path, scale: int = 2, fixed: int | None = None, out_255: bool = False, seed: int = 0) -> Path:
    """input (1,3,H,W) RGB in [0,1] -> output (1,3,sH,sW): a random 3x3 convolution to 3*s*s channels,
    a depth-to-space shuffle, a sigmoid (so values stay in [0,1]); x255 when `out_255`."""
    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.normal(0, 0.3, (3 * scale * scale, 3, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(3 * scale * scale, np.float32), "b")
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["features"], pads=[1, 1, 1, 1]),
        helper.make_node("DepthToSpace", ["features"], ["shuffled"], blocksize=scale, mode="CRD"),
        helper.make_node("Sigmoid", ["shuffled"], ["unit" if out_255 else "output"]),
    ]
    initializers = [weight, bias]
    if out_255:
        initializers.append(numpy_helper.from_array(np.array(255, np.float32), "k"))
        nodes.append(helper.make_node("Mul", ["unit", "k"], ["output"]))
    side_in: list[int | str] = [fixed, fixed] if fixed else ["h", "w"]
    side_out: list[int | str] = [fixed * scale, fixed * scale] if fixed else ["H", "W"]
    graph = helper.make_graph(
        nodes,
        "upscaler",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, *side_in])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, *side_out])],
        initializers,
    )
    return _save(graph, path)


def lama(path: Path, colour: tuple[float, float, float], fixed: int | None = 512, out_255: bool = True) -> Path:
    """LaMa's interface: image (1,3,H,W) in [0,1], mask (1,1,H,W) 1 = hole -> output (1,3,H,W).
    It gives the image back where the mask is 0 and colour + 0.5 x image where it is 1, so the
    result shows both where the hole was and whether the hole was blanked before it came in."""
    dims: list[int | str] = [fixed, fixed] if fixed else ["h", "w"]
    consts = [
        numpy_helper.from_array(np.array(colour, np.float32).reshape(1, 3, 1, 1), "colour"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(255.0 if out_255 else 1.0, np.float32), "range"),
    ]
    nodes = [
        helper.make_node("Sub", ["one", "mask"], ["keep"]),
        helper.make_node("Mul", ["image", "keep"], ["known"]),
        helper.make_node("Mul", ["image", "half"], ["leak"]),
        helper.make_node("Add", ["colour", "leak"], ["fill"]),
        helper.make_node("Mul", ["fill", "mask"], ["hole"]),
        helper.make_node("Add", ["known", "hole"], ["unit"]),
        helper.make_node("Mul", ["unit", "range"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "lama",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, *dims]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, *dims]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, *dims])],
        consts,
    )
    return _save(graph, path)


def depth(path: Path, side: int = 518) -> Path:
    """Depth Anything's interface: image (1,3,518,518) ImageNet-normalised -> depth (1,518,518).
    This one answers the mean of the three normalised channels: brighter is 'nearer'."""
    weight = numpy_helper.from_array(np.full((1, 3, 1, 1), 1 / 3, np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["image", "w"], ["mean"]),
        helper.make_node("Squeeze", ["mean", "axis"], ["depth"]),
    ]
    axis = numpy_helper.from_array(np.array([1], np.int64), "axis")
    graph = helper.make_graph(
        nodes,
        "depth",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, side, side])],
        [weight, axis],
    )
    return _save(graph, path)
