"""ADetailer: find the faces in each generated image and re-draw each one at full resolution
(the face's region cropped, scaled up to the generation size, inpainted, scaled back and
blended in through a soft mask)."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from imgopen.engine.checks import check_adetailer_models
from imgopen.engine.generate import Generator, seeded_generators
from imgopen.engine.images import dilate, masked_region, paste_back
from imgopen.engine.params import AdetailerArgs
from imgopen.engine.prompt_syntax import extract_networks


def face_mask(size: tuple[int, int], box: tuple[int, int, int, int], grow: int, blur: int) -> Image.Image:
    mask = Image.new("L", size, 0)
    x, y, width, height = box
    ImageDraw.Draw(mask).rectangle((x, y, x + width - 1, y + height - 1), fill=255)
    mask = dilate(mask, grow)
    return mask.filter(ImageFilter.GaussianBlur(blur)) if blur else mask


def redraw_faces(detector: Any, generator: Generator, images: list[Image.Image]) -> tuple[list[Image.Image], int]:
    """The images with every detected face re-drawn by each ADetailer pass; and the face count."""
    params = generator.params
    assert params.ADetailer is not None
    check_adetailer_models(params.ADetailer.args)
    loaded = generator.loaded
    inpaint = loaded.variant("inpaint")
    loaded.configure(inpaint, params.sampler_name, generator.vae)
    redrawn = 0
    out: list[Image.Image] = []
    for index, generated in enumerate(images):
        image, seed = generated, generator.seeds[index]
        for args in params.ADetailer.args:
            faces = detector.detect(image, args.ad_confidence)
            steps = args.ad_steps or params.steps
            generator.progress.plan(len(faces) * max(1, int(steps * args.ad_denoising_strength)))
            embeds = _embeds(generator, inpaint, args)
            for face in faces:
                mask = face_mask(image.size, face.box, args.ad_dilate_erode, args.ad_mask_blur)
                region = masked_region(mask, args.ad_inpaint_only_masked_padding, generator.size)
                if region is None:
                    continue
                crop = image.crop(region.box).resize(generator.size, Image.Resampling.LANCZOS)
                crop_mask = mask.crop(region.box).resize(generator.size, Image.Resampling.LANCZOS)
                result = generator.call(
                    inpaint,
                    generator.size,
                    **embeds,
                    image=crop,
                    mask_image=crop_mask,
                    strength=args.ad_denoising_strength,
                    num_inference_steps=steps,
                    **generator.guidance(args.ad_cfg_scale),
                    width=generator.size[0],
                    height=generator.size[1],
                    generator=seeded_generators([seed]),
                )
                generator.progress.take_skip()  # a skip here ends this face's pass only
                image = paste_back(image, result[0], mask, region)
                redrawn += 1
        out.append(image)
    return out, redrawn


def _embeds(generator: Generator, pipe: Any, args: AdetailerArgs) -> dict[str, Any]:
    """The pass's own prompts when given (LoRA tags there are not applied: the LoRAs of the main
    prompt stay active), else the main prompts' embeddings (or text, for Flux)."""
    if not args.ad_prompt and not args.ad_negative_prompt:
        return generator.embeds
    prompt = extract_networks(args.ad_prompt)[0] if args.ad_prompt else generator.resolved.prompt
    negative = (
        extract_networks(args.ad_negative_prompt)[0] if args.ad_negative_prompt else generator.resolved.negative_prompt
    )
    return generator.encode(pipe, prompt, negative)
