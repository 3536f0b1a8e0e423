"""What InstantID needs besides an SDXL checkpoint, where each file goes, and under what licence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imgopen.tools.weights import WeightsSpec

_INSTANTID = (
    "Apache-2.0 (InstantX/InstantID weights); they were trained on insightface antelopev2 embeddings, whose "
    "licence allows non-commercial research only"
)
_INSIGHTFACE = "insightface model zoo: non-commercial research use only"

CONTROLNET = WeightsSpec(
    "InstantID IdentityNet (an SDXL ControlNet, diffusers folder with config.json)",
    ("instantid",),
    ("ControlNetModel",),
    _INSTANTID,
)
IP_ADAPTER = WeightsSpec(
    "InstantID IP-Adapter", ("instantid",), ("ip-adapter.bin", "ip-adapter.safetensors"), _INSTANTID
)
DETECTOR = WeightsSpec(
    "antelopev2 face detector (SCRFD-10G with keypoints)",
    ("insightface/antelopev2", "insightface/models/antelopev2"),
    ("scrfd_10g_bnkps.onnx",),
    _INSIGHTFACE,
)
RECOGNISER = WeightsSpec(
    "antelopev2 face recogniser (ArcFace glintr100)",
    ("insightface/antelopev2", "insightface/models/antelopev2"),
    ("glintr100.onnx",),
    _INSIGHTFACE,
)
SPECS = (CONTROLNET, IP_ADAPTER, DETECTOR, RECOGNISER)


@dataclass(frozen=True)
class InstantIdFiles:
    controlnet: Path
    ip_adapter: Path
    detector: Path
    recogniser: Path


def _usable(spec: WeightsSpec, path: Path | None) -> bool:
    if path is None:
        return False
    # The ControlNet is a folder: without its config diffusers cannot build it.
    return (path / "config.json").is_file() if spec is CONTROLNET else path.is_file()


def missing(models_dir: Path) -> list[str]:
    """One line per file that is not installed: what, which name, which folder, which licence."""
    lines = []
    for spec in SPECS:
        if not _usable(spec, spec.find(models_dir)):
            lines.append(spec.missing_message(models_dir))
    return lines


def find_all(models_dir: Path) -> InstantIdFiles | None:
    paths = [spec.find(models_dir) for spec in SPECS]
    if not all(_usable(spec, path) for spec, path in zip(SPECS, paths, strict=True)):
        return None
    controlnet, ip_adapter, detector, recogniser = paths
    assert controlnet and ip_adapter and detector and recogniser
    return InstantIdFiles(controlnet, ip_adapter, detector, recogniser)
