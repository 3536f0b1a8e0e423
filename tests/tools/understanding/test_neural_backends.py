"""interrogate and identifyStyle with installed models: tiny random-weight BLIP, CLIP and WD14-style
tagger models built here run end to end; the tools' answers are checked against the same models
called directly (so pre- and post-processing are what the models expect)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from imgopen.errors import ImgOpenError
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.understanding.captioner import GENERATION, clean_caption
from imgopen.tools.understanding.clip_terms import ARTISTS, FLAVOUR_COUNT, MEDIUMS
from imgopen.tools.understanding.identify_style import IdentifyStyleParams, IdentifyStyleTool
from imgopen.tools.understanding.interrogate import InterrogateParams, InterrogateTool
from imgopen.vision.styles import STYLE_NAMES, STYLES
from tests.tools.understanding import tiny_models
from tests.tools.understanding.conftest import ContextFactory


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-understanding")
    return {
        "blip": tiny_models.blip_captioner(root / "tiny-blip"),
        "clip": tiny_models.clip_model(root / "tiny-clip"),
        "tagger": tiny_models.wd14_tagger(root / "wd-tiny" / "model.onnx"),
    }


def models_folder(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path], *kinds: str) -> Path:
    """A models folder holding copies of the named tiny models, where the tools look for them."""
    root = tmp_path_factory.mktemp("models")
    places = {"blip": "captioning/tiny-blip", "clip": "clip/tiny-clip", "tagger": "taggers/wd-tiny"}
    for kind in kinds:
        source = files[kind] if files[kind].is_dir() else files[kind].parent
        shutil.copytree(source, root / places[kind])
    return root


@pytest.fixture(scope="module")
def clip_direct(model_files: dict[str, Path]) -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPProcessor

    folder = str(model_files["clip"])
    return CLIPModel.from_pretrained(folder).eval(), CLIPProcessor.from_pretrained(folder)


@pytest.fixture(scope="module")
def interrogate() -> InterrogateTool:
    return InterrogateTool()


def uri(image: Image.Image) -> str:
    return data_uri(encode(image))


@pytest.fixture(scope="module")
def blip_direct(model_files: dict[str, Path]) -> tuple[Any, Any]:
    from transformers import BlipForConditionalGeneration, BlipProcessor

    folder = str(model_files["blip"])
    return BlipForConditionalGeneration.from_pretrained(folder).eval(), BlipProcessor.from_pretrained(folder)


def blip_caption(blip_direct: tuple[Any, Any], image: Image.Image) -> str:
    model, processor = blip_direct
    with torch.no_grad():
        output = model.generate(**processor(images=image, return_tensors="pt"), **GENERATION)
    return clean_caption(processor.batch_decode(output, skip_special_tokens=True)[0])


def clip_best(clip_direct: tuple[Any, Any], image: Image.Image, texts: list[str]) -> str:
    model, processor = clip_direct
    inputs = processor(text=texts, images=image, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**inputs).logits_per_image[0]
    return texts[int(logits.argmax())]


def test_blip_caption_then_clip_ranking(
    interrogate: InterrogateTool,
    make_ctx: ContextFactory,
    model_files: dict[str, Path],
    blip_direct: tuple[Any, Any],
    clip_direct: tuple[Any, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ctx = make_ctx(models_folder(tmp_path_factory, model_files, "blip", "clip"))
    image = astronaut()
    result = interrogate.run(InterrogateParams(image=uri(image)), ctx)
    assert result.method == "blip+clip"
    expected = blip_caption(blip_direct, image)
    assert expected and result.caption.startswith(expected + ", ")
    assert result.tags is not None
    categories = [tag.category for tag in result.tags]
    assert categories == ["medium", "artist", "movement"] + ["flavour"] * FLAVOUR_COUNT
    medium = next(tag.tag for tag in result.tags if tag.category == "medium")
    artist = next(tag.tag for tag in result.tags if tag.category == "artist")
    assert medium == clip_best(clip_direct, image, list(MEDIUMS))
    assert artist == clip_best(clip_direct, image, list(ARTISTS))
    assert f", {medium}, by {artist}, " in result.caption
    assert all(0 < tag.score <= 1 for tag in result.tags)
    assert result.measurements is None  # nothing was measured: a model captioned


def test_captioner_alone(
    interrogate: InterrogateTool,
    make_ctx: ContextFactory,
    model_files: dict[str, Path],
    blip_direct: tuple[Any, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ctx = make_ctx(models_folder(tmp_path_factory, model_files, "blip"))
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    result = interrogate.run(InterrogateParams(image=uri(image)), ctx)
    assert result.method == "blip"
    assert result.caption == blip_caption(blip_direct, image)
    assert result.tags is None


def test_git_captioner(
    interrogate: InterrogateTool, make_ctx: ContextFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A decoder-only captioner (GIT) through the same code: image in, text out."""
    from transformers import GitForCausalLM, GitProcessor

    models = tmp_path_factory.mktemp("git-models")
    folder = tiny_models.git_captioner(models / "captioning" / "tiny-git")
    image = astronaut()
    result = interrogate.run(InterrogateParams(image=uri(image)), make_ctx(models))
    assert result.method == "git"
    model, processor = GitForCausalLM.from_pretrained(str(folder)).eval(), GitProcessor.from_pretrained(str(folder))
    with torch.no_grad():
        output = model.generate(pixel_values=processor(images=image, return_tensors="pt").pixel_values, **GENERATION)
    expected = clean_caption(processor.batch_decode(output, skip_special_tokens=True)[0])
    assert expected and result.caption == expected


def test_clip_alone_extends_the_measured_description(
    interrogate: InterrogateTool,
    make_ctx: ContextFactory,
    model_files: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ctx = make_ctx(models_folder(tmp_path_factory, model_files, "clip"))
    result = interrogate.run(InterrogateParams(image=uri(astronaut())), ctx)
    assert result.method == "offline-analysis+clip"
    assert result.caption.startswith("a photograph of one person, ")
    assert result.measurements is not None and result.measurements.people == 1
    assert result.tags is not None and len(result.tags) == 3 + FLAVOUR_COUNT


def test_identify_style_zero_shot(
    make_ctx: ContextFactory,
    model_files: dict[str, Path],
    clip_direct: tuple[Any, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ctx = make_ctx(models_folder(tmp_path_factory, model_files, "clip"))
    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8))
    result = IdentifyStyleTool().run(IdentifyStyleParams(sourceImage=uri(image)), ctx)
    assert result.method == "clip-zero-shot"
    # Expected: CLIP's softmax over the styles, each style the mean of its prompts' embeddings.
    model, processor = clip_direct
    with torch.no_grad():
        pixels = processor(images=image, return_tensors="pt")["pixel_values"]
        picture = model.get_image_features(pixel_values=pixels).pooler_output[0]
        picture = picture / picture.norm()
        centres = []
        for style in STYLES:
            tokens = processor(text=list(style.clip_prompts), return_tensors="pt", padding=True)
            texts = model.get_text_features(**tokens).pooler_output
            mean = (texts / texts.norm(dim=-1, keepdim=True)).mean(dim=0)
            centres.append(mean / mean.norm())
        logits = model.logit_scale.exp() * torch.stack(centres) @ picture
        expected = dict(zip(STYLE_NAMES, torch.softmax(logits, dim=0).tolist(), strict=True))
    got = {s.style: s.score for s in result.styles}
    assert got.keys() == expected.keys()
    for name, score in expected.items():
        assert got[name] == pytest.approx(score, abs=1e-3)
    assert result.style == max(expected, key=lambda name: expected[name])


def test_wd14_tagger_reads_bgr_0_255_on_a_white_square(
    interrogate: InterrogateTool,
    make_ctx: ContextFactory,
    model_files: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ctx = make_ctx(models_folder(tmp_path_factory, model_files, "tagger"))
    # Blue, twice as wide as high: padded to a square, half the input is white. The blue channel
    # (index 0 in BGR) is then 255 everywhere, green and red 127.5 on average.
    blue = Image.new("RGB", (448, 224), (0, 0, 255))
    result = interrogate.run(InterrogateParams(image=uri(blue), model="deepdanbooru"), ctx)
    assert result.method == "wd14-tagger"
    assert result.tags is not None
    names = [tag.tag for tag in result.tags]
    assert set(names) == {"blue sky", "green (theme)"}  # underscores read as spaces, R stays under 200
    assert all(tag.score > 0.99 and tag.category == "general" for tag in result.tags)
    assert result.caption in {"blue sky, green \\(theme\\)", "green \\(theme\\), blue sky"}
    assert result.rating == "general"

    red = Image.new("RGB", (300, 300), (255, 0, 0))
    result = interrogate.run(InterrogateParams(image=uri(red), model="deepdanbooru"), ctx)
    assert result.tags is not None
    by_name = {tag.tag: tag for tag in result.tags}
    assert set(by_name) == {"red theme", "hatsune miku"}
    assert by_name["hatsune miku"].category == "character"


def test_tagger_without_its_tag_list_is_503(
    interrogate: InterrogateTool,
    make_ctx: ContextFactory,
    model_files: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    models = models_folder(tmp_path_factory, model_files, "tagger")
    (models / "taggers" / "wd-tiny" / "selected_tags.csv").unlink()
    with pytest.raises(ImgOpenError) as error:
        interrogate.run(InterrogateParams(image=uri(astronaut()), model="deepdanbooru"), make_ctx(models))
    assert error.value.code == "503"
    assert "selected_tags.csv" in error.value.msg and str(models / "taggers" / "wd-tiny") in error.value.msg


def test_broken_clip_folder_is_503_naming_it(
    make_ctx: ContextFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    models = tmp_path_factory.mktemp("broken")
    (models / "clip" / "half-copied").mkdir(parents=True)
    (models / "clip" / "half-copied" / "config.json").write_text("{}")
    with pytest.raises(ImgOpenError) as error:
        IdentifyStyleTool().run(IdentifyStyleParams(sourceImage=uri(astronaut())), make_ctx(models))
    assert error.value.code == "503"
    assert str(models / "clip" / "half-copied") in error.value.msg
