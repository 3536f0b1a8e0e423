"""cnt/preview on a real photograph: every preprocessor makes a map of the processorRes size that is
not blank; depth and normal answer "503" without weights; openpose finds the astronaut's nose and
shoulders; thresholds and unknown names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pydantic import ValidationError

from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_checks
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.pixels.cnt_preview import NAMES, CntPreviewParams, CntPreviewResult, CntPreviewTool
from tests.tools.faces.test_detection import ASTRONAUT_FACE
from tests.tools.pixels import onnx_models
from tests.tools.pixels.conftest import context, pixels

# The astronaut's upper half, 512 x 384: not square, so the processorRes rule (shorter side) shows.
PHOTO = data_uri(encode(astronaut().crop((0, 0, 512, 384))))


@pytest.fixture(scope="module")
def tool() -> CntPreviewTool:
    return CntPreviewTool()  # one per module: its networks load once


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with a tiny network of Depth Anything's interface, for depth and normal."""
    root = tmp_path_factory.mktemp("cnt-models")
    onnx_models.depth(root / "annotators" / "depth_anything_v2_vits.onnx")
    return root


def preview(
    tool: CntPreviewTool, ctx: TaskContext, name: str, image: str = PHOTO, **settings: float
) -> tuple[CntPreviewResult, NDArray[np.int_]]:
    result = tool.run(CntPreviewParams(sourceImage=image, preprocessor=name, **settings), ctx)
    return result, pixels(ctx, result.outputImageUrl)


@pytest.mark.parametrize("name", NAMES)
def test_every_preprocessor_makes_a_map_of_the_right_size(
    tool: CntPreviewTool, models: Path, tmp_path: Path, name: str
) -> None:
    ctx = context(tmp_path, models)
    result, drawn = preview(tool, ctx, name, processorRes=128)
    # Shorter side 128, the aspect kept: 512 x 384 -> 170.67 x 128, rounded.
    assert (result.width, result.height) == (171, 128) and drawn.shape == (128, 171, 3), name
    flat = drawn.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    unlike_the_commonest = np.any(flat != colours[counts.argmax()], axis=1).mean()
    assert unlike_the_commonest > 0.01, (name, unlike_the_commonest)  # not a blank (uniform) image
    assert result.outputImageUrls == [result.outputImageUrl] and result.method
    assert (result.poseKeypoints is not None) == name.startswith("openpose")


def test_depth_and_normal_without_weights_are_503_naming_file_and_folder(tool: CntPreviewTool, tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    checks = direct_checks(ctx.settings)
    for name in ("depth", "normal", "depth_midas"):
        params = CntPreviewParams(sourceImage=PHOTO, preprocessor=name)
        for at_submit in (True, False):
            with pytest.raises(ImgOpenError) as missing:
                if at_submit:
                    tool.precheck(params, {"sourceImage": (512, 384)}, checks)
                else:
                    tool.run(params, ctx)
            assert missing.value.code == "503", name
            assert "depth_anything_v2_vits.onnx" in missing.value.msg
            assert str(tmp_path / "models" / "annotators") in missing.value.msg


def test_openpose_finds_the_nose_and_both_shoulders(tool: CntPreviewTool, tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    result, drawn = preview(tool, ctx, "openpose", image=data_uri(encode(astronaut())), processorRes=512)
    pose = result.poseKeypoints
    assert pose is not None and (pose["canvas_width"], pose["canvas_height"]) == (512, 512)
    assert len(pose["people"]) == 1
    points = np.array(pose["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    nose, right_shoulder, left_shoulder = points[0], points[2], points[5]
    for x, y, confidence in (nose, right_shoulder, left_shoulder):
        assert confidence > 0 and 0 <= x < 512 and 0 <= y < 512
    x, y, w, h = ASTRONAUT_FACE  # the face box that face/detection finds
    assert x < nose[0] < x + w and y < nose[1] < y + h
    # She faces the camera: her right shoulder is on the picture's left, both below the nose and
    # at least a face's width apart.
    assert right_shoulder[0] < nose[0] < left_shoulder[0]
    assert nose[1] < right_shoulder[1] and nose[1] < left_shoulder[1]
    assert left_shoulder[0] - right_shoulder[0] > w
    # The map shows the skeleton in OpenPose's colours: the nose dot is red (its colour, 255, 0, 0).
    assert tuple(drawn[round(nose[1]), round(nose[0])]) == (255, 0, 0)


def test_unknown_preprocessors_list_the_valid_ones_and_aliases_are_accepted() -> None:
    with pytest.raises(ValidationError) as refused:
        CntPreviewParams(sourceImage=PHOTO, preprocessor="sobel")
    message = str(refused.value)
    assert "unknown preprocessor 'sobel'" in message and all(name in message for name in NAMES)
    with pytest.raises(ValidationError):
        CntPreviewParams(sourceImage=PHOTO, preprocessor="none")  # the image itself: no preview
    for alias, name in (("Canny", "canny"), ("depth_midas", "depth"), ("dw_openpose_full", "openpose_full")):
        assert CntPreviewParams(sourceImage=PHOTO, preprocessor=alias).preprocessor == name


def white(drawn: NDArray[np.int_]) -> int:
    return int((drawn[..., 0] == 255).sum())


def test_canny_and_binary_honour_resolution_and_thresholds(tool: CntPreviewTool, tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    counts = []
    for low, high in ((30, 60), (100, 200), (200, 250)):
        result, drawn = preview(tool, ctx, "canny", processorRes=256, thresholdA=low, thresholdB=high)
        assert (result.width, result.height) == (341, 256)
        counts.append(white(drawn))
    assert counts[0] > counts[1] * 1.2 and counts[1] > counts[2] * 1.2 > 0, counts  # lower thresholds, more edges
    result, _ = preview(tool, ctx, "canny", processorRes=448)
    assert (result.width, result.height) == (597, 448)
    dark_levels = []
    for level in (60, 180):
        result, drawn = preview(tool, ctx, "binary", processorRes=200, thresholdA=level)
        assert result.method == "threshold" and (result.width, result.height) == (267, 200)
        assert set(np.unique(drawn)) <= {0, 255}
        dark_levels.append(white(drawn))
    assert 0 < dark_levels[0] < dark_levels[1]  # white where darker than the level: more at 180
    otsu, drawn = preview(tool, ctx, "binary", processorRes=200)
    assert otsu.method == "otsu-threshold" and dark_levels[0] < white(drawn) < dark_levels[1]


def test_a_map_over_the_pixel_limit_is_400_naming_processor_res(tool: CntPreviewTool, tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    params = CntPreviewParams(sourceImage=PHOTO, preprocessor="canny", processorRes=2048)
    # A 20000 x 10 strip (allowed as input) with its shorter side at 2048: 4096000 x 2048 pixels.
    with pytest.raises(ImgOpenError) as refused:
        tool.precheck(params, {"sourceImage": (20_000, 10)}, direct_checks(ctx.settings))
    assert refused.value.code == "400" and "processorRes" in refused.value.msg
    strip = data_uri(encode(Image.new("RGB", (2000, 10), (40, 90, 200))))
    with pytest.raises(ImgOpenError) as at_run:
        tool.run(CntPreviewParams(sourceImage=strip, preprocessor="canny", processorRes=2048), ctx)
    assert at_run.value.code == "400" and "409600x2048" in at_run.value.msg
