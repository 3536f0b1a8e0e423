"""The optional face models and where they go under the models folder. Several are licensed for
non-commercial use only; the README's tool table lists the same."""

from __future__ import annotations

from imgopen.tools.weights import WeightsSpec

INSIGHTFACE_LICENCE = "non-commercial research use only (insightface model licence)"
# insightface's own layout (models/buffalo_l/...) is accepted beside the flat folder.
INSIGHTFACE_FOLDERS = ("insightface", "insightface/models/buffalo_l", "insightface/models")

SCRFD = WeightsSpec(
    label="SCRFD face detector",
    folders=INSIGHTFACE_FOLDERS,
    files=("det_10g.onnx", "scrfd_10g_bnkps.onnx", "scrfd_*kps*.onnx", "det_*.onnx"),
    licence=INSIGHTFACE_LICENCE,
    notes="Replaces MediaPipe BlazeFace for face/detection and for finding faces in every face tool.",
)
ARCFACE = WeightsSpec(
    label="ArcFace face recogniser",
    folders=INSIGHTFACE_FOLDERS,
    files=("w600k_r50.onnx", "glintr100.onnx", "w600k_mbf.onnx"),
    licence=INSIGHTFACE_LICENCE,
    notes="Gives the source face's identity to the inswapper face swapper; needed with it.",
)
INSWAPPER = WeightsSpec(
    label="inswapper face swapper",
    folders=("insightface", "insightface/models"),
    files=("inswapper_128.onnx", "inswapper_128_fp16.onnx"),
    licence=INSIGHTFACE_LICENCE,
    notes="Neural face swap for roop, v2/roop and face/fusion (with an ArcFace recogniser).",
)
CODEFORMER = WeightsSpec(
    label="CodeFormer face restorer",
    folders=("facerestore_models", "codeformer"),
    files=("codeformer.onnx", "codeformer*.onnx", "CodeFormer*.onnx"),
    licence="S-Lab License 1.0 (non-commercial)",
    notes="ONNX export with inputs 'input' (1x3x512x512) and 'weight' (the fidelity).",
)
GFPGAN = WeightsSpec(
    label="GFPGAN face restorer",
    folders=("facerestore_models", "gfpgan"),
    files=("GFPGANv1.4.onnx", "GFPGANv1.3.onnx", "GFPGANv1.2.onnx", "gfpgan*.onnx", "GFPGAN*.onnx"),
    licence="Apache-2.0 (Tencent ARC)",
    notes="ONNX export with input 1x3x512x512 in -1..1.",
)
ALL = (SCRFD, ARCFACE, INSWAPPER, CODEFORMER, GFPGAN)
