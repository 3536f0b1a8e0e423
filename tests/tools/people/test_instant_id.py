"""instantID: "503" naming every missing file; antelopev2 face analysis (SCRFD decoding, ArcFace
alignment and normalisation) with small ONNX models built here; the keypoint drawing; and the whole
pipeline (IdentityNet + IP-Adapter on SDXL) with tiny random models, leaving the cached checkpoint
as it found it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image
from pydantic import ValidationError

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.services import Services, build_services
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_checks, direct_context
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.people.instant_id.face_analysis import FaceAnalysis, recognition_normalisation
from imgopen.tools.people.instant_id.keypoints import COLORS, draw_keypoints, fit_points
from imgopen.tools.people.instant_id.tool import InstantIdParams, InstantIdTool
from imgopen.tools.people.instant_id.tool_spec import InstantIdSpec, requirements
from tests.tools.conftest import stored
from tests.tools.people.instantid_models import FACE_BOX_640, FACE_POINTS_640, write_instantid_folder

SCALE = 640 / 512  # the astronaut (512 px) in the detector's 640 px input


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> Path:
    root = tmp_path_factory.mktemp("instantid") / "models"
    shutil.copytree(tiny_models / "checkpoints" / "tiny-sdxl", root / "checkpoints" / "tiny-sdxl")
    write_instantid_folder(root, root / "checkpoints" / "tiny-sdxl")
    return root


@pytest.fixture(scope="module")
def services(models: Path) -> Iterator[Services]:
    data = models.parent / "data"
    built = build_services(Settings(data_dir=data, models_dir=models, database_url=f"sqlite:///{models.parent}/db"))
    yield built
    built.stop()


def refusal(models_dir: Path, tmp_path: Path, name: str) -> ImgOpenError:
    """What instantID's submit-time check says with this models folder (from the spec: no engine)."""
    settings = Settings(data_dir=tmp_path, models_dir=models_dir, database_url=f"sqlite:///{tmp_path}/{name}.db")
    with pytest.raises(ImgOpenError) as refused:
        InstantIdSpec().precheck(InstantIdParams(image="x"), {}, direct_checks(settings))
    return refused.value


@pytest.fixture(scope="module")
def tool(services: Services) -> InstantIdTool:
    return InstantIdTool(services.engine)


@pytest.fixture
def ctx(services: Services) -> TaskContext:
    """A task context whose settings point at the InstantID models folder."""
    return direct_context(services.settings)


def antelope(models: Path, name: str) -> Path:
    return models / "insightface" / "antelopev2" / name


# --- what is missing --------------------------------------------------------------------------------
def test_missing_weights_are_listed(tmp_path: Path, models: Path) -> None:
    empty = tmp_path / "empty"
    refused = refusal(empty, tmp_path, "empty")
    message = refused.msg
    assert refused.code == "503"
    for needed in ("SDXL checkpoint", "ControlNetModel", "ip-adapter.bin", "scrfd_10g_bnkps.onnx", "glintr100.onnx"):
        assert needed in message
    assert str(empty / "instantid") in message and str(empty / "insightface" / "antelopev2") in message
    assert "non-commercial" in message
    # Everything but the IP-Adapter: only it is named.
    partial = tmp_path / "partial"
    shutil.copytree(models, partial, ignore=shutil.ignore_patterns("ip-adapter.bin"))
    one = refusal(partial, tmp_path, "partial")
    assert one.code == "503" and "ip-adapter.bin" in one.msg
    assert "ControlNetModel" not in one.msg and "glintr100" not in one.msg


def test_checkpoint_must_be_sdxl(services: Services, models: Path) -> None:
    catalog = services.engine.catalog
    with pytest.raises(ImgOpenError) as missing:
        requirements(InstantIdParams(image="x", checkpoint="nope"), catalog, models)
    assert missing.value.code == "404"
    entry, files = requirements(InstantIdParams(image="x"), catalog, models)
    assert entry.name == "tiny-sdxl" and files.ip_adapter.name == "ip-adapter.bin"


# --- antelopev2 face analysis -----------------------------------------------------------------------
def test_scrfd_outputs_decode_to_image_pixels(models: Path) -> None:
    analysis = FaceAnalysis()
    faces = analysis.detect(antelope(models, "scrfd_10g_bnkps.onnx"), np.asarray(astronaut()))
    assert len(faces) == 1 and faces[0].score > 0.9
    assert faces[0].box == pytest.approx(tuple(v / SCALE for v in FACE_BOX_640), abs=1e-3)
    assert faces[0].points == pytest.approx(np.asarray(FACE_POINTS_640) / SCALE, abs=1e-3)
    # The tiny detector only sees a face in an input normalised as SCRFD expects: a white page
    # (all +1 after normalisation) has none.
    white = np.full((300, 300, 3), 255, np.uint8)
    assert analysis.detect(antelope(models, "scrfd_10g_bnkps.onnx"), white) == []


def test_recogniser_normalisation_and_embedding(models: Path, tmp_path: Path) -> None:
    glintr = antelope(models, "glintr100.onnx")
    assert recognition_normalisation(glintr) == (127.5, 127.5)
    # An MXNet-style export carries its own normalisation: raw pixels go in.
    nodes = [
        helper.make_node("Sub", ["data", "mean"], ["centred"], name="_minus0"),
        helper.make_node("Mul", ["centred", "scale"], ["fc1"], name="_mul0"),
    ]
    graph = helper.make_graph(
        nodes,
        "mx",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [
            helper.make_tensor("mean", TensorProto.FLOAT, [], [127.5]),
            helper.make_tensor("scale", TensorProto.FLOAT, [], [0.0078125]),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "mx.onnx"))
    assert recognition_normalisation(tmp_path / "mx.onnx") == (0.0, 1.0)
    analysis = FaceAnalysis()
    rgb = np.asarray(astronaut())
    face = analysis.detect(antelope(models, "scrfd_10g_bnkps.onnx"), rgb)[0]
    embedding = analysis.embed(glintr, rgb, face)
    assert embedding.shape == (512,) and np.isfinite(embedding).all()
    assert np.array_equal(embedding, analysis.embed(glintr, rgb, face))
    other = analysis.embed(glintr, np.ascontiguousarray(rgb[:, :, ::-1]), face)
    assert np.abs(other - embedding).max() > 1e-3


def test_keypoint_drawing() -> None:
    points = fit_points(
        np.asarray([[100, 50], [140, 50], [120, 80], [105, 100], [135, 100]], np.float32), (200, 100), (400, 400)
    )
    # A 200 x 100 source fits a 400 x 400 frame at scale 2, centred vertically (offset 100).
    assert points[0] == pytest.approx((200, 200))
    drawing = np.asarray(draw_keypoints(points, (400, 400)))
    assert drawing.shape == (400, 400, 3)
    for (x, y), colour in zip(points, COLORS, strict=True):
        assert tuple(drawing[round(y), round(x)]) == colour
    assert drawing[:50].max() == 0 and drawing[350:].max() == 0


# --- the pipeline -----------------------------------------------------------------------------------
def test_portrait_with_tiny_models(tool: InstantIdTool, services: Services, ctx: TaskContext) -> None:
    source = data_uri(encode(astronaut()))
    base = {"image": source, "prompt": "a portrait", "width": 64, "height": 80, "steps": 1, "seed": 11}
    result = tool.run(InstantIdParams(**base), ctx)
    # IdentityNet's cross-attention context is the 16 face tokens of the Resampler, not the prompt's
    # 77 text tokens: the unconditional half from a zero embedding, the other from the face.
    cached = services.engine.cache.keys()
    key = next(k for k in cached if k.startswith("instantid-controlnet:"))
    identity_net = services.engine.cache.get(key, lambda: None).value
    contexts: list[torch.Tensor] = []
    hook = identity_net.register_forward_hook(
        lambda _m, _a, kwargs, _o: contexts.append(kwargs["encoder_hidden_states"]), with_kwargs=True
    )
    try:
        tool.run(InstantIdParams(**base), ctx)
    finally:
        hook.remove()
    assert contexts and contexts[0].shape == (2, 16, 80)
    assert not torch.allclose(contexts[0][0], contexts[0][1])
    assert result.method == "instantid:tiny-sdxl" and result.model == "tiny-sdxl" and result.seed == 11
    portrait = np.asarray(stored(ctx, result.outputImageUrl), np.int16)
    assert portrait.shape == (80, 64, 3) and portrait.std() > 1
    control = np.asarray(stored(ctx, result.controlImageUrl))
    expected = fit_points(np.asarray(FACE_POINTS_640, np.float32) / SCALE, (512, 512), (64, 80))
    x, y = expected[4]  # the last dot drawn: at 64 px the dots overlap
    assert tuple(control[round(y), round(x)]) == COLORS[4]
    again = tool.run(InstantIdParams(**base), ctx)
    assert np.array_equal(np.asarray(stored(ctx, again.outputImageUrl), np.int16), portrait)
    # The identity (IP-Adapter) and IdentityNet each steer the image.
    for field in ("identityStrength", "controlStrength"):
        off = tool.run(InstantIdParams(**{**base, field: 0.0}), ctx)
        assert np.abs(np.asarray(stored(ctx, off.outputImageUrl), np.int16) - portrait).max() > 0, field
    # The cached SDXL checkpoint is left as it was: no IP-Adapter layers for the SD endpoints.
    entry = services.engine.catalog.require("checkpoint", "tiny-sdxl", "checkpoint")
    with services.engine.checkpoint(entry) as loaded:
        unet = loaded.pipe.unet
        assert unet.encoder_hid_proj is None
        assert not any("IPAdapter" in type(p).__name__ for p in unet.attn_processors.values())


def test_no_face_and_bad_fields(tool: InstantIdTool, ctx: TaskContext) -> None:
    white = data_uri(encode(Image.new("RGB", (128, 128), (255, 255, 255))))
    with pytest.raises(ImgOpenError) as refused:
        tool.run(InstantIdParams(image=white, width=64, height=64, steps=1), ctx)
    assert refused.value.code == "422" and "no face found" in refused.value.msg
    with pytest.raises(ValidationError, match="steps"):
        InstantIdParams(image="x", steps=0)
    with pytest.raises(ValidationError, match="width"):
        InstantIdParams(image="x", width=4096)
