"""removeBg: the astronaut cut out offline (person kept, corners cleared) in its three output
modes; a matting network's pre- and post-processing checked with small ONNX models built here;
bad input; and the whole server over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image
from pydantic import ValidationError
from skimage import data

from imgopen.client import ApiError
from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.services import build_services
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_checks, direct_context
from imgopen.testing.images import astronaut, data_uri, decode, encode
from imgopen.tools.people.remove_bg import PERSON_METHOD, RemoveBgParams, RemoveBgTool
from tests.conftest import Served, SettingsFactory
from tests.tools.conftest import stored

# The astronaut's face and torso (pixels that are the person beyond doubt).
FACE_CENTRE = (225, 130)
TORSO = (slice(330, 400), slice(80, 200))
CORNER = 8  # corners checked as CORNER x CORNER squares


@pytest.fixture(scope="module")
def tool() -> RemoveBgTool:
    return RemoveBgTool()


@pytest.fixture(scope="module")
def source() -> str:
    return data_uri(encode(astronaut()))


def corners(pixels: np.ndarray) -> list[np.ndarray]:
    c = CORNER
    return [pixels[:c, :c], pixels[:c, -c:], pixels[-c:, :c], pixels[-c:, -c:]]


def cut(tool: RemoveBgTool, ctx: TaskContext, source: str, **fields: object) -> tuple[Image.Image, Image.Image, str]:
    result = tool.run(RemoveBgParams(sourceImage=source, **fields), ctx)
    return stored(ctx, result.outputImageUrl), stored(ctx, result.maskUrl), result.method


def test_transparent_keeps_the_person_and_clears_the_corners(tool: RemoveBgTool, ctx: TaskContext, source: str) -> None:
    out, mask, method = cut(tool, ctx, source)
    assert method == PERSON_METHOD
    assert out.mode == "RGBA" and out.size == (512, 512)
    alpha = np.asarray(out)[..., 3]
    assert alpha[FACE_CENTRE[1], FACE_CENTRE[0]] == 255 and alpha[TORSO].min() == 255
    assert all(corner.max() == 0 for corner in corners(alpha))
    assert np.asarray(out)[alpha == 0].max() == 0  # nothing hides under full transparency
    # Opaque pixels keep their colour exactly; only the soft rim is recoloured.
    original = np.asarray(astronaut())
    solid = alpha == 255
    assert np.array_equal(np.asarray(out)[..., :3][solid], original[solid])
    # A plausible cut: the person fills about half the picture (measured 54% with MediaPipe alone).
    assert 0.40 < (alpha > 127).mean() < 0.65
    assert np.array_equal(np.asarray(mask), alpha)


def test_mask_mode_gives_one_channel(tool: RemoveBgTool, ctx: TaskContext, source: str) -> None:
    out, mask, _ = cut(tool, ctx, source, outputMode="mask")
    assert out.mode == "L" and mask.mode == "L" and out.size == (512, 512)
    pixels = np.asarray(out)
    assert pixels[TORSO].min() == 255 and all(corner.max() == 0 for corner in corners(pixels))
    soft = ((pixels > 0) & (pixels < 255)).mean()
    assert 0 < soft < 0.05  # a soft edge, only along the outline


@pytest.mark.parametrize(("color", "rgb"), [("#00FF00", (0, 255, 0)), ("navy", (0, 0, 128)), ("#f0a", (255, 0, 170))])
def test_color_mode_paints_the_background(
    tool: RemoveBgTool, ctx: TaskContext, source: str, color: str, rgb: tuple[int, int, int]
) -> None:
    out, mask, _ = cut(tool, ctx, source, outputMode="color", backgroundColor=color)
    assert out.mode == "RGB"
    pixels = np.asarray(out)
    for corner in corners(pixels):
        assert (corner == np.asarray(rgb, np.uint8)).all()
    original = np.asarray(astronaut())
    assert np.array_equal(pixels[TORSO], original[TORSO])
    background = np.asarray(mask) == 0
    assert (pixels[background] == np.asarray(rgb, np.uint8)).all()


def test_no_person_is_refused_with_what_to_install(tool: RemoveBgTool, ctx: TaskContext) -> None:
    blank = data_uri(encode(Image.new("RGB", (300, 200), (255, 255, 255))))
    with pytest.raises(ImgOpenError) as refused:
        tool.run(RemoveBgParams(sourceImage=blank), ctx)
    assert refused.value.code == "422" and "no person found" in refused.value.msg
    assert "rembg" in refused.value.msg and "u2net.onnx" in refused.value.msg
    # MediaPipe's selfie model "sees" a person in this coffee cup (23% of the pixels above 0.5);
    # no face and no body pose confirm one, so nothing is cut out.
    coffee = data_uri(encode(Image.fromarray(data.coffee())))
    with pytest.raises(ImgOpenError, match="no person found"):
        tool.run(RemoveBgParams(sourceImage=coffee), ctx)


def test_bad_fields_name_themselves(tool: RemoveBgTool, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="outputMode"):
        RemoveBgParams(sourceImage="x", outputMode="sepia")
    with pytest.raises(ValidationError, match="backgroundColor") as colour:
        RemoveBgParams(sourceImage="x", outputMode="color", backgroundColor="blurple")
    assert "not a colour" in str(colour.value)
    with pytest.raises(ValidationError, match="model"):
        RemoveBgParams(sourceImage="x", model="sam")
    checks = direct_checks(Settings(data_dir=tmp_path, models_dir=Path("/nowhere"), database_url="sqlite://"))
    with pytest.raises(ImgOpenError) as missing:
        tool.precheck(RemoveBgParams(sourceImage="x", model="u2net"), {}, checks)
    assert missing.value.code == "503" and "u2net.onnx" in missing.value.msg
    assert str(Path("/nowhere") / "rembg") in missing.value.msg


# --- matting networks: small ONNX models with the real ones' interfaces -------------------------------
def write_saliency_net(path: Path, side: int, input_name: str, logits: bool) -> None:
    """The interface of a rembg network: input (1x3xSxS) -> 1x1xSxS saliency maps (U²-Net has
    seven side outputs; only the first is the answer). This one answers "salient" where the
    normalised red channel is high, sigmoid(2 r) (raw 2 r for BiRefNet, which leaves the sigmoid
    out); its second output is the opposite, so using the wrong output inverts the cut."""
    nodes = [
        helper.make_node("Slice", [input_name, "start", "end", "axis"], ["red"]),
        helper.make_node("Mul", ["red", "two"], ["raw"]),
        helper.make_node("Identity" if logits else "Sigmoid", ["raw"], ["d0"]),
        helper.make_node("Neg", ["d0"], ["d1"]),
    ]
    consts = [
        helper.make_tensor("start", TensorProto.INT64, [1], [0]),
        helper.make_tensor("end", TensorProto.INT64, [1], [1]),
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_saliency",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, side, side]) for name in ("d0", "d1")],
        consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def red_blue(width: int = 400, height: int = 300) -> Image.Image:
    """Left half red, right half blue, a red square in the blue half: not square, not person."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    pixels[100:200, 260:360] = (255, 0, 0)
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    ("model", "file", "side", "input_name", "logits"),
    [
        ("u2net", "u2net.onnx", 320, "input.1", False),
        ("isnet-general-use", "isnet-general-use.onnx", 1024, "input_image", False),
        ("birefnet-general", "BiRefNet-general-epoch_244.onnx", 1024, "input_image", True),
    ],
)
def test_matting_network_alpha_follows_its_saliency(
    tmp_path: Path, model: str, file: str, side: int, input_name: str, logits: bool
) -> None:
    write_saliency_net(tmp_path / "models" / "rembg" / file, side, input_name, logits)
    ctx = direct_context(Settings(data_dir=tmp_path, models_dir=tmp_path / "models", database_url="sqlite://"))
    tool = RemoveBgTool()
    source = data_uri(encode(red_blue()))
    result = tool.run(RemoveBgParams(sourceImage=source, outputMode="color", backgroundColor="white"), ctx)
    assert result.method == f"onnx:{model}"  # "auto" runs the installed network
    alpha = np.asarray(stored(ctx, result.maskUrl), np.float32) / 255
    assert alpha.shape == (300, 400)  # scaled back to the image
    # Red (the network's "subject") is kept, blue cleared: right channel order, normalisation,
    # first output, sigmoid where the network has none.
    assert alpha[20:280, 20:180].min() > 0.95 and alpha[20:80, 220:380].max() < 0.05
    assert alpha[120:180, 280:340].min() > 0.95
    out = np.asarray(stored(ctx, result.outputImageUrl))
    assert (out[40, 300] == 255).all() and tuple(out[150, 100]) == (255, 0, 0)
    # The same network by name; people segmentation still on request.
    named = tool.run(RemoveBgParams(sourceImage=source, model=model), ctx)
    assert named.method == f"onnx:{model}"
    person = tool.run(RemoveBgParams(sourceImage=data_uri(encode(astronaut())), model="person"), ctx)
    assert person.method == PERSON_METHOD


# --- over HTTP ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(make_settings: SettingsFactory) -> Iterator[Served]:
    running = Served(build_services(make_settings()))
    yield running
    running.stop()


def test_remove_bg_over_http(server: Served, bid: Callable[[str], str], source: str) -> None:
    client = server.client
    done = client.wait(client.submit_tool("removeBg", bid("rb"), sourceImage=source, outputMode="transparent"))
    assert done["state"] == "success", done
    assert done["method"] == PERSON_METHOD
    assert done["outputImageUrls"] == [done["outputImageUrl"]]  # the list form of the query answer
    cutout = decode(httpx.get(done["outputImageUrl"], trust_env=False).content)
    mask = decode(httpx.get(done["maskUrl"], trust_env=False).content)
    assert cutout.mode == "RGBA" and mask.mode == "L"
    alpha = np.asarray(cutout)[..., 3]
    assert alpha[TORSO].min() == 255 and all(corner.max() == 0 for corner in corners(alpha))
    assert np.array_equal(np.asarray(mask), alpha)


def test_http_refusals(server: Served, bid: Callable[[str], str], source: str) -> None:
    client = server.client
    with pytest.raises(ApiError) as bad_mode:
        client.submit_tool("removeBg", bid("rb"), sourceImage=source, outputMode="sepia")
    assert bad_mode.value.code == "400" and "outputMode" in bad_mode.value.msg
    with pytest.raises(ApiError) as bad_colour:
        client.submit_tool("removeBg", bid("rb"), sourceImage=source, backgroundColor="#12345")
    assert bad_colour.value.code == "400" and "backgroundColor" in bad_colour.value.msg
    with pytest.raises(ApiError) as no_model:
        client.submit_tool("removeBg", bid("rb"), sourceImage=source, model="isnet-general-use")
    assert no_model.value.code == "503" and "isnet-general-use.onnx" in no_model.value.msg
    blank = data_uri(encode(Image.new("RGB", (64, 64), (255, 255, 255))))
    failed = client.wait(client.submit_tool("removeBg", bid("rb"), sourceImage=blank))
    assert failed["state"] == "failed" and failed["errorCode"] == "422"
    assert "no person found" in failed["errorMsg"]
