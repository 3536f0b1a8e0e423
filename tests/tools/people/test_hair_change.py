"""hair/change: the hair found on the astronaut, recoloured only there; a new style painted end to
end with the tiny SD 1.5 checkpoint; the published presets; bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.services import Services, build_services
from imgopen.tasks.context import TaskContext
from imgopen.testing.direct import direct_checks, direct_context
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.people.hair_change import HairChangeParams, HairChangeTool
from imgopen.tools.people.hair_colors import COLOR_NAMES, HAIR_COLORS
from imgopen.tools.people.hair_styles import HAIR_STYLES, STYLE_CODES, resolve_style
from imgopen.vision.hair import HairFinder, HairRegion
from tests.tools.conftest import stored

EYE_LINE = 100  # the astronaut's eyes are at y = 101..104


@pytest.fixture(scope="module")
def region() -> HairRegion:
    found = HairFinder().find(astronaut())
    assert found is not None
    return found


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> Iterator[Services]:
    root = tmp_path_factory.mktemp("hair")
    built = build_services(Settings(data_dir=root, models_dir=tiny_models, database_url=f"sqlite:///{root}/db.sqlite"))
    yield built
    built.stop()


@pytest.fixture(scope="module")
def tool(services: Services) -> HairChangeTool:
    # One step at 64 px: the tiny checkpoint paints noise, but through the real inpainting path.
    return HairChangeTool(services.engine, steps=1, work_side=64)


@pytest.fixture(scope="module")
def source() -> str:
    return data_uri(encode(astronaut()))


def test_hair_is_found_above_the_eyes(region: HairRegion) -> None:
    alpha = region.alpha
    solid = alpha > 0.5
    # The astronaut's short bob covers about 3.5% of the picture (18% of the head box).
    assert 0.02 < region.fraction < 0.06
    rows, cols = np.nonzero(solid)
    assert rows.min() < 30 and np.mean(rows < EYE_LINE) > 0.8 and rows.max() < 150
    assert cols.min() > 140 and cols.max() < 320
    # The crown is hair, the face and the background beside the head are not.
    assert solid[20:40, 215:245].all()
    assert not solid[110:170, 200:250].any()  # cheeks, nose and mouth
    assert not solid[20:60, 60:120].any() and not solid[20:60, 340:400].any()


def test_recolouring_changes_only_the_hair(tool: HairChangeTool, ctx: TaskContext, source: str) -> None:
    result = tool.run(HairChangeParams(sourceImage=source, hairColor="red"), ctx)
    assert result.method == "mediapipe-hair-mask+lab-recolour" and result.seeds == []
    assert len(result.outputImageUrls) == 1 and result.outputImageUrl == result.outputImageUrls[0]
    out = np.asarray(stored(ctx, result.outputImageUrl), np.int16)
    mask = np.asarray(stored(ctx, result.maskUrl))
    original = np.asarray(astronaut(), np.int16)
    changed = np.abs(out - original).max(axis=2) > 0
    assert not (changed & (mask == 0)).any()
    hair = mask > 127
    assert changed[hair].mean() > 0.95
    red_before = (original[hair][:, 0] - original[hair][:, 1]).mean()
    red_after = (out[hair][:, 0] - out[hair][:, 1]).mean()
    assert red_after > red_before + 40


def test_hex_colour_and_count(tool: HairChangeTool, ctx: TaskContext, source: str) -> None:
    result = tool.run(HairChangeParams(sourceImage=source, hairColor="#2050D0", imageCount=3), ctx)
    assert len(result.outputImageUrls) == 1 and any("imageCount" in w for w in ctx.warnings)
    out = np.asarray(stored(ctx, result.outputImageUrl), np.int16)
    hair = np.asarray(stored(ctx, result.maskUrl)) > 127
    blue, red = out[hair][:, 2].mean(), out[hair][:, 0].mean()
    assert blue > red + 30


def test_presets_are_published(tool: HairChangeTool, ctx: TaskContext, source: str) -> None:
    description = HairChangeParams.model_fields["hairStyle"].description or ""
    assert all(code in description for code in STYLE_CODES) and "bob_cut" in STYLE_CODES
    colours = HairChangeParams.model_fields["hairColor"].description or ""
    assert all(name in colours for name in COLOR_NAMES)
    result = tool.run(HairChangeParams(sourceImage=source, hairColor="platinum blonde"), ctx)
    assert result.styles == list(STYLE_CODES) and result.colors == list(COLOR_NAMES)
    out = np.asarray(stored(ctx, result.outputImageUrl), np.float32)
    hair = np.asarray(stored(ctx, result.maskUrl)) > 200
    assert out[hair].mean() > np.asarray(astronaut(), np.float32)[hair].mean() + 40  # lighter
    assert HAIR_COLORS["platinum blonde"][0] > 200


def test_new_style_is_painted_with_sd_inpainting(tool: HairChangeTool, ctx: TaskContext, source: str) -> None:
    params = HairChangeParams(sourceImage=source, hairStyle="bob cut", imageCount=2, seed=7)
    result = tool.run(params, ctx)
    assert result.method == "sd-inpaint:tiny-sd15-inpainting:bob_cut" and result.seeds == [7, 8]
    original = np.asarray(astronaut(), np.int16)
    hair = np.asarray(stored(ctx, result.maskUrl)) > 127
    outputs = [np.asarray(stored(ctx, key), np.int16) for key in result.outputImageUrls]
    assert len(outputs) == 2 and not np.array_equal(outputs[0], outputs[1])
    for out in outputs:
        assert out.shape == original.shape
        assert np.abs(out - original)[hair].mean() > 10  # the hair is repainted
        # The body and the background far from the head are untouched, the face nearly so.
        assert np.array_equal(out[300:], original[300:]) and np.array_equal(out[:, 400:], original[:, 400:])
        assert np.abs(out[115:160, 200:250] - original[115:160, 200:250]).mean() < 2
    again = tool.run(params.model_copy(update={"imageCount": 1}), ctx)
    assert np.array_equal(np.asarray(stored(ctx, again.outputImageUrl), np.int16), outputs[0])


def test_style_codes_and_free_text() -> None:
    assert resolve_style("Bob-Cut") == (HAIR_STYLES["bob_cut"], HAIR_STYLES["bob_cut"].prompt, "medium")
    assert resolve_style(" long wavy ")[0] == HAIR_STYLES["long_wavy"]
    # Free text is painted as written, with room for any length.
    assert resolve_style("a messy fringe") == (None, "a messy fringe", "long")


def test_style_and_colour_together(tool: HairChangeTool, ctx: TaskContext, source: str, region: HairRegion) -> None:
    result = tool.run(HairChangeParams(sourceImage=source, hairStyle="pixie_cut", hairColor="green", seed=3), ctx)
    # Painted, then the painted hair found again and dyed exactly the colour asked for.
    assert result.method == "sd-inpaint:tiny-sd15-inpainting:pixie_cut+lab-recolour"
    painted = stored(ctx, result.outputImageUrl)
    again = HairFinder().find(painted)
    assert again is not None and again.fraction > 0.01
    hair = np.asarray(painted, np.float32)[again.alpha > 0.5]
    assert hair[:, 1].mean() > hair[:, 0].mean() + 20 and hair[:, 1].mean() > hair[:, 2].mean() + 20


def test_no_checkpoint_no_style(tmp_path: Path, source: str) -> None:
    settings = Settings(data_dir=tmp_path, models_dir=tmp_path / "empty", database_url=f"sqlite:///{tmp_path}/db")
    services = build_services(settings)
    try:
        tool = HairChangeTool(services.engine)
        with pytest.raises(ImgOpenError) as refused:
            tool.precheck(HairChangeParams(sourceImage=source, hairStyle="bob_cut"), {}, direct_checks(settings))
        assert refused.value.code == "503" and str(tmp_path / "empty" / "checkpoints") in refused.value.msg
        # Colour alone needs no checkpoint.
        done = tool.run(HairChangeParams(sourceImage=source, hairColor="black"), direct_context(settings))
        assert done.method == "mediapipe-hair-mask+lab-recolour"
    finally:
        services.stop()


def test_bad_input(tool: HairChangeTool, ctx: TaskContext) -> None:
    with pytest.raises(ValidationError, match="imageCount"):
        HairChangeParams(sourceImage="x", hairColor="red", imageCount=5)
    with pytest.raises(ValidationError, match="hairColor"):
        HairChangeParams(sourceImage="x", hairColor="unicorn sparkle")
    with pytest.raises(ValidationError, match="hairStyle"):
        HairChangeParams(sourceImage="x", hairStyle="  ")
    blank = data_uri(encode(Image.new("RGB", (256, 256), (200, 200, 200))))
    with pytest.raises(ImgOpenError) as no_face:
        tool.run(HairChangeParams(sourceImage=blank, hairColor="red"), ctx)
    assert no_face.value.code == "422" and "no face found" in no_face.value.msg
