"""User-installed upscaler files: `.pth` / `.pt` / `.ckpt` / `.safetensors` weights of the networks in
architectures.py (recognised from their tensor names and shapes, never from the file name), and
ONNX exports. Pickles are read with `torch.load(weights_only=True)`, which refuses anything that
needs code to unpickle."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from imgopen.vision.upscale.architectures import RRDBNet, SRVGGNetCompact

_WRAPPERS = ("params_ema", "params", "state_dict", "model")


class UnsupportedUpscaler(ValueError):
    """The file holds no network imgopen can run (another architecture, or not a model at all)."""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        state: Any = load_file(str(path), device="cpu")
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # an unsafe or corrupt pickle: refused, never run
            raise UnsupportedUpscaler(f"cannot read {path.name} as plain weights: {exc}") from exc
    for key in _WRAPPERS:  # BasicSR keeps the EMA weights in "params_ema", the others in "params"
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsupportedUpscaler(f"{path.name} holds no state dict of tensors")
    return {k.removeprefix("module."): v.float() for k, v in state.items()}


def _renamed_old_esrgan(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original ESRGAN key names ("model.1.sub.0.RDB1.conv1.0.weight") -> the BasicSR ones."""
    tail = sorted({int(m[1]) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k)) and int(m[1]) >= 2})
    if len(tail) < 3:
        raise UnsupportedUpscaler("an ESRGAN layout without its upsampling layers")
    # After the body come the upsampling convolutions, then the last two: high-res and output.
    names = {n: f"conv_up{i + 1}" for i, n in enumerate(tail[:-2])} | {tail[-2]: "conv_hr", tail[-1]: "conv_last"}
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if m := re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)", key):
            renamed[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.\d+\.(weight|bias)", key):
            renamed[f"conv_body.{m[1]}"] = value
        elif m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key):
            renamed[f"{'conv_first' if m[1] == '0' else names[int(m[1])]}.{m[2]}"] = value
    return renamed


def _rrdbnet(state: dict[str, torch.Tensor]) -> RRDBNet:
    first, last = state["conv_first.weight"], state["conv_last.weight"]
    out_channels = int(last.shape[0])
    ratio = int(first.shape[1]) // out_channels
    unshuffle = {1: 1, 4: 2, 16: 4}.get(ratio)
    if unshuffle is None or ratio * out_channels != first.shape[1]:
        raise UnsupportedUpscaler(f"RRDBNet with {first.shape[1]} input channels")
    blocks = len({key.split(".")[1] for key in state if key.startswith("body.")})
    upsamples = sum(1 for key in state if re.fullmatch(r"conv_up\d+\.weight", key))
    return RRDBNet(
        in_channels=out_channels,
        out_channels=out_channels,
        features=int(first.shape[0]),
        blocks=blocks,
        growth=int(state["body.0.rdb1.conv1.weight"].shape[0]),
        upsamples=upsamples,
        unshuffle=unshuffle,
    )


def _srvgg(state: dict[str, torch.Tensor]) -> SRVGGNetCompact:
    indices = sorted({int(key.split(".")[1]) for key in state})
    layers: list[tuple[str, int, int]] = []
    for index in range(indices[-1] + 1):
        weight = state.get(f"body.{index}.weight")
        if weight is None:
            layers.append(("relu", 0, 0))
        elif weight.ndim == 4:
            layers.append(("conv", int(weight.shape[1]), int(weight.shape[0])))
        else:
            layers.append(("prelu", int(weight.shape[0]), 0))
    out = layers[-1][2]
    scale = round((out / 3) ** 0.5)
    if layers[-1][0] != "conv" or scale * scale * 3 != out:
        raise UnsupportedUpscaler(f"SRVGGNetCompact ending in {out} channels")
    return SRVGGNetCompact(layers, scale)


def build_network(state: dict[str, torch.Tensor]) -> tuple[RRDBNet | SRVGGNetCompact, str]:
    """The network the weights belong to, loaded (strict: every tensor must fit)."""
    network: RRDBNet | SRVGGNetCompact
    if "model.0.weight" in state and any(key.startswith("model.1.sub.") for key in state):
        state = _renamed_old_esrgan(state)
    if "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state:
        network, name = _rrdbnet(state), "RRDBNet"
    elif state and all(re.fullmatch(r"body\.\d+\.(weight|bias)", key) for key in state):
        network, name = _srvgg(state), "SRVGGNetCompact"
    elif any(key.startswith("layers.0.residual_group.") for key in state):
        raise UnsupportedUpscaler("SwinIR networks are not supported (RRDBNet, SRVGGNetCompact and ONNX are)")
    else:
        raise UnsupportedUpscaler("not an upscaler layout imgopen knows (RRDBNet, SRVGGNetCompact)")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UnsupportedUpscaler(f"{name} weights that do not fit the architecture: {exc}") from exc
    return network.eval(), name


@dataclass(frozen=True)
class LoadedUpscaler:
    """A network ready for tiles: CHW floats in [0, 1] in, CHW floats out."""

    run: Any  # TileNetwork
    scale: int
    architecture: str
    tile: int
    pad: int


class TorchNetwork:
    def __init__(self, network: RRDBNet | SRVGGNetCompact) -> None:
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._network = network.to(self._device)
        self._multiple = network.multiple
        self._lock = threading.Lock()

    def __call__(self, chw: NDArray[np.float32]) -> NDArray[np.float32]:
        height, width = chw.shape[1:]
        # Pixel-unshuffled variants need sides divisible by their factor: reflect-pad, then crop.
        extra_h, extra_w = -height % self._multiple, -width % self._multiple
        tensor = torch.from_numpy(np.ascontiguousarray(chw))[None].to(self._device)
        if extra_h or extra_w:
            tensor = torch.nn.functional.pad(tensor, (0, extra_w, 0, extra_h), mode="reflect")
        with self._lock, torch.inference_mode():
            out = self._network(tensor)[0]
        scale = out.shape[1] // tensor.shape[2]
        result: NDArray[np.float32] = out[:, : height * scale, : width * scale].float().cpu().numpy()
        return result


def load_torch(path: Path) -> LoadedUpscaler:
    network, architecture = build_network(read_state_dict(path))
    scale = network.scale
    if scale < 1 or scale != int(scale):
        raise UnsupportedUpscaler(f"{architecture} with scale {scale}")
    # Context covers SRVGG's whole receptive field (one pixel per 3x3 convolution); RRDBNet's is
    # far larger, and 16 pixels keep its seams under one grey level (as Real-ESRGAN's tiling).
    convs = sum(1 for m in network.modules() if isinstance(m, torch.nn.Conv2d))
    pad = convs + 4 if architecture == "SRVGGNetCompact" else 16
    tile = 256 if architecture == "SRVGGNetCompact" else 192
    return LoadedUpscaler(TorchNetwork(network), int(scale), architecture, tile, pad)


class OnnxNetwork:
    """An ONNX export taking NCHW RGB floats in [0, 1]. The scale and the output range ([0, 1] or
    [0, 255], both exist in the wild) are measured once on a mid-grey probe; a fixed input size
    is met by padding each tile up to it."""

    def __init__(self, session: Any) -> None:
        self._session = session
        first = session.get_inputs()[0]
        self._input = first.name
        self._dtype = np.float16 if "float16" in first.type else np.float32
        dims = list(first.shape)[-2:]
        self.fixed: int | None = None
        if len(dims) == 2 and all(isinstance(d, int) and d > 0 for d in dims):
            if dims[0] != dims[1]:
                raise UnsupportedUpscaler(f"an ONNX upscaler with a fixed non-square input {dims}")
            self.fixed = int(dims[0])
        side = self.fixed or 32
        probe = self._raw(np.full((3, side, side), 0.5, np.float32))
        scale = probe.shape[-1] / side
        if probe.ndim != 3 or probe.shape[0] != 3 or scale < 1 or scale != int(scale):
            raise UnsupportedUpscaler(f"an ONNX model whose output {probe.shape} is no enlargement of {side}x{side}")
        self.scale = int(scale)
        self._divisor = np.float32(255.0 if float(probe.mean()) > 2.0 else 1.0)
        self._lock = threading.Lock()

    def _raw(self, chw: NDArray[np.float32]) -> NDArray[np.float32]:
        out = self._session.run(None, {self._input: chw[None].astype(self._dtype)})[0]
        result: NDArray[np.float32] = np.asarray(out, np.float32)[0]
        return result

    def __call__(self, chw: NDArray[np.float32]) -> NDArray[np.float32]:
        height, width = chw.shape[1:]
        if self.fixed is not None:
            chw = np.pad(chw, ((0, 0), (0, self.fixed - height), (0, self.fixed - width)), mode="edge")
        with self._lock:
            out = self._raw(chw) / self._divisor
        return out[:, : height * self.scale, : width * self.scale]


def load_onnx(session: Any) -> LoadedUpscaler:
    network = OnnxNetwork(session)
    pad = 16
    tile = network.fixed - 2 * pad if network.fixed else 256
    if tile < 16:
        raise UnsupportedUpscaler(f"an ONNX upscaler with a fixed input of {network.fixed} px is too small to tile")
    return LoadedUpscaler(network, network.scale, "ONNX", tile, pad)
