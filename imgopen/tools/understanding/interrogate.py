"""interrogate: a description of an image as a reusable prompt ("clip") or as Danbooru-style tags
("deepdanbooru"), from installed models or from imgopen's own measurements."""

from __future__ import annotations

from typing import Literal

from PIL import Image
from pydantic import BaseModel, Field

from imgopen.schemas.types import ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.understanding.captioner import Captioner
from imgopen.tools.understanding.clip_scorer import ClipScorer
from imgopen.tools.understanding.clip_terms import RANKED
from imgopen.tools.understanding.scene import Scene, SceneAnalyser
from imgopen.tools.understanding.scene_words import Word, booru_tags, caption, escape_tag, prompt_words
from imgopen.tools.understanding.tagger import Tagger

OFFLINE_METHOD = "offline-analysis"
TAGGER_METHOD = "wd14-tagger"


class Tag(BaseModel):
    tag: str = Field(description="The tag or term, as written into the caption (without escapes).")
    score: float = Field(ge=0, le=1, description="The model's probability, or the measurement's confidence.")
    category: str = Field(
        description=(
            "deepdanbooru: 'general' or 'character'; clip with a CLIP model: 'medium', 'artist', 'movement' or "
            "'flavour'; offline: what was measured ('style', 'people', 'framing', 'colour', 'lighting'...)."
        )
    )


class ColourShare(BaseModel):
    name: str = Field(description="Colour name.")
    share: float = Field(ge=0, le=1, description="Share of the picture's pixels.")
    hex: str = Field(description="The cluster's mean colour, #rrggbb.")


class Measurements(BaseModel):
    people: int = Field(ge=0, description="People found (faces, or a whole body seen from behind).")
    faces: int = Field(ge=0, description="Faces found.")
    framing: str | None = Field(description="How one person is framed: close-up ... full body; null otherwise.")
    style: str = Field(description="The style from identifyStyle's offline classifier.")
    colours: list[ColourShare] = Field(description="Dominant colours, largest first.")
    brightness: float = Field(ge=0, le=100, description="Mean CIELAB lightness, 0 (black) to 100 (white).")
    contrast: float = Field(ge=0, description="Standard deviation of CIELAB lightness.")


class InterrogateParams(ToolParams):
    image: ImageInput
    model: Literal["clip", "deepdanbooru"] = Field(
        "clip",
        description=(
            "'clip': a caption worded as a prompt (captioning model in models/captioning/, ranked terms with "
            "a CLIP model in models/clip/; without them imgopen's own measurements). 'deepdanbooru': "
            "Danbooru-style tags (a WD14 ONNX tagger in models/taggers/, else measured tags)."
        ),
    )
    threshold: float = Field(0.35, ge=0, le=1, description="deepdanbooru: the lowest score a tag needs to be listed.")


class InterrogateResult(ToolResult):
    caption: str = Field(description="The description: a prompt (clip) or the tags joined by commas (deepdanbooru).")
    tags: list[Tag] | None = Field(
        None, description="The tags (deepdanbooru) or the CLIP-ranked terms the caption is made of, with scores."
    )
    rating: str | None = Field(None, description="deepdanbooru with a tagger: its most likely rating tag.")
    measurements: Measurements | None = Field(
        None, description="Offline analysis: what was measured (people, colours, brightness, style)."
    )


def _measurements(scene: Scene) -> Measurements:
    return Measurements(
        people=scene.people,
        faces=len(scene.faces),
        framing=scene.framing,
        style=scene.styles[0][0],
        colours=[ColourShare(name=c.name, share=round(c.share, 4), hex=c.hex) for c in scene.colours],
        brightness=round(scene.lightness, 2),
        contrast=round(scene.contrast, 2),
    )


def _tag(word: Word) -> Tag:
    return Tag(tag=word.text, score=round(min(1.0, max(0.0, word.score)), 4), category=word.category)


class InterrogateTool(Tool[InterrogateParams, InterrogateResult]):
    code = "interrogate"
    summary = "Image description"
    description = (
        "Describes an image. model 'clip': a caption worded as a reusable prompt, from a BLIP/GIT/Florence-2 "
        "captioning model, extended with CLIP-ranked medium, artist, movement and flavour terms when a CLIP "
        "model is installed; without models, a description measured by imgopen (people and framing, dominant "
        "colours by name, brightness, contrast, style). model 'deepdanbooru': Danbooru-style tags with scores "
        "from a WD14 ONNX tagger, or measured tags. `method` says which ran."
    )
    params_model = InterrogateParams
    result_model = InterrogateResult

    def __init__(
        self,
        clip: ClipScorer | None = None,
        captioner: Captioner | None = None,
        tagger: Tagger | None = None,
        analyser: SceneAnalyser | None = None,
    ) -> None:
        self._clip = clip or ClipScorer()
        self._captioner = captioner or Captioner()
        self._tagger = tagger or Tagger()
        self._analyser = analyser or SceneAnalyser()

    def run(self, params: InterrogateParams, ctx: TaskContext) -> InterrogateResult:
        image = ctx.image(params.image, "image")
        ctx.progress(0.1)
        if params.model == "deepdanbooru":
            return self._tags(image, params.threshold, ctx)
        return self._caption(image, ctx)

    def _tags(self, image: Image.Image, threshold: float, ctx: TaskContext) -> InterrogateResult:
        model = self._tagger.model(ctx.settings.models_dir)
        if model is not None:
            tagged = self._tagger.tag(model, image, threshold)
            tags = [Tag(tag=name, score=round(score, 4), category=kind) for name, score, kind in tagged.tags]
            return InterrogateResult(
                method=TAGGER_METHOD,
                caption=", ".join(escape_tag(tag.tag) for tag in tags),
                tags=tags,
                rating=tagged.rating,
            )
        scene = self._analyser.analyse(image)
        tags = [_tag(word) for word in booru_tags(scene) if word.score >= threshold]
        return InterrogateResult(
            method=OFFLINE_METHOD,
            caption=", ".join(escape_tag(tag.tag) for tag in tags),
            tags=tags,
            measurements=_measurements(scene),
        )

    def _caption(self, image: Image.Image, ctx: TaskContext) -> InterrogateResult:
        models_dir = ctx.settings.models_dir
        captioner_folder = self._captioner.folder(models_dir)
        text, method, measurements = "", OFFLINE_METHOD, None
        if captioner_folder is not None:
            text, method = self._captioner.caption(captioner_folder, image)
            if not text:
                ctx.warn(f"the captioning model in {captioner_folder} gave an empty caption: measured instead")
        if not text:
            scene = self._analyser.analyse(image)
            text, method, measurements = caption(prompt_words(scene)), OFFLINE_METHOD, _measurements(scene)
        ctx.progress(0.6)
        clip_folder = self._clip.folder(models_dir)
        if clip_folder is None:
            return InterrogateResult(method=method, caption=text, measurements=measurements)
        picture = self._clip.image_embedding(clip_folder, image)
        tags: list[Tag] = []
        pieces = [text]
        for category, terms, count, pattern in RANKED:
            scores = self._clip.label_scores(clip_folder, picture, [[term] for term in terms])
            for index in scores.argsort()[::-1][:count]:
                tags.append(Tag(tag=terms[index], score=round(float(scores[index]), 4), category=category))
                pieces.append(pattern.format(terms[index]))
        return InterrogateResult(
            method=f"{method}+clip", caption=", ".join(pieces), tags=tags, measurements=measurements
        )
