"""The SD generation bodies of API.md 3.1 to 3.3, in Automatic1111's snake_case names.

Clients send `sd_model_checkpoint`, `sd_vae` and `id_task` at the top level, inside
`alwayson_scripts` or inside `override_settings`; ControlNet units and ADetailer may come inside
`alwayson_scripts` too. A "before" validator gathers them into the typed fields, so everything
after validation reads one place (and every image input is a typed field the submit path finds).
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from imgopen.engine.samplers import resolve_sampler
from imgopen.schemas.types import ImageInput

MAX_SEED = 2**32 - 1
_CONTROL_MODES = {"balanced": 0, "my prompt is more important": 1, "controlnet is more important": 2}
_RESIZE_MODES = {"just resize": 0, "crop and resize": 1, "resize and fill": 2, "just resize (latent upscale)": 3}


# override_settings keys that take effect (every other one is reported as ignored).
HONOURED_SETTINGS = ("CLIP_stop_at_last_layers", "sd_model_checkpoint", "sd_vae", "id_task", "samples_format")
_OUTPUT_FORMATS = ("png", "jpeg", "jpg", "webp")


def _output_format(value: Any) -> str | None:
    """A1111's samples_format as an output_image_format, None when it is not one of ours."""
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in _OUTPUT_FORMATS else None


def _script_value(value: Any) -> Any:
    """alwayson_scripts entries come bare or as {"args": [value, ...]}."""
    if isinstance(value, dict) and isinstance(value.get("args"), list):
        args = value["args"]
        return args[0] if args else None
    return value


def _named_choice(value: Any, choices: dict[str, int], field_name: str) -> Any:
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        key = value.strip().lower()
        if key not in choices:
            raise ValueError(f"{field_name}: {value!r} is not one of {', '.join(choices)} (or 0..{len(choices) - 1})")
        return choices[key]
    return value


class AdetailerArgs(BaseModel):
    """One ADetailer pass: detect faces, re-draw each at full resolution."""

    model_config = ConfigDict(extra="ignore")

    ad_model: str = Field("face_yolov8n.pt", max_length=200, description="Detector; face models are supported.")
    ad_prompt: str = Field("", max_length=20000, description="Prompt for the faces; empty: the main prompt.")
    ad_negative_prompt: str = Field("", max_length=20000, description="Negative prompt; empty: the main one.")
    ad_confidence: float = Field(0.3, ge=0, le=1, description="Minimum detection score.")
    ad_denoising_strength: float = Field(0.4, ge=0, le=1, description="How much each face is re-drawn.")
    ad_mask_blur: int = Field(4, ge=0, le=64, description="Blur of the face mask edge, pixels.")
    ad_dilate_erode: int = Field(4, ge=-128, le=128, description="Grow (+) or shrink (-) the face box, pixels.")
    ad_inpaint_only_masked_padding: int = Field(32, ge=0, le=256, description="Context around a face, pixels.")
    ad_steps: int | None = Field(None, ge=1, le=150, description="Steps; default: the main steps.")
    ad_cfg_scale: float | None = Field(None, ge=0, le=30, description="CFG scale; default: the main one.")


class AdetailerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    args: list[AdetailerArgs] = Field(default_factory=list, max_length=4, description="Passes, in order.")

    @field_validator("args", mode="before")
    @classmethod
    def _drop_switches(cls, value: Any) -> Any:
        # The extension's own API puts booleans (enable, skip img2img) before the passes.
        return [item for item in value if not isinstance(item, bool)] if isinstance(value, list) else value


class ControlNetUnit(BaseModel):
    """One ControlNet unit, sd-webui-controlnet names."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    enabled: bool = Field(True, description="A disabled unit is ignored.")
    input_image: ImageInput | None = Field(
        None,
        validation_alias=AliasChoices("input_image", "image"),
        description="Control image; default: the img2img image.",
    )
    mask: ImageInput | None = Field(
        None, validation_alias=AliasChoices("mask", "mask_image"), description="Where the unit applies (white)."
    )
    module: str = Field("none", max_length=64, description="Preprocessor, as cnt/preview names them, or none.")
    model: str = Field("None", max_length=400, description="A ControlNet model name from the controlnet folder.")
    weight: float = Field(1.0, ge=0, le=2, description="Strength of the unit.")
    guidance_start: float = Field(0.0, ge=0, le=1, description="Fraction of the steps where the unit starts.")
    guidance_end: float = Field(1.0, ge=0, le=1, description="Fraction of the steps where the unit stops.")
    control_mode: int = Field(
        0, ge=0, le=2, description="0 balanced, 1 my prompt is more important, 2 ControlNet is more important."
    )
    resize_mode: int = Field(1, ge=0, le=2, description="0 just resize, 1 crop and resize, 2 resize and fill.")
    processor_res: int = Field(512, ge=64, le=2048, description="Resolution the preprocessor works at.")
    threshold_a: float | None = Field(None, description="Preprocessor setting (canny: low threshold).")
    threshold_b: float | None = Field(None, description="Preprocessor setting (canny: high threshold).")
    pixel_perfect: bool = Field(False, description="Preprocess at the generation's resolution.")

    @field_validator("control_mode", mode="before")
    @classmethod
    def _control_mode(cls, value: Any) -> Any:
        return _named_choice(value, _CONTROL_MODES, "control_mode")

    @field_validator("resize_mode", mode="before")
    @classmethod
    def _resize_mode(cls, value: Any) -> Any:
        return _named_choice(value, _RESIZE_MODES, "resize_mode")

    @property
    def active(self) -> bool:
        return self.enabled and self.model.strip().lower() not in ("", "none")


class ControlNetArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    args: list[ControlNetUnit] = Field(default_factory=list, max_length=4, description="Up to 4 units.")


class Text2ImageParams(BaseModel):
    """POST sd/v2/text2image."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(max_length=20000, description="A1111 syntax: (word:1.2), [word], <lora:NAME:W>, BREAK.")
    negative_prompt: str = Field("", max_length=20000, description="What to avoid; same syntax.")
    batch_size: int = Field(ge=1, le=8, description="Images per iteration.")
    n_iter: int = Field(1, ge=1, le=16, description="Iterations; images = n_iter x batch_size.")
    steps: int = Field(20, ge=1, le=150, description="Sampling steps.")
    seed: int = Field(-1, ge=-1, le=MAX_SEED, description='Seed of the first image ("-1": random); then +1 each.')
    cfg_scale: float = Field(7.0, ge=0, le=30, description="Classifier-free guidance scale (not used by Flux).")
    distilled_cfg_scale: float = Field(
        3.5,
        ge=0,
        le=30,
        validation_alias=AliasChoices("distilled_cfg_scale", "fluxGuidance"),
        description="Flux dev's distilled guidance (Forge's name; fluxGuidance is accepted too). SD ignores it.",
    )
    sampler_name: str | None = Field(None, max_length=64, description="A1111 sampler name, e.g. 'DPM++ 2M Karras'.")
    sampler_index: str | None = Field(None, max_length=64, description="Older name of sampler_name.")
    width: int = Field(512, ge=64, le=2048, description="Width in pixels (rounded down to a multiple of 8).")
    height: int = Field(512, ge=64, le=2048, description="Height in pixels (rounded down to a multiple of 8).")
    restore_faces: bool = Field(False, description="Restore faces after generation.")
    enable_hr: bool = Field(False, description="Hires fix: generate, upscale, then refine with img2img.")
    hr_scale: float = Field(2.0, ge=1, le=4, description="Hires fix upscale factor.")
    hr_upscaler: str = Field("Latent", max_length=200, description="'Latent', 'Lanczos', 'Nearest' or an upscaler.")
    hr_second_pass_steps: int = Field(0, ge=0, le=150, description="Steps of the second pass; 0: same as steps.")
    hr_resize_x: int = Field(0, ge=0, le=4096, description="Hires target width (0: use hr_scale).")
    hr_resize_y: int = Field(0, ge=0, le=4096, description="Hires target height (0: use hr_scale).")
    denoising_strength: float = Field(0.7, ge=0, le=1, description="Hires fix strength.")
    sd_model_checkpoint: str | None = Field(None, max_length=400, description="Checkpoint name (queryModelList).")
    sd_vae: str | None = Field(None, max_length=400, description="VAE name (queryVaeList); Automatic or None.")
    override_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="A1111 settings: CLIP_stop_at_last_layers, sd_model_checkpoint, sd_vae, samples_format (others "
        "are ignored, with a warning).",
    )
    alwayson_scripts: dict[str, Any] = Field(default_factory=dict, description="Extension arguments (A1111 layout).")
    id_task: str | None = Field(None, max_length=128, description="Your id for the task; default: a server id.")
    output_image_format: Literal["png", "jpeg", "jpg", "webp"] = Field("png", description="Output encoding.")
    ADetailer: AdetailerConfig | None = Field(None, description="Face re-drawing passes.")
    callbackUrl: str | None = Field(None, max_length=2048, description="Receives the v2 query answer at the end.")
    clip_skip: int = Field(
        1, ge=1, le=12, description="CLIP layers to skip (from override_settings.CLIP_stop_at_last_layers)."
    )

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text.lstrip("-").isdigit():
                raise ValueError(f"seed: {value!r} is not a whole number")
            return int(text)
        return value

    @model_validator(mode="before")
    @classmethod
    def _gather_layouts(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        scripts = data.get("alwayson_scripts") or {}
        settings = data.get("override_settings") or {}
        if not isinstance(scripts, dict) or not isinstance(settings, dict):
            return data
        for name in ("sd_model_checkpoint", "sd_vae", "id_task"):
            if data.get(name) in (None, ""):
                value = _script_value(scripts.get(name))
                if value in (None, ""):
                    value = settings.get(name)
                if value not in (None, ""):
                    data[name] = value
        skip = settings.get("CLIP_stop_at_last_layers")
        if skip is not None and "clip_skip" not in data:
            data["clip_skip"] = skip
        samples_format = settings.get("samples_format")
        if _output_format(samples_format) is not None and "output_image_format" not in data:
            data["output_image_format"] = _output_format(samples_format)
        for name in ("controlnet", "ADetailer"):
            nested = scripts.get(name) or scripts.get(name.lower())
            if data.get(name) is None and nested is not None:
                data[name] = nested
        return data

    @model_validator(mode="after")
    def _check(self) -> Text2ImageParams:
        self.sampler_name = resolve_sampler(self.sampler_name or self.sampler_index)
        self.width -= self.width % 8
        self.height -= self.height % 8
        return self

    # --- derived ----------------------------------------------------------------------------------
    def ignored_settings(self) -> list[str]:
        """A warning for each override_settings key this server does not honour."""
        warnings = []
        for key, value in self.override_settings.items():
            if key == "samples_format" and _output_format(value) is None:
                warnings.append(
                    f"override_settings.samples_format {value!r} is not supported here (png, jpeg, webp) and was "
                    "ignored"
                )
            elif key not in HONOURED_SETTINGS:
                warnings.append(f"override_settings.{key} is not supported here and was ignored")
        return warnings

    @property
    def image_count(self) -> int:
        return self.n_iter * self.batch_size

    @property
    def fmt(self) -> Literal["png", "jpeg", "webp"]:
        return "jpeg" if self.output_image_format in ("jpeg", "jpg") else self.output_image_format  # type: ignore[return-value]

    def seeds(self) -> list[int]:
        """Each image's seed: the given one (or a random one) and the following numbers."""
        first = self.seed if self.seed >= 0 else secrets.randbelow(MAX_SEED - 64)
        return [(first + index) % (MAX_SEED + 1) for index in range(self.image_count)]


class Image2ImageParams(Text2ImageParams):
    """POST sd/v2/image2image: everything of text2image, plus the init image and inpainting."""

    image_link: ImageInput = Field(description="The init image.")
    mask_link: ImageInput | None = Field(None, description="Inpainting mask: white is repainted.")
    denoising_strength: float = Field(0.75, ge=0, le=1, description="How far from the init image to go.")
    resize_mode: int = Field(
        0, ge=0, le=3, description="0 just resize, 1 crop and resize, 2 resize and fill, 3 latent upscale."
    )
    mask_blur: int = Field(4, ge=0, le=64, description="Blur of the mask edge, pixels.")
    mask_blur_x: int | None = Field(None, ge=0, le=64, description="Horizontal mask blur (default: mask_blur).")
    mask_blur_y: int | None = Field(None, ge=0, le=64, description="Vertical mask blur (default: mask_blur).")
    inpainting_fill: int = Field(
        1, ge=0, le=3, description="Masked area start: 0 fill, 1 original, 2 latent noise, 3 latent nothing."
    )
    inpaint_full_res: bool = Field(True, description="Only masked: inpaint the masked area at full resolution.")
    inpaint_full_res_padding: int = Field(32, ge=0, le=256, description="Context around the masked area, pixels.")
    inpainting_mask_invert: int = Field(0, ge=0, le=1, description="1: repaint the black area instead.")
    initial_noise_multiplier: float = Field(
        1.0, ge=0, le=1.5, description="Scale of the noise added to the init image's latents (A1111's)."
    )
    image_cfg_scale: float | None = Field(
        None,
        ge=0,
        le=30,
        description="Image guidance of instruct-pix2pix checkpoints (default 1.5); other checkpoints ignore it.",
    )

    @field_validator("resize_mode", mode="before")
    @classmethod
    def _resize_mode(cls, value: Any) -> Any:
        return _named_choice(value, _RESIZE_MODES, "resize_mode")

    @field_validator("inpaint_full_res", mode="before")
    @classmethod
    def _full_res(cls, value: Any) -> Any:
        return bool(value) if isinstance(value, int) else value


class ControlNetParams(Image2ImageParams):
    """POST sd/v2/controlnet: text2image (or image2image with image_link) steered by ControlNet."""

    image_link: ImageInput | None = Field(None, description="Optional init image: img2img with control.")  # type: ignore[assignment]
    controlnet: ControlNetArgs = Field(description="{'args': [unit, ...]}, up to 4 units.")

    @model_validator(mode="after")
    def _some_unit(self) -> ControlNetParams:
        if not any(unit.active for unit in self.controlnet.args):
            raise ValueError("controlnet: give at least one enabled unit with a model")
        for index, unit in enumerate(self.controlnet.args):
            if unit.active and unit.input_image is None and self.image_link is None:
                raise ValueError(f"controlnet.args[{index}].input_image: required when there is no image_link")
            if unit.guidance_end < unit.guidance_start:
                raise ValueError(f"controlnet.args[{index}]: guidance_end is before guidance_start")
        return self


ModeParams = Text2ImageParams | Image2ImageParams | ControlNetParams
PARAMS_BY_MODE: dict[str, type[Text2ImageParams]] = {
    "text2image": Text2ImageParams,
    "image2image": Image2ImageParams,
    "controlnet": ControlNetParams,
}
