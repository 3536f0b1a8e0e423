"""interrogate: a description of an image as a reusable prompt ("clip") or as Danbooru-style tags
("deepdanbooru"), from installed models or from imgopen's own measurements."""

from __future__ import annotations

from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.understanding.captioner import Captioner
from imgopen.tools.understanding.clip_scorer import ClipScorer
from imgopen.tools.understanding.clip_terms import RANKED
from imgopen.tools.understanding.interrogate_spec import (
    ColourShare,
    InterrogateParams,
    InterrogateResult,
    InterrogateSpec,
    Measurements,
    Tag,
)
from imgopen.tools.understanding.scene import Scene, SceneAnalyser
from imgopen.tools.understanding.scene_words import Word, booru_tags, caption, escape_tag, prompt_words
from imgopen.tools.understanding.tagger import Tagger

__all__ = ["ColourShare", "InterrogateParams", "InterrogateResult", "InterrogateTool", "Measurements", "Tag"]

OFFLINE_METHOD = "offline-analysis"
TAGGER_METHOD = "wd14-tagger"


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


class InterrogateTool(InterrogateSpec, Tool[InterrogateParams, InterrogateResult]):
    def __init__(self, cache: ModelCache | None = None) -> None:
        cache = own_cache(cache)
        self._clip = ClipScorer(cache)
        self._captioner = Captioner(cache)
        self._tagger = Tagger(cache)
        self._analyser = SceneAnalyser(cache)

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
