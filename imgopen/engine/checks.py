"""Submit-time checks of a generation request, on the catalog's metadata alone (the API role runs
them without loading a model; the worker runs them again when the task starts)."""

from __future__ import annotations

from pathlib import Path

from imgopen.catalog.catalog import ModelCatalog
from imgopen.engine.params import AdetailerArgs, ControlNetParams, Text2ImageParams
from imgopen.engine.resolve import Resolved, resolve
from imgopen.errors import ImgOpenError
from imgopen.vision.control.names import NAMES, canonical
from imgopen.vision.control.weights import require_weights
from imgopen.vision.upscale.names import UpscalerNames

# ADetailer model names this server can honour: it detects faces (MediaPipe).
FACE_MODEL_WORDS = ("face", "mediapipe")


def check_generation(
    params: Text2ImageParams, catalog: ModelCatalog, upscalers: UpscalerNames, preferred_default: str | None
) -> Resolved:
    """Every name resolves ("404" / "400" / "503"), every preprocessor and ADetailer model exists."""
    resolved = resolve(params, catalog, upscalers, preferred_default)
    if isinstance(params, ControlNetParams):
        check_modules(params, catalog.models_dir)
    if params.ADetailer is not None:
        check_adetailer_models(params.ADetailer.args)
    return resolved


def check_modules(params: ControlNetParams, models_dir: Path) -> None:
    """Unknown preprocessors answer "400"; depth and normal without the depth network "503" (as
    cnt/preview checks them)."""
    for index, unit in enumerate(params.controlnet.args):
        if not unit.active:
            continue
        module = canonical(unit.module)
        if module is None:
            valid = ", ".join(NAMES)
            message = f"controlnet.args[{index}].module: unknown preprocessor {unit.module!r}; valid: {valid}"
            raise ImgOpenError("400", message)
        try:
            require_weights(module, models_dir)
        except ImgOpenError as exc:
            raise ImgOpenError(exc.code, f"controlnet.args[{index}].module {unit.module}: {exc.msg}") from exc


def check_adetailer_models(args: list[AdetailerArgs]) -> None:
    for index, item in enumerate(args):
        if not any(word in item.ad_model.lower() for word in FACE_MODEL_WORDS):
            raise ImgOpenError(
                "400",
                f"ADetailer.args[{index}].ad_model: {item.ad_model!r} is not a face model; this server detects faces "
                "(MediaPipe), so use a face model name such as face_yolov8n.pt or mediapipe_face_full",
            )
