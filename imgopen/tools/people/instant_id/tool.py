"""instantID: an identity-preserving stylised portrait from one face photo (InstantID on SDXL)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from pydantic import Field

from imgopen.catalog.catalog import ModelEntry
from imgopen.config import Settings
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.onnx_sessions import OnnxSessions
from imgopen.tools.people.instant_id.face_analysis import FaceAnalysis, face_area
from imgopen.tools.people.instant_id.keypoints import draw_keypoints, fit_points
from imgopen.tools.people.instant_id.pipeline import IdentityJob, generate
from imgopen.tools.people.instant_id.weights import InstantIdFiles, find_all, missing

SDXL = "SDXL 1.0"
DEFAULT_NEGATIVE = (
    "(lowres, low quality, worst quality:1.2), (text:1.2), watermark, deformed face, extra limbs, blurry, "
    "monochrome, painting, drawing, sketch"
)


class InstantIdParams(ToolParams):
    image: ImageInput = Field(description="A photo with the face whose identity the portrait keeps (the largest face).")
    prompt: str = Field(
        "a portrait photo", min_length=1, max_length=20000, description="What to draw (A1111 syntax: (word:1.2))."
    )
    negativePrompt: str = Field(DEFAULT_NEGATIVE, max_length=20000, description="What to avoid.")
    width: int = Field(1024, ge=64, le=2048, description="Width in pixels (rounded down to a multiple of 8).")
    height: int = Field(1024, ge=64, le=2048, description="Height in pixels (rounded down to a multiple of 8).")
    steps: int = Field(30, ge=1, le=100, description="Sampling steps.")
    guidanceScale: float = Field(5.0, ge=0, le=30, description="Classifier-free guidance scale (1 or less: off).")
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="Seed; -1 random.")
    identityStrength: float = Field(
        0.8, ge=0, le=1.5, description="How strongly the face embedding steers the image (the IP-Adapter's scale)."
    )
    controlStrength: float = Field(
        0.8, ge=0, le=1.5, description="How strongly the face's keypoints fix its place and pose (IdentityNet)."
    )
    checkpoint: str | None = Field(
        None, max_length=500, description="The SDXL checkpoint to draw with; default: the first one installed."
    )


class InstantIdResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the portrait.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    controlImageUrl: FileKey = Field(description="The keypoint drawing IdentityNet was given.")
    seed: int = Field(description="The seed used.")
    model: str = Field(description="The SDXL checkpoint that drew the portrait.")


class InstantIdTool(Tool[InstantIdParams, InstantIdResult]):
    code = "instantID"
    summary = "InstantID portrait"
    description = (
        "An identity-preserving portrait in any style from one face photo: InstantID (IdentityNet ControlNet + "
        "IP-Adapter on an SDXL checkpoint, antelopev2 face analysis). Needs those weights in models/instantid and "
        "models/insightface/antelopev2 (non-commercial licences: see the README)."
    )
    pool = "gpu"
    params_model = InstantIdParams
    result_model = InstantIdResult

    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine
        self._faces = FaceAnalysis(OnnxSessions())

    def _checkpoint(self, name: str | None) -> ModelEntry | None:
        catalog = self._engine.catalog
        if name:
            entry = catalog.require("checkpoint", name, "checkpoint")
            if entry.base_model != SDXL:
                raise ImgOpenError("400", f"checkpoint: {entry.name} is {entry.base_model}; InstantID runs on SDXL")
            return entry
        installed = [e for e in catalog.entries("checkpoint") if e.base_model == SDXL and e.variant != "inpainting"]
        return sorted(installed, key=lambda e: e.name.lower())[0] if installed else None

    def requirements(self, params: InstantIdParams, models_dir: Path) -> tuple[ModelEntry, InstantIdFiles]:
        """The checkpoint and files; "503" listing every one that is missing."""
        checkpoint = self._checkpoint(params.checkpoint)
        files = find_all(models_dir)
        if checkpoint is not None and files is not None:
            return checkpoint, files
        lines = missing(models_dir)
        if checkpoint is None:
            lines.insert(0, f"an SDXL checkpoint (.safetensors or diffusers folder) into {models_dir / 'checkpoints'}")
        raise ImgOpenError("503", "instantID needs weights that are not installed: " + "; ".join(lines))

    def precheck(self, params: InstantIdParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        self.requirements(params, settings.models_dir)

    def run(self, params: InstantIdParams, ctx: TaskContext) -> InstantIdResult:
        checkpoint, files = self.requirements(params, ctx.settings.models_dir)
        image = ctx.image(params.image, "image")
        rgb = np.asarray(image)
        faces = self._faces.detect(files.detector, rgb)
        if not faces:
            raise ImgOpenError("422", "image: no face found (InstantID copies the identity of a face in the image)")
        face = max(faces, key=face_area)  # InstantID takes the largest face
        assert face.points is not None
        embedding = self._faces.embed(files.recogniser, rgb, face)
        ctx.progress(0.05)
        width, height = params.width - params.width % 8, params.height - params.height % 8
        control = draw_keypoints(fit_points(face.points, image.size, (width, height)), (width, height))
        seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        job = IdentityJob(
            prompt=params.prompt,
            negative_prompt=params.negativePrompt,
            control=control,
            embedding=embedding,
            width=width,
            height=height,
            steps=params.steps,
            guidance=params.guidanceScale,
            seed=seed,
            identity_strength=params.identityStrength,
            control_strength=params.controlStrength,
        )
        portrait = generate(self._engine, checkpoint, files, job, ctx)
        text = (
            f"{params.prompt}\nNegative prompt: {params.negativePrompt}\nSteps: {params.steps}, CFG scale: "
            f"{params.guidanceScale}, Seed: {seed}, Size: {width}x{height}, Model: {checkpoint.stem}, InstantID: "
            f"{params.identityStrength}/{params.controlStrength}"
        )
        key = ctx.save_image(portrait, parameters=text)
        control_key = ctx.save_image(control, name="keypoints")
        return InstantIdResult(
            method=f"instantid:{checkpoint.name}",
            outputImageUrl=key,
            outputImageUrls=[key],
            controlImageUrl=control_key,
            seed=seed,
            model=checkpoint.name,
        )
