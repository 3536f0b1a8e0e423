"""Tiny stand-ins for InstantID's weights, with the real files' names, layouts and interfaces:
IdentityNet (an SDXL ControlNet made from the tiny SDXL UNet), ip-adapter.bin (a Resampler and
per-layer key/value projections in InstantID's own key layout), and antelopev2's SCRFD detector and
ArcFace recogniser as ONNX graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

DETECT_SIDE = 640
STRIDES = (8, 16, 32)
# The one face the tiny detector reports, in detector-input (640 x 640) pixels: an anchor at
# stride 16, cell (18, 10), whose box and keypoints are given as distances from its centre.
FACE_STRIDE, FACE_CELL = 16, (18, 10)
FACE_BOX_640 = (222.0, 102.0, 342.0, 222.0)
FACE_POINTS_640 = ((258.0, 148.0), (318.0, 148.0), (288.0, 180.0), (264.0, 205.0), (312.0, 205.0))


def _anchor_count(stride: int) -> int:
    return (DETECT_SIDE // stride) ** 2 * 2


def write_scrfd(path: Path) -> Path:
    """SCRFD's interface: input.1 (1x3x640x640, (pixel - 127.5) / 128) -> nine outputs (scores,
    box distances, keypoint offsets for strides 8, 16, 32; batch axis kept). Its single face
    scores sigmoid(20 * (0.5 - mean of the input)): high for a photograph normalised as SCRFD
    expects (mean near 0), low for a white page (mean near 1) or unnormalised pixels."""
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),
        helper.make_node("Sub", ["half", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["face_score"]),
    ]
    initializers = [
        numpy_helper.from_array(np.asarray(0.5, np.float32), "half"),
        numpy_helper.from_array(np.asarray(20.0, np.float32), "gain"),
    ]
    centre = np.asarray([FACE_CELL[0] * FACE_STRIDE, FACE_CELL[1] * FACE_STRIDE], np.float32)
    anchor = (FACE_CELL[1] * (DETECT_SIDE // FACE_STRIDE) + FACE_CELL[0]) * 2
    box = np.asarray(FACE_BOX_640, np.float32)
    distances = np.asarray([centre[0] - box[0], centre[1] - box[1], box[2] - centre[0], box[3] - centre[1]])
    offsets = (np.asarray(FACE_POINTS_640, np.float32) - centre).reshape(-1)
    outputs, kinds = [], ("score", "bbox", "kps")
    for kind, width in zip(kinds, (1, 4, 10), strict=True):
        for stride in STRIDES:
            count = _anchor_count(stride)
            values = np.zeros((1, count, width), np.float32)
            name = f"{kind}_{stride}"
            if stride == FACE_STRIDE:
                if kind == "score":
                    values[0, anchor, 0] = 1.0
                elif kind == "bbox":
                    values[0, anchor] = distances / stride
                else:
                    values[0, anchor] = offsets / stride
            initializers.append(numpy_helper.from_array(values, f"{name}_const"))
            if kind == "score":
                nodes.append(helper.make_node("Mul", [f"{name}_const", "face_score"], [name]))
            else:
                nodes.append(helper.make_node("Identity", [f"{name}_const"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, count, width]))
    graph = helper.make_graph(
        nodes,
        "tiny_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, DETECT_SIDE, DETECT_SIDE])],
        outputs,
        initializers,
    )
    return _save(graph, path)


def write_arcface(path: Path, seed: int = 0) -> Path:
    """ArcFace's interface: input.1 (1x3x112x112) -> a 512-number embedding; random weights."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("Conv", ["input.1", "conv_w"], ["features"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Flatten", ["features"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w"], ["683"], transB=1),
    ]
    initializers = [
        numpy_helper.from_array(rng.normal(0, 0.1, (4, 3, 8, 8)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.normal(0, 0.05, (512, 4 * 14 * 14)).astype(np.float32), "fc_w"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])],
        initializers,
    )
    return _save(graph, path)


def _save(graph: Any, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def write_identity_net(unet: Any, folder: Path, seed: int = 0) -> Path:
    """IdentityNet's shape: an SDXL ControlNet derived from the UNet, its zero-initialised output
    convolutions given random weights so it steers the image."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    # The tiny VAE scales by 2, so the control image's embedding must downsample by 2 too.
    model = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(
                ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")
            ):
                parameter.copy_(torch.randn_like(parameter) * 0.2)
    model.save_pretrained(folder)
    return folder


def write_ip_adapter(unet: Any, path: Path, seed: int = 0, width: int = 64, depth: int = 4) -> Path:
    """ip-adapter.bin as InstantID saves it: "image_proj" (a Resampler: 16 latent queries, a
    512-number face embedding in, the UNet's context width out; PerceiverAttention + FeedForward
    per layer) and "ip_adapter" (to_k_ip / to_v_ip of every cross-attention layer, numbered by its
    place among all of the UNet's attention processors)."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 0.05) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * scale

    context = int(unet.config.cross_attention_dim)
    proj: dict[str, torch.Tensor] = {
        "latents": rand(1, 16, width, scale=width**-0.5),
        "proj_in.weight": rand(width, 512),
        "proj_in.bias": torch.zeros(width),
        "proj_out.weight": rand(context, width),
        "proj_out.bias": torch.zeros(context),
        "norm_out.weight": torch.ones(context),
        "norm_out.bias": torch.zeros(context),
    }
    for layer in range(depth):
        base = f"layers.{layer}"
        for norm in ("0.norm1", "0.norm2", "1.0"):
            proj[f"{base}.{norm}.weight"] = torch.ones(width)
            proj[f"{base}.{norm}.bias"] = torch.zeros(width)
        proj[f"{base}.0.to_q.weight"] = rand(width, width)
        proj[f"{base}.0.to_kv.weight"] = rand(2 * width, width)
        proj[f"{base}.0.to_out.weight"] = rand(width, width)
        proj[f"{base}.1.1.weight"] = rand(4 * width, width)
        proj[f"{base}.1.3.weight"] = rand(width, 4 * width)
    adapter: dict[str, torch.Tensor] = {}
    for index, name in enumerate(unet.attn_processors):
        if not name.endswith("attn2.processor"):
            continue
        hidden = int(unet.get_submodule(name.removesuffix(".processor")).to_k.weight.shape[0])
        adapter[f"{index}.to_k_ip.weight"] = rand(hidden, context, scale=0.3)
        adapter[f"{index}.to_v_ip.weight"] = rand(hidden, context, scale=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"image_proj": proj, "ip_adapter": adapter}, str(path))
    return path


def write_instantid_folder(models_dir: Path, sdxl_folder: Path) -> None:
    """instantid/ and insightface/antelopev2/ under models_dir, built for the SDXL checkpoint."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(sdxl_folder / "unet"))
    write_identity_net(unet, models_dir / "instantid" / "ControlNetModel")
    write_ip_adapter(unet, models_dir / "instantid" / "ip-adapter.bin")
    write_scrfd(models_dir / "insightface" / "antelopev2" / "scrfd_10g_bnkps.onnx")
    write_arcface(models_dir / "insightface" / "antelopev2" / "glintr100.onnx")
