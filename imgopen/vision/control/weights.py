"""Weights the preprocessors look for, apart from their code: the API checks at submit that they are
installed (cnt/preview's depth and normal) without importing what runs them."""

from __future__ import annotations

from pathlib import Path

from imgopen.tools.weights import WeightsSpec

DEPTH_WEIGHTS = WeightsSpec(
    label="depth estimator (Depth Anything V2 / MiDaS / DPT, ONNX)",
    folders=("annotators", "annotators/depth", "annotator"),
    files=(
        "depth_anything_v2_vits.onnx",
        "depth_anything_v2_*.onnx",
        "depth_anything_*.onnx",
        "dpt_*.onnx",
        "midas_*.onnx",
        "*depth*.onnx",
    ),
    licence="Depth Anything V2 Small: Apache-2.0 (Base/Large: CC-BY-NC-4.0); MiDaS and DPT: MIT",
    notes="input NCHW RGB normalised with the ImageNet mean and deviation; output relative inverse depth",
)

# Preprocessors that run the depth network.
NEEDS_DEPTH = ("depth", "normal")


def require_weights(preprocessor: str, models_dir: Path) -> None:
    """ "503" naming the file and the folder when the canonical `preprocessor` needs weights that are
    not installed (checked at submit by cnt/preview and the SD controlnet endpoint alike)."""
    if preprocessor in NEEDS_DEPTH:
        DEPTH_WEIGHTS.require(models_dir)
