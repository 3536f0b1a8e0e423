"""The background-matting networks removeBg can run, by the names rembg gives them: where each file
goes (models/rembg/), how the network wants its input, and its licence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imgopen.tools.weights import WeightsSpec
from imgopen.vision.saliency import IMAGENET_MEAN, IMAGENET_STD, SaliencyNet

FOLDER = "rembg"
_UNIT = (1.0, 1.0, 1.0)
_HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class MattingModel:
    net: SaliencyNet
    weights: WeightsSpec
    general: bool  # "auto" may pick it (specialised ones only run when named)


def _model(name: str, files: tuple[str, ...], net: SaliencyNet, licence: str, general: bool) -> MattingModel:
    return MattingModel(net, WeightsSpec(f"background matting model {name}", (FOLDER,), files, licence), general)


_U2NET = "Apache-2.0 (U²-Net, Qin et al.)"
_ISNET = "Apache-2.0 (DIS / ISNet, Qin et al.)"
_BIREFNET = "MIT (BiRefNet, Zheng et al.)"

# In the order "auto" prefers them: the most accurate general-purpose networks first.
MODELS: dict[str, MattingModel] = {
    m.net.name: m
    for m in (
        _model(
            "birefnet-general",
            ("birefnet-general.onnx", "BiRefNet-general-epoch_*.onnx"),
            SaliencyNet("birefnet-general", 1024, IMAGENET_MEAN, IMAGENET_STD, logits=True),
            _BIREFNET,
            True,
        ),
        _model(
            "birefnet-massive",
            ("birefnet-massive.onnx", "BiRefNet-massive-*.onnx"),
            SaliencyNet("birefnet-massive", 1024, IMAGENET_MEAN, IMAGENET_STD, logits=True),
            _BIREFNET,
            True,
        ),
        _model(
            "isnet-general-use",
            ("isnet-general-use.onnx",),
            SaliencyNet("isnet-general-use", 1024, _HALF, _UNIT),
            _ISNET,
            True,
        ),
        _model(
            "birefnet-general-lite",
            ("birefnet-general-lite.onnx", "BiRefNet-general-bb_swin_v1_tiny-epoch_*.onnx"),
            SaliencyNet("birefnet-general-lite", 1024, IMAGENET_MEAN, IMAGENET_STD, logits=True),
            _BIREFNET,
            True,
        ),
        _model("u2net", ("u2net.onnx",), SaliencyNet("u2net", 320, IMAGENET_MEAN, IMAGENET_STD), _U2NET, True),
        _model("silueta", ("silueta.onnx",), SaliencyNet("silueta", 320, IMAGENET_MEAN, IMAGENET_STD), _U2NET, True),
        _model("u2netp", ("u2netp.onnx",), SaliencyNet("u2netp", 320, IMAGENET_MEAN, IMAGENET_STD), _U2NET, True),
        _model(
            "u2net_human_seg",
            ("u2net_human_seg.onnx",),
            SaliencyNet("u2net_human_seg", 320, IMAGENET_MEAN, IMAGENET_STD),
            _U2NET,
            False,
        ),
        _model(
            "birefnet-portrait",
            ("birefnet-portrait.onnx", "BiRefNet-portrait-epoch_*.onnx"),
            SaliencyNet("birefnet-portrait", 1024, IMAGENET_MEAN, IMAGENET_STD, logits=True),
            _BIREFNET,
            False,
        ),
        _model(
            "isnet-anime",
            ("isnet-anime.onnx",),
            SaliencyNet("isnet-anime", 1024, IMAGENET_MEAN, _UNIT),
            "Apache-2.0 (anime-segmentation, SkyTNT)",
            False,
        ),
    )
}

MODEL_NAMES = tuple(MODELS)


def installed(models_dir: Path) -> list[tuple[MattingModel, Path]]:
    """Every matting model whose file is in the models folder, in "auto" order."""
    found = []
    for model in MODELS.values():
        path = model.weights.find(models_dir)
        if path is not None:
            found.append((model, path))
    return found


def missing_message(models_dir: Path) -> str:
    """What to install for objects other than people."""
    return (
        f"put a matting model into {models_dir / FOLDER}: u2net.onnx or u2netp.onnx ({_U2NET}), isnet-general-use.onnx "
        f"({_ISNET}) or birefnet-general.onnx ({_BIREFNET}), the files rembg downloads"
    )
