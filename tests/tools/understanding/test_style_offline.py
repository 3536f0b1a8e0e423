"""identifyStyle without models: the statistics classifier on pictures whose style is known
(photographs shipped with scikit-image, drawings made in tests/tools/understanding/drawings.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from skimage import data

from imgopen.tasks.context import TaskContext
from imgopen.testing.images import data_uri, encode
from imgopen.tools.understanding.identify_style import IdentifyStyleParams, IdentifyStyleTool
from imgopen.vision.styles import STYLE_NAMES
from tests.tools.understanding import drawings
from tests.tools.understanding.conftest import ContextFactory


@pytest.fixture(scope="module")
def tool() -> IdentifyStyleTool:
    return IdentifyStyleTool()


@pytest.fixture(scope="module")
def ctx(make_ctx: ContextFactory) -> TaskContext:
    return make_ctx(None)


def jpeg(image: Image.Image, quality: int = 90) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


KNOWN: list[tuple[str, object, str]] = [
    ("astronaut", lambda: Image.fromarray(data.astronaut()), "photograph"),
    ("coffee", lambda: Image.fromarray(data.coffee()), "photograph"),
    ("chelsea", lambda: Image.fromarray(data.chelsea()), "photograph"),
    ("rocket", lambda: Image.fromarray(data.rocket()), "photograph"),
    ("astronaut jpeg q50", lambda: jpeg(Image.fromarray(data.astronaut()), 50), "photograph"),
    ("camera", lambda: Image.fromarray(data.camera()), "black and white photograph"),
    ("coins", lambda: Image.fromarray(data.coins()), "black and white photograph"),
    ("line art", drawings.line_art, "line art"),
    ("line art jpeg", lambda: jpeg(drawings.line_art(seed=3)), "line art"),
    ("pixel art x16", drawings.pixel_art, "pixel art"),
    ("pixel art x8", lambda: drawings.pixel_art(cells=64, block=8, seed=1), "pixel art"),
    ("pixel art jpeg", lambda: jpeg(drawings.pixel_art(seed=2)), "pixel art"),
    ("flat illustration", drawings.flat_illustration, "illustration"),
    ("flat illustration jpeg", lambda: jpeg(drawings.flat_illustration(seed=4)), "illustration"),
    ("pencil sketch", drawings.pencil_sketch, "sketch"),
]


@pytest.mark.parametrize(("name", "make", "expected"), KNOWN, ids=[k[0] for k in KNOWN])
def test_known_styles(tool: IdentifyStyleTool, ctx: TaskContext, name: str, make: object, expected: str) -> None:
    image = make()  # type: ignore[operator]
    result = tool.run(IdentifyStyleParams(sourceImage=data_uri(encode(image))), ctx)
    assert result.method == "offline-statistics"
    assert result.style == expected, result.styles[:3]
    # A clear answer, not a coin toss between two styles.
    assert result.styles[0].score > 2 * result.styles[1].score


def test_scores_cover_the_published_list(tool: IdentifyStyleTool, ctx: TaskContext) -> None:
    result = tool.run(IdentifyStyleParams(sourceImage=data_uri(encode(drawings.line_art()))), ctx)
    assert sorted(s.style for s in result.styles) == sorted(STYLE_NAMES)
    assert abs(sum(s.score for s in result.styles) - 1) < 1e-3
    assert [s.score for s in result.styles] == sorted((s.score for s in result.styles), reverse=True)


def test_a_photo_enlarged_with_nearest_is_not_pixel_art(tool: IdentifyStyleTool, ctx: TaskContext) -> None:
    """A block grid alone is not pixel art: a photograph blown up 4x keeps its many colours."""
    small = Image.fromarray(data.chelsea()).resize((113, 75))
    blocky = small.resize((452, 300), Image.Resampling.NEAREST)
    result = tool.run(IdentifyStyleParams(sourceImage=data_uri(encode(blocky))), ctx)
    assert result.style != "pixel art"
