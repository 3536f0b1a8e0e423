"""interrogate, the light half: params and result (see tools/base.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from imgopen.schemas.types import ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec


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


class InterrogateSpec(ToolSpec[InterrogateParams, InterrogateResult]):
    makes_images = False
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
