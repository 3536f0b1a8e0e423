"""interrogate without models: descriptions built from measurements (people, framing, colours,
brightness, style), worded as a prompt ("clip") or as Danbooru-style tags ("deepdanbooru")."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw
from skimage import data

from imgopen.tasks.context import TaskContext
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.understanding.interrogate import InterrogateParams, InterrogateResult, InterrogateTool
from imgopen.vision.colour_names import ColourNamer
from imgopen.vision.dominant_colours import dominant_colours
from tests.tools.understanding import drawings
from tests.tools.understanding.conftest import ContextFactory


@pytest.fixture(scope="module")
def tool() -> InterrogateTool:
    return InterrogateTool()


@pytest.fixture(scope="module")
def ctx(make_ctx: ContextFactory) -> TaskContext:
    return make_ctx(None)


def ask(tool: InterrogateTool, ctx: TaskContext, image: Image.Image, **fields: object) -> InterrogateResult:
    return tool.run(InterrogateParams(image=data_uri(encode(image)), **fields), ctx)


def test_astronaut_is_one_person_in_a_photograph(tool: InterrogateTool, ctx: TaskContext) -> None:
    result = ask(tool, ctx, astronaut())
    assert result.method == "offline-analysis"
    assert result.caption.startswith("a photograph of one person, ")
    assert result.measurements is not None
    assert result.measurements.people == 1 and result.measurements.faces == 1
    assert result.measurements.style == "photograph"
    # The white suit and the dark background are the largest colour areas.
    names = [colour.name for colour in result.measurements.colours[:2]]
    assert names[0] in ("silver", "white", "grey") and names[1] in ("black", "charcoal")
    assert abs(sum(c.share for c in result.measurements.colours) - 1) < 0.01
    assert "square format" in result.caption
    assert result.tags is None  # "clip" lists no tags without a CLIP model


def test_coffee_has_no_people_and_warm_colours(tool: InterrogateTool, ctx: TaskContext) -> None:
    result = ask(tool, ctx, Image.fromarray(data.coffee()))
    assert result.measurements is not None and result.measurements.people == 0
    assert result.caption.startswith("a photograph, ") and "person" not in result.caption
    assert "landscape format" in result.caption
    warm = {"rust", "brown", "tan", "orange", "maroon", "dark brown", "chocolate", "beige", "amber"}
    assert result.measurements.colours[0].name in warm


def test_line_art_on_white_paper(tool: InterrogateTool, ctx: TaskContext) -> None:
    result = ask(tool, ctx, drawings.line_art())
    assert result.caption.startswith("line art")
    assert "plain white background" in result.caption
    assert "bright, high-key lighting" in result.caption


def test_dark_picture_reads_dark(tool: InterrogateTool, ctx: TaskContext) -> None:
    night = Image.new("RGB", (320, 240), (12, 14, 30))
    ImageDraw.Draw(night).ellipse((200, 30, 240, 70), fill=(230, 230, 210))
    result = ask(tool, ctx, night)
    assert "dark, low-key lighting" in result.caption
    assert result.measurements is not None and result.measurements.brightness < 20


def test_deepdanbooru_offline_tags_for_the_astronaut(tool: InterrogateTool, ctx: TaskContext) -> None:
    result = ask(tool, ctx, astronaut(), model="deepdanbooru")
    assert result.method == "offline-analysis"
    assert result.tags is not None
    tags = {tag.tag: tag for tag in result.tags}
    assert "solo" in tags and "photo (medium)" in tags and "no humans" not in tags
    assert all(0.35 <= tag.score <= 1 for tag in result.tags)
    assert [t.score for t in result.tags] == sorted((t.score for t in result.tags), reverse=True)
    # The caption is the tags, brackets escaped for A1111 prompts.
    assert result.caption == ", ".join(t.tag.replace("(", "\\(").replace(")", "\\)") for t in result.tags)
    assert "photo \\(medium\\)" in result.caption


def test_deepdanbooru_threshold_drops_weak_tags(tool: InterrogateTool, ctx: TaskContext) -> None:
    everything = ask(tool, ctx, drawings.pixel_art(), model="deepdanbooru", threshold=0.0)
    strict = ask(tool, ctx, drawings.pixel_art(), model="deepdanbooru", threshold=0.9)
    assert everything.tags is not None and strict.tags is not None
    assert "pixel art" in {t.tag for t in everything.tags}
    assert "no humans" in {t.tag for t in everything.tags}
    assert len(strict.tags) < len(everything.tags)
    assert all(t.score >= 0.9 for t in strict.tags)


def test_two_people_are_counted(tool: InterrogateTool, ctx: TaskContext) -> None:
    pair = Image.new("RGB", (1024, 512))
    pair.paste(astronaut(), (0, 0))
    pair.paste(astronaut().transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    result = ask(tool, ctx, pair)
    assert result.caption.startswith("a photograph of two people, ")
    assert result.measurements is not None and result.measurements.faces == 2
    assert "landscape format" in result.caption


def test_colour_names_and_shares() -> None:
    namer = ColourNamer()
    expected = {(220, 30, 30): "red", (20, 30, 95): "navy", (250, 250, 250): "white", (50, 150, 60): "green"}
    for rgb, name in expected.items():
        assert namer.name(rgb) == name
    split = Image.new("RGB", (100, 100), (230, 130, 30))
    ImageDraw.Draw(split).rectangle((0, 0, 29, 99), fill=(40, 90, 200))
    colours = dominant_colours(split)
    assert [c.name for c in colours] == ["orange", "blue"]
    assert colours[0].share == pytest.approx(0.7, abs=0.03) and colours[0].hex == "#e6821e"
