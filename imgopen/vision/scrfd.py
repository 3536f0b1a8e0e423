"""SCRFD face detection (insightface's det_10g / scrfd_*.onnx) run with onnxruntime.

The exported graph takes one RGB image letterboxed into the top-left of a square (640 px unless
the graph fixes another size), normalised as (x - 127.5) / 128. For each of its strides (8, 16,
32; 5 strides in some exports) it outputs, per anchor (2 per grid cell), a score, four distances
from the anchor centre to the box sides and, in the "kps" models, ten offsets for five
keypoints, all in units of the stride. Outputs come grouped: every stride's scores, then every
stride's boxes, then every stride's keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

METHOD = "scrfd"
DEFAULT_SIZE = 640
NMS_IOU = 0.4


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float
    points: NDArray[np.float32] | None  # (5, 2): eyes, nose, mouth corners; None without keypoints


def _input_size(session: Any) -> tuple[int, int]:
    shape = session.get_inputs()[0].shape
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        return width, height
    return DEFAULT_SIZE, DEFAULT_SIZE


def _layout(outputs: int) -> tuple[tuple[int, ...], bool]:
    """(strides, has keypoints) from the number of outputs."""
    layouts = {6: ((8, 16, 32), False), 9: ((8, 16, 32), True), 10: ((8, 16, 32, 64, 128), False)}
    layouts[15] = ((8, 16, 32, 64, 128), True)
    if outputs not in layouts:
        raise ValueError(f"not an SCRFD graph: {outputs} outputs (expected 6, 9, 10 or 15)")
    return layouts[outputs]


def letterbox(rgb: NDArray[np.uint8], size: tuple[int, int]) -> tuple[NDArray[np.float32], float]:
    """The network input (1, 3, H, W) and the factor from image to network pixels."""
    width, height = size
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    new_w, new_h = max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))
    canvas = np.zeros((height, width, 3), np.float32)
    canvas[:new_h, :new_w] = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    blob = (canvas - 127.5) / 128.0
    return np.ascontiguousarray(blob.transpose(2, 0, 1)[None]), scale


def _centres(width: int, height: int, stride: int, anchors: int) -> NDArray[np.float32]:
    ys, xs = np.mgrid[:height, :width]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, anchors, axis=0)


def detect(session: Any, rgb: NDArray[np.uint8], threshold: float = 0.5) -> list[Detection]:
    """Faces in the RGB image, best first, overlapping boxes suppressed."""
    size = _input_size(session)
    blob, scale = letterbox(rgb, size)
    name = session.get_inputs()[0].name
    outputs = [np.asarray(o, np.float32) for o in session.run(None, {name: blob})]
    strides, has_points = _layout(len(outputs))
    count = len(strides)
    boxes, scores, points = [], [], []
    for index, stride in enumerate(strides):
        grid_w, grid_h = size[0] // stride, size[1] // stride
        raw_scores = _rows(outputs[index], 1)
        anchors = max(1, len(raw_scores) // (grid_w * grid_h))
        centres = _centres(grid_w, grid_h, stride, anchors)
        keep = np.nonzero(raw_scores[:, 0] >= threshold)[0]
        if not len(keep):
            continue
        distances = _rows(outputs[index + count], 4)[keep] * stride
        centre = centres[keep]
        boxes.append(np.concatenate([centre - distances[:, :2], centre + distances[:, 2:]], axis=1))
        scores.append(raw_scores[keep, 0])
        if has_points:
            offsets = _rows(outputs[index + 2 * count], 10)[keep].reshape(-1, 5, 2) * stride
            points.append(centre[:, None, :] + offsets)
    if not boxes:
        return []
    all_boxes = np.concatenate(boxes) / scale
    all_scores = np.concatenate(scores)
    all_points = np.concatenate(points) / scale if has_points else None
    order = _nms(all_boxes, all_scores, NMS_IOU)
    return [
        Detection(
            (float(all_boxes[i, 0]), float(all_boxes[i, 1]), float(all_boxes[i, 2]), float(all_boxes[i, 3])),
            float(all_scores[i]),
            all_points[i].astype(np.float32) if all_points is not None else None,
        )
        for i in order
    ]


def _rows(output: NDArray[np.float32], columns: int) -> NDArray[np.float32]:
    """An output as (anchors, columns), whether the export kept the batch axis or not."""
    return np.asarray(output.reshape(-1, columns), np.float32)


def _nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> list[int]:
    order = list(np.argsort(-scores))
    kept: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        best = order.pop(0)
        kept.append(int(best))
        rest = np.array(order, np.int64)
        if not len(rest):
            break
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = [int(i) for i, o in zip(rest, overlap, strict=True) if o <= iou]
    return kept
