"""Submit-time checks of a generation request, on the catalog's metadata alone (the API role runs
them without loading a model; the worker runs them again when the task starts)."""

from __future__ import annotations

from imgopen.catalog.catalog import ModelCatalog
from imgopen.engine.params import AdetailerArgs, ControlNetParams, Text2ImageParams
from imgopen.engine.resolve import Resolved, resolve
from imgopen.errors import ImgOpenError
from imgopen.vision.control.names import NAMES, canonical
from imgopen.vision.upscale.names import UpscalerNames

# ADetailer model names this server can honour: it detects faces (MediaPipe).
FACE_MODEL_WORDS = ("face", "mediapipe")


def check_generation(
    params: Text2ImageParams, catalog: ModelCatalog, upscalers: UpscalerNames, preferred_default: str | None
) -> Resolved:
    """Every name resolves ("404" / "400" / "503"), every preprocessor and ADetailer model exists."""
    resolved = resolve(params, catalog, upscalers, preferred_default)
    if isinstance(params, ControlNetParams):
        check_modules(params)
    if params.ADetailer is not None:
        check_adetailer_models(params.ADetailer.args)
    return resolved


def check_modules(params: ControlNetParams) -> None:
    """Unknown preprocessors answer "400"."""
    for index, unit in enumerate(params.controlnet.args):
        if unit.active and canonical(unit.module) is None:
            valid = ", ".join(NAMES)
            message = f"controlnet.args[{index}].module: unknown preprocessor {unit.module!r}; valid: {valid}"
            raise ImgOpenError("400", message)


def check_adetailer_models(args: list[AdetailerArgs]) -> None:
    for index, item in enumerate(args):
        if not any(word in item.ad_model.lower() for word in FACE_MODEL_WORDS):
            raise ImgOpenError(
                "400",
                f"ADetailer.args[{index}].ad_model: {item.ad_model!r} is not a face model; this server detects faces "
                "(MediaPipe), so use a face model name such as face_yolov8n.pt or mediapipe_face_full",
            )
