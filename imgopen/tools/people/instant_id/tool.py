"""instantID: an identity-preserving stylised portrait from one face photo (InstantID on SDXL)."""

from __future__ import annotations

import secrets

import numpy as np

from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.people.instant_id.face_analysis import FaceAnalysis, face_area
from imgopen.tools.people.instant_id.keypoints import draw_keypoints, fit_points
from imgopen.tools.people.instant_id.pipeline import IdentityJob, generate
from imgopen.tools.people.instant_id.tool_spec import InstantIdParams, InstantIdResult, InstantIdSpec, requirements

__all__ = ["InstantIdParams", "InstantIdResult", "InstantIdTool"]


class InstantIdTool(InstantIdSpec, Tool[InstantIdParams, InstantIdResult]):
    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine
        self._faces = FaceAnalysis(engine.cache)

    def run(self, params: InstantIdParams, ctx: TaskContext) -> InstantIdResult:
        checkpoint, files = requirements(params, self._engine.catalog, ctx.settings.models_dir)
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
