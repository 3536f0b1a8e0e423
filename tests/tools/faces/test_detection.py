"""face/detection: the astronaut's face, lfw_subset's faces and non-faces, SCRFD's decoding (with a
small ONNX model), bad images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imgopen.errors import ImgOpenError
from imgopen.testing.direct import direct_checks
from imgopen.tools.faces.analysis import FaceAnalyzer
from imgopen.tools.registry import AnyTool
from tests.tools.faces import tiny_onnx
from tests.tools.faces.conftest import ContextFactory, astronaut_rgb, call, lfw_faces, output, uri

# The astronaut's face as MediaPipe, MTCNN and OpenCV's cascades box it (offline-models.md).
ASTRONAUT_FACE = (177, 82, 95, 95)


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_finds_the_astronauts_face_with_landmarks_crop_and_boxes_drawn(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory
) -> None:
    ctx = make_ctx()
    image = astronaut_rgb()
    result = call(face_tools["face/detection"], ctx, imageUrl=uri(image))
    assert result.method == "mediapipe-blazeface" and result.faceCount == 1
    face = result.faces[0]
    box = (face.bbox.x, face.bbox.y, face.bbox.width, face.bbox.height)
    assert face.faceIdx == 1 and iou(box, ASTRONAUT_FACE) > 0.75 and face.score > 0.8
    points = {p.name: (p.x, p.y) for p in face.landmarks}
    assert list(points) == ["leftEye", "rightEye", "nose", "mouthLeft", "mouthRight"]
    for x, y in points.values():
        assert box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]
    assert points["leftEye"][0] < points["nose"][0] < points["rightEye"][0]
    assert points["mouthLeft"][0] < points["mouthRight"][0]
    assert max(points["leftEye"][1], points["rightEye"][1]) < points["nose"][1]
    assert points["nose"][1] < min(points["mouthLeft"][1], points["mouthRight"][1])
    # the crop: the box with a quarter of its size around it
    crop = output(ctx, face.cropUrl)
    assert crop.shape[:2] == (box[3] + 2 * round(box[3] / 4), box[2] + 2 * round(box[2] / 4))
    np.testing.assert_array_equal(crop, image[box[1] - 24 : box[1] + box[3] + 24, box[0] - 24 : box[0] + box[2] + 24])
    # the annotated image: green on the box's edge, untouched away from it
    drawn = output(ctx, result.outputImageUrl)
    assert tuple(drawn[box[1], box[0] + box[2] // 2]) == (0, 255, 0)
    away = np.ones(image.shape[:2], bool)
    away[box[1] - 40 : box[1] + box[3] + 10, box[0] - 10 : box[0] + box[2] + 10] = False
    np.testing.assert_array_equal(drawn[away], image[away])


def test_lfw_subset_finds_at_least_90_faces_and_no_non_face() -> None:
    """The tool's own finder on every 25x25 crop: the first 100 are faces, the last 100 are not."""
    analyzer = FaceAnalyzer()
    crops = lfw_faces()
    found = [len(analyzer.find(np.stack([crop] * 3, axis=2), Path("/no-models"))[0]) for crop in crops]
    faces_found = sum(count > 0 for count in found[:100])
    false_hits = sum(count > 0 for count in found[100:])
    assert faces_found >= 90, faces_found
    assert false_hits == 0, false_hits


def test_scrfd_outputs_are_decoded_into_boxes_scores_and_points(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, tmp_path: Path
) -> None:
    """The small SCRFD scores only pure red 8x8 cells of its 640x640 input, at stride 8, with a box 2
    strides around the anchor and fixed keypoint offsets. A 320x240 image is letterboxed at scale 2,
    so a red 6x6 block at (99, 59) fills the cell whose anchor is (200, 120) (and under a third of its
    neighbours, which score 0): the tool must report
    the box (92, 52, 16, 16), the score 127.5 / 128 (so the input was (x - 127.5) / 128 and RGB, not
    BGR: the block's blue is 0) and the points at (100, 60) + offsets * 8 / 2."""
    models = tmp_path / "models"
    tiny_onnx.scrfd(models / "insightface" / "det_10g.onnx")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60, (240, 320, 3)).astype(np.uint8)
    image[59:65, 99:105] = (255, 0, 0)
    ctx = make_ctx(models)
    result = call(face_tools["face/detection"], ctx, imageUrl=uri(image))
    assert result.method == "scrfd" and result.faceCount == 1
    face = result.faces[0]
    assert (face.bbox.x, face.bbox.y, face.bbox.width, face.bbox.height) == (92, 52, 16, 16)
    assert face.score == pytest.approx(127.5 / 128, abs=1e-3)
    expected = np.array([100.0, 60.0]) + tiny_onnx.SCRFD_POINTS.reshape(5, 2) * 4
    np.testing.assert_allclose([(p.x, p.y) for p in face.landmarks], expected, atol=0.06)
    # the same model on a BGR copy of the block (blue in the red channel) finds nothing
    image[59:65, 99:105] = (0, 0, 255)
    bgr = call(face_tools["face/detection"], make_ctx(models), imageUrl=uri(image), outputFormat="jpeg")
    assert bgr.faceCount == 0 and bgr.outputImageUrl.endswith(".jpg")


def test_blank_mask_and_tiny_images_are_refused(face_tools: dict[str, AnyTool], make_ctx: ContextFactory) -> None:
    tool = face_tools["face/detection"]
    blank = np.full((200, 200, 3), 180, np.uint8)
    with pytest.raises(ImgOpenError) as refused:
        call(tool, make_ctx(), imageUrl=uri(blank))
    assert refused.value.code == "400" and "imageUrl" in refused.value.msg and "blank" in refused.value.msg
    mask = np.zeros((200, 200, 3), np.uint8)
    mask[50:150, 60:140] = 255
    with pytest.raises(ImgOpenError) as refused:
        call(tool, make_ctx(), imageUrl=uri(mask))
    assert refused.value.code == "400" and "mask" in refused.value.msg
    params = tool.params_model.model_validate({"imageUrl": "x"})
    with pytest.raises(ImgOpenError) as refused:
        tool.precheck(params, {"imageUrl": (12, 300)}, direct_checks(make_ctx().settings))
    assert refused.value.code == "400" and "imageUrl" in refused.value.msg
