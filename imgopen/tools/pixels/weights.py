"""The optional weights the pixel tools upgrade to, apart from their code: the API checks at submit
that a model asked for is installed, without importing what runs it."""

from __future__ import annotations

from imgopen.tools.weights import WeightsSpec

LAMA = WeightsSpec(
    label="LaMa inpainting",
    folders=("inpaint", "lama"),
    files=("lama.onnx", "big-lama.onnx", "lama_fp32.onnx", "big-lama.pt", "*lama*.onnx", "*lama*.pt"),
    licence="Apache-2.0 (LaMa, Samsung AI Center)",
    notes="ONNX inputs image (1,3,H,W) in [0,1] and mask (1,1,H,W) in {0,1}; or IOPaint's TorchScript big-lama.pt",
)
