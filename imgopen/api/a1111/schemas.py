"""Requests and answers of the A1111 face, with Automatic1111's field names and defaults."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from imgopen.schemas.types import ImageInput


class Detail(BaseModel):
    detail: Any = Field(description="What went wrong (A1111's error shape).")


# Every status an A1111 route may answer besides 200, for /openapi.json.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Detail, "description": text}
    for status, text in {
        401: "Missing or wrong credentials (HTTP Basic: access key id and secret).",
        403: "The key is disabled or over a quota.",
        404: "No such model, LoRA, VAE or upscaler.",
        409: "force_task_id was used with another body.",
        413: "An input image is over the byte or pixel limit.",
        422: "A field is missing, of the wrong type, out of range, or not supported here.",
        429: "A per-key limit was reached.",
        500: "Internal error (logged with the request id).",
        503: "The model weights this needs are not installed.",
        504: "The task did not end within the wait limit; it goes on (see /sdapi/v1/progress).",
    }.items()
}


class GenerationRequest(BaseModel):
    """Fields txt2img and img2img share (A1111's StableDiffusionProcessing API)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field("", max_length=20000, description="A1111 syntax: (word:1.2), [word], <lora:NAME:W>.")
    negative_prompt: str = Field("", max_length=20000, description="What to avoid.")
    styles: list[str] = Field(default_factory=list, description="Saved prompt styles: none exist here (must be []).")
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="Seed of the first image; -1 random.")
    subseed: int = Field(-1, description="Variation seed: not supported (only with subseed_strength 0).")
    subseed_strength: float = Field(0, ge=0, le=1, description="Variation strength: must be 0 here.")
    seed_resize_from_h: int = Field(-1, description="Not supported: -1 or 0.")
    seed_resize_from_w: int = Field(-1, description="Not supported: -1 or 0.")
    sampler_name: str | None = Field(None, max_length=64, description="A sampler of GET /sdapi/v1/samplers.")
    sampler_index: str | None = Field(None, max_length=64, description="Older name of sampler_name.")
    scheduler: str | None = Field(None, max_length=64, description="automatic or karras (GET schedulers).")
    batch_size: int = Field(1, ge=1, le=8, description="Images per iteration.")
    n_iter: int = Field(1, ge=1, le=16, description="Iterations.")
    steps: int = Field(50, ge=1, le=150, description="Sampling steps.")
    cfg_scale: float = Field(7.0, ge=0, le=30, description="Classifier-free guidance scale.")
    distilled_cfg_scale: float | None = Field(None, ge=0, le=30, description="Flux: the distilled guidance (Forge).")
    width: int = Field(512, ge=64, le=2048, description="Width.")
    height: int = Field(512, ge=64, le=2048, description="Height.")
    restore_faces: bool | None = Field(None, description="Restore faces (the codeformer tool's restorer).")
    tiling: bool | None = Field(None, description="Seamless tiling: not supported (false or null).")
    do_not_save_samples: bool = Field(False, description="Accepted: images are kept as the task's outputs.")
    do_not_save_grid: bool = Field(False, description="Accepted: no grids are made here.")
    eta: float | None = Field(None, description="Sampler noise parameter: not used (a warning when set).")
    s_min_uncond: float | None = Field(None, description="Not used (a warning when set).")
    s_churn: float | None = Field(None, description="Not used (a warning when set to other than 0).")
    s_tmax: float | None = Field(None, description="Not used (a warning when set to other than 0).")
    s_tmin: float | None = Field(None, description="Not used (a warning when set to other than 0).")
    s_noise: float | None = Field(None, description="Not used (a warning when set to other than 1).")
    override_settings: dict[str, Any] | None = Field(
        None, description="Settings for this request: sd_model_checkpoint, sd_vae, CLIP_stop_at_last_layers..."
    )
    override_settings_restore_afterwards: bool = Field(
        True, description="false: the override_settings become this key's options."
    )
    refiner_checkpoint: str | None = Field(None, description="Refiner: not supported (null).")
    refiner_switch_at: float | None = Field(None, description="Refiner: not supported (null).")
    disable_extra_networks: bool = Field(False, description="true: <lora:...> tags are removed, not applied.")
    denoising_strength: float | None = Field(None, ge=0, le=1, description="img2img strength, or the hires fix's.")
    force_task_id: str | None = Field(None, max_length=128, description="The task's id (default: a server id).")
    script_name: str | None = Field(None, description="Scripts: not supported (null); alwayson_scripts are.")
    script_args: list[Any] = Field(default_factory=list, description="Arguments of script_name.")
    send_images: bool = Field(True, description="Put the images in the answer.")
    save_images: bool = Field(False, description="Accepted: images are always kept as the task's outputs.")
    alwayson_scripts: dict[str, Any] = Field(
        default_factory=dict, description="ControlNet units ({'ControlNet': {'args': [...]}}) and ADetailer."
    )


class Txt2ImgRequest(GenerationRequest):
    enable_hr: bool = Field(False, description="Hires fix.")
    hr_scale: float = Field(2.0, ge=1, le=4, description="Hires fix factor.")
    hr_upscaler: str | None = Field(None, max_length=200, description="GET upscalers or latent-upscale-modes.")
    hr_second_pass_steps: int = Field(0, ge=0, le=150, description="Second pass steps; 0: steps.")
    hr_resize_x: int = Field(0, ge=0, le=4096, description="Hires width (0: hr_scale).")
    hr_resize_y: int = Field(0, ge=0, le=4096, description="Hires height (0: hr_scale).")
    hr_checkpoint_name: str | None = Field(None, description="Not supported: null (the same checkpoint).")
    hr_sampler_name: str | None = Field(None, description="Not supported: null (the same sampler).")
    hr_scheduler: str | None = Field(None, description="Not supported: null.")
    hr_prompt: str = Field("", description="Not supported: empty (the same prompt).")
    hr_negative_prompt: str = Field("", description="Not supported: empty.")
    firstphase_width: int = Field(0, description="Old hires fields: 0.")
    firstphase_height: int = Field(0, description="Old hires fields: 0.")


class Img2ImgRequest(GenerationRequest):
    init_images: list[ImageInput] = Field(min_length=1, max_length=1, description="The init image (one).")
    mask: ImageInput | None = Field(None, description="Inpainting mask: white is repainted.")
    resize_mode: int = Field(0, ge=0, le=3, description="0 just resize, 1 crop, 2 fill, 3 latent upscale.")
    image_cfg_scale: float | None = Field(None, ge=0, le=30, description="Image guidance (instruct-pix2pix).")
    mask_blur: int | None = Field(None, ge=0, le=64, description="Mask edge blur (default 4).")
    mask_blur_x: int = Field(4, ge=0, le=64, description="Horizontal mask blur.")
    mask_blur_y: int = Field(4, ge=0, le=64, description="Vertical mask blur.")
    inpainting_fill: int = Field(0, ge=0, le=3, description="0 fill, 1 original, 2 latent noise, 3 latent nothing.")
    inpaint_full_res: bool = Field(True, description="Only masked: the masked area at full resolution.")
    inpaint_full_res_padding: int = Field(0, ge=0, le=256, description="Context around the masked area.")
    inpainting_mask_invert: int = Field(0, ge=0, le=1, description="1: repaint the black area.")
    initial_noise_multiplier: float | None = Field(None, ge=0, le=1.5, description="Scale of the initial noise.")
    include_init_images: bool = Field(False, description="Put the init image first in the answer's images.")


class GenerationAnswer(BaseModel):
    images: list[str] = Field(description="The images, bare base64 (PNG unless samples_format says otherwise).")
    parameters: dict[str, Any] = Field(description="The request as it was understood.")
    info: str = Field(description="A JSON string: seed, all_seeds, infotexts, sd_model_name, warnings...")


class ProgressState(BaseModel):
    skipped: bool = Field(description="The current job skipped its current image.")
    interrupted: bool = Field(description="The current job was interrupted.")
    job: str = Field(description="The current job (task id), or empty.")
    job_count: int = Field(description="This key's generation jobs queued or running.")
    job_timestamp: str = Field(description="When the current job started, YYYYmmddHHMMSS.")
    job_no: int = Field(description="Index of the current job.")
    sampling_step: int = Field(description="Steps done.")
    sampling_steps: int = Field(description="Steps planned.")


class ProgressAnswer(BaseModel):
    progress: float = Field(description="0..1 of the current job.")
    eta_relative: float = Field(description="Seconds left (estimate).")
    state: ProgressState
    current_image: str | None = Field(description="The live preview, bare base64 JPEG, or null.")
    textinfo: str | None = Field(description="A word on the state.")


class ExtrasRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resize_mode: int = Field(0, ge=0, le=1, description="0: by upscaling_resize, 1: to upscaling_resize_w/h.")
    show_extras_results: bool = Field(True, description="Accepted.")
    gfpgan_visibility: float = Field(0, ge=0, le=1, description="Face restoration with GFPGAN, blended this much.")
    codeformer_visibility: float = Field(0, ge=0, le=1, description="Face restoration with CodeFormer, blended.")
    codeformer_weight: float = Field(0, ge=0, le=1, description="CodeFormer fidelity (0 strongest restoration).")
    upscaling_resize: float = Field(2, ge=1, le=8, description="Scale (resize_mode 0).")
    upscaling_resize_w: int = Field(512, ge=1, le=16384, description="Width (resize_mode 1).")
    upscaling_resize_h: int = Field(512, ge=1, le=16384, description="Height (resize_mode 1).")
    upscaling_crop: bool = Field(True, description="resize_mode 1: crop to the exact size (false: fit).")
    upscaler_1: str = Field("None", max_length=200, description="An upscaler of GET upscalers, or None.")
    upscaler_2: str = Field("None", max_length=200, description="A second upscaler blended in: None here.")
    extras_upscaler_2_visibility: float = Field(0, ge=0, le=1, description="Blend of upscaler_2.")
    upscale_first: bool = Field(False, description="Upscale before restoring faces.")


class ExtraSingleRequest(ExtrasRequest):
    image: ImageInput = Field(description="The image.")


class ExtraBatchImage(BaseModel):
    data: ImageInput = Field(description="The image.")
    name: str = Field("", max_length=400, description="Its name.")


class ExtraBatchRequest(ExtrasRequest):
    imageList: list[ExtraBatchImage] = Field(min_length=1, max_length=32, description="The images.")


class ExtraSingleAnswer(BaseModel):
    html_info: str = Field(description="What was done.")
    image: str = Field(description="The result, bare base64 PNG.")


class ExtraBatchAnswer(BaseModel):
    html_info: str = Field(description="What was done.")
    images: list[str] = Field(description="The results, bare base64 PNG.")


class A1111InterrogateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: ImageInput = Field(description="The image.")
    model: str = Field("clip", description="clip or deepdanbooru.")


class A1111InterrogateAnswer(BaseModel):
    caption: str = Field(description="The caption (deepdanbooru: the tags, comma-separated).")


class PngInfoRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: ImageInput = Field(description="A PNG (or JPEG/WebP) with generation parameters.")


class PngInfoAnswer(BaseModel):
    info: str = Field(description="The parameters text, as written into the file.")
    items: dict[str, Any] = Field(description="The file's other text fields.")
    parameters: dict[str, Any] = Field(description="The parameters, parsed: Prompt, Negative prompt, Steps...")


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    controlnet_module: str = Field("none", max_length=64, description="A preprocessor of module_list.")
    controlnet_input_images: list[ImageInput] = Field(
        default_factory=list, max_length=16, description="The images (also accepted as controlnet_images)."
    )
    controlnet_images: list[ImageInput] = Field(default_factory=list, max_length=16, description="Older name.")
    controlnet_processor_res: int = Field(512, ge=64, le=2048, description="Resolution of the map.")
    controlnet_threshold_a: float = Field(64, description="Preprocessor setting.")
    controlnet_threshold_b: float = Field(64, description="Preprocessor setting.")


class DetectAnswer(BaseModel):
    images: list[str] = Field(description="The control maps, bare base64 PNG.")
    info: str = Field(description='"Success".')
    poses: list[Any] | None = Field(None, description="openpose: the keypoints of each image.")
